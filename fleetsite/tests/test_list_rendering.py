"""The pieces that keep long lists cheap: database-side timestamps, orjson, table HTML, `ago`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
import pytest
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy

from fleetsite.api.renderers import ORJSONRenderer
from fleetsite.lib.sqltime import RFC3339
from fleetsite.templatetags.fleetsite_ui import ago, when_html, when_html_from_text
from fleetsite.ui import Column, Table
from hosts.api.serializers import rfc3339
from hosts.models import Host


@pytest.mark.django_db
@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 23, 10, 4, 5, tzinfo=UTC),
        datetime(2026, 11, 23, 10, 4, 5, 120034, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC),
        datetime(1970, 1, 2, tzinfo=UTC),
    ],
)
def test_database_formats_timestamps_as_python_does(when: datetime) -> None:
    host = Host.objects.create(osquery_host_id="h", created_at=when, last_restarted_at=None)
    row = Host.objects.filter(pk=host.pk).values(created=RFC3339("created_at"), restarted=RFC3339("last_restarted_at"))
    assert row.get() == {"created": rfc3339(when), "restarted": None}


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 23, 10, 4, 5, tzinfo=UTC),
        datetime(2026, 11, 23, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC),
        datetime(1970, 1, 2, tzinfo=UTC),
    ],
)
def test_a_time_cut_from_the_databases_text_is_written_as_from_the_datetime(when: datetime) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert when_html_from_text(when, rfc3339(when), now) == when_html(when, now)


def test_renderer_writes_compact_utf8_json_with_z_times_and_drf_fallbacks() -> None:
    when = datetime(2026, 11, 23, 10, 4, 5, tzinfo=UTC)
    body = ORJSONRenderer().render({"at": when, "n": Decimal("1.5"), "lazy": gettext_lazy("Not found"), "é": "ü"})
    assert body == '{"at":"2026-11-23T10:04:05Z","n":1.5,"lazy":"Not found","é":"ü"}'.encode()
    assert ORJSONRenderer().render(None) == b""
    assert orjson.loads(ORJSONRenderer().render({"ids": {1, 2}}))["ids"] in ([1, 2], [2, 1])


def test_table_body_escapes_text_and_keeps_safe_html() -> None:
    table = Table(
        columns=[Column("Name", lambda row: row["name"]), Column("Badge", lambda row: SafeString("<b>ok</b>"))],
        rows=[{"id": 7, "name": "<script>x</script>"}],
        selectable=True,
        row_id=lambda row: row["id"],
    )
    html = table.body()
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    assert "<td><b>ok</b></td>" in html and 'value="7"' in html


def test_empty_table_body_says_so_across_every_column() -> None:
    table = Table(columns=[Column("A", str), Column("B", str)], rows=[], empty="No <hosts>")
    assert table.body() == '<tr><td class="empty" colspan="3">No &lt;hosts&gt;</td></tr>'


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(seconds=30), "just now"),
        (timedelta(seconds=90), "1\N{NO-BREAK SPACE}minute ago"),
        (timedelta(hours=2, minutes=59), "2\N{NO-BREAK SPACE}hours ago"),
        (timedelta(days=3), "3\N{NO-BREAK SPACE}days ago"),
        (timedelta(days=15), "2\N{NO-BREAK SPACE}weeks ago"),
        (timedelta(days=400), "1\N{NO-BREAK SPACE}year ago"),
    ],
)
def test_ago_names_the_largest_whole_unit(age: timedelta, text: str) -> None:
    assert ago(timezone.now() - age) == text


def test_ago_says_never_for_the_1970_placeholder_and_none() -> None:
    assert ago(datetime(1970, 1, 1, tzinfo=UTC)) == "never"
    assert ago(None) == "never"


@pytest.mark.parametrize("value", ["a", "", None, "missing"])
def test_quick_select_writes_the_same_html_as_djangos_select(value: str | None) -> None:
    from django import forms

    from fleetsite.widgets import QuickSelect

    choices = [("", "Any"), ("a", "A & <b>"), ("2", "Two")]

    class Plain(forms.Form):
        pick = forms.ChoiceField(required=False, choices=choices, label="Pick")

    class Quick(forms.Form):
        pick = forms.ChoiceField(required=False, choices=choices, label="Pick", widget=QuickSelect)

    data = {} if value is None else {"pick": value}
    django_html = re.sub(r">\s+<", "><", str(Plain(data)["pick"]))
    assert str(Quick(data)["pick"]) == django_html


@pytest.mark.django_db
def test_one_by_value_builds_instances_like_the_orm(django_assert_num_queries: object) -> None:
    from accounts.models import Team
    from fleetsite.lib.prepared import OneByValue

    lookup = OneByValue(lambda value: Host.objects.select_related("team").filter(uuid=value).only("id", "team__name"))
    team = Team.objects.create(name="Team A")
    Host.objects.create(osquery_host_id="a", uuid="U-1", team=team, hostname="a")
    Host.objects.create(osquery_host_id="b", uuid="U-2", hostname="b")
    with django_assert_num_queries(2):  # type: ignore[operator]
        in_team, alone = lookup.get("U-1"), lookup.get("U-2")
        assert (in_team.team.name, alone.team) == ("Team A", None)
    assert in_team.get_deferred_fields() >= {"hostname"} and lookup.get("nope") is None
    with pytest.raises(ValueError):
        OneByValue(lambda value: Host.objects.filter(uuid=value, hostname="x")).get("U-1")

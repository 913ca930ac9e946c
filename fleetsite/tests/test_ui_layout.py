"""The admin UI's layout and access rules (issue 17, item 8): landmarks and a skip link, a label for
every form field, one timestamp format, human role names, long names that cannot widen a page, and
colours with WCAG 2.2 AA contrast."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import Team, TeamMembership, User

PAGES = ["/", "/hosts/", "/queries/", "/queries/live/", "/labels/", "/policies/", "/software/", "/activity/",
         "/settings/", "/settings/agent-options/", "/settings/secrets/", "/teams/", "/users/", "/account/",
         "/hosts/add/", "/packages/", "/queries/new/", "/labels/new/", "/policies/new/", "/users/new/",
         "/users/invite/", "/teams/new/", "/host/", "/team/", "/vulnerabilities/", "/os-versions/",
         "/software/versions/"]  # fmt: skip
LONG_NAME = "a-very-long-host-name-without-any-spaces-" * 4


class _Fields(HTMLParser):
    """Form fields and how each is named for a screen reader; landmarks; <time> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0
        self.tags: list[str] = []
        self.times: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "label":
            self.open_labels += 1
            if attributes.get("for"):
                self.label_for.add(attributes["for"] or "")
        elif tag == "time":
            self.times.append(attributes)
        elif tag in ("input", "select", "textarea"):
            if attributes.get("type") in ("hidden", "submit", "button"):
                return
            self.fields.append({**attributes, "_tag": tag, "_in_label": "1" if self.open_labels else None})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1

    def unlabelled(self) -> list[str]:
        return [
            f"<{field['_tag']} name={field.get('name')}>"
            for field in self.fields
            if not (
                field["_in_label"]
                or field.get("aria-label")
                or field.get("aria-labelledby")
                or field.get("title")
                or (field.get("id") and field["id"] in self.label_for)
            )
        ]


def _parse(html: str) -> _Fields:
    parser = _Fields()
    parser.feed(html)
    return parser


@pytest.fixture
def crowded(admin: User, team: Team) -> User:
    """A fleet with a long host name, a person with the Observer+ role and a little of everything."""
    from activities.record import record
    from enrollment.models import EnrollSecret
    from hosts.models import Host

    Host.objects.create(osquery_host_id="long", hostname=LONG_NAME, team=team, seen_time=timezone.now())
    plus = User.objects.create_user("plus@example.com", "x" * 12, name="Pat Plus", global_role="observer_plus")
    TeamMembership.objects.create(user=User.objects.create_user("tm@example.com", "x" * 12), team=team,
                                  role="observer_plus")  # fmt: skip
    EnrollSecret.objects.create(secret="layout-secret")
    record(admin, "changed_user_global_role", {"user_email": plus.email, "role": "observer_plus"})
    return admin


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_landmarks_a_skip_link_and_labelled_fields(crowded: User, path: str) -> None:
    from hosts.models import Host

    client = Client()
    client.force_login(crowded)
    path = {"/host/": f"/hosts/{Host.objects.get(osquery_host_id='long').pk}/",
            "/team/": f"/teams/{Team.objects.get().pk}/"}.get(path, path)  # fmt: skip
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.content.decode()
    body = html.split("<body", 1)[1]
    # The skip link is the first thing a keyboard reaches and points at <main id="main">.
    assert re.search(r'^[^>]*>\s*<a class="skiplink" href="#main">Skip to main content</a>', body)
    parsed = _parse(html)
    assert {"header", "nav", "main"} <= set(parsed.tags), path
    assert '<main id="main"' in html
    assert not parsed.unlabelled(), (path, parsed.unlabelled())


@pytest.mark.parametrize("path", ["/login/", "/password/reset/"])
def test_pages_without_a_login_have_landmarks_and_labels(db: None, path: str) -> None:
    html = Client().get(path).content.decode()
    parsed = _parse(html)
    assert "main" in parsed.tags and 'href="#main">Skip to main content' in html
    assert parsed.fields and not parsed.unlabelled(), (path, parsed.unlabelled())


@pytest.mark.parametrize("path", ["/users/", "/teams/", "/activity/", "/account/", "/"])
def test_roles_are_shown_by_their_names(crowded: User, team: Team, path: str) -> None:
    client = Client()
    client.force_login(crowded)
    for page in (path, f"/teams/{team.pk}/"):
        html = client.get(page).content.decode()
        text = re.sub(r"<[^>]+>", " ", html.split("<main", 1)[1])  # what people read, not attribute values
        assert "observer_plus" not in text, page


def test_timestamps_are_relative_with_the_exact_time_in_a_time_element(crowded: User) -> None:
    from hosts.models import Host

    client = Client()
    client.force_login(crowded)
    host = Host.objects.get(osquery_host_id="long")
    for path in ("/hosts/", f"/hosts/{host.pk}/", "/activity/", "/settings/secrets/"):
        times = _parse(client.get(path).content.decode()).times
        assert times, path
        for element in times:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", element["datetime"] or ""), (path, element)
            assert (element.get("title") or "").endswith("UTC"), (path, element)


def test_the_when_filter(settings: object) -> None:
    from datetime import UTC, datetime, timedelta

    from fleetsite.templatetags.fleetsite_ui import ago, when

    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert when(now - timedelta(hours=3), now) == (
        '<time datetime="2026-01-02T00:04:05Z" title="2026-01-02 00:04:05 UTC">3\N{NO-BREAK SPACE}hours ago</time>'
    )
    assert ago(now + timedelta(days=5, minutes=1), now) == "in 5\N{NO-BREAK SPACE}days"
    assert when(None) == "never" and when(datetime(1970, 1, 1, tzinfo=UTC)) == "never"


def test_a_long_host_name_is_truncated_with_the_whole_name_in_a_tooltip(crowded: User) -> None:
    client = Client()
    client.force_login(crowded)
    html = client.get("/hosts/").content.decode()
    assert 'class="cell-name truncate" href="/hosts/' in html and f'title="{LONG_NAME}">{LONG_NAME}</a>' in html


def _luminance(colour: str) -> float:
    if len(colour) == 4:  # #fff
        colour = "#" + "".join(c * 2 for c in colour[1:])
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(one: str, two: str) -> float:
    high, low = sorted((_luminance(one), _luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_links_badges_and_buttons_meet_wcag_aa_contrast() -> None:
    css = (Path(settings.BASE_DIR) / "static" / "fleetsite.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+): (#[0-9a-f]{6}|#[0-9a-f]{3})\b", css))
    page, card = colours["bg"], colours["card"]
    pairs = {
        "link on page": (colours["accent"], page),
        "link on card": (colours["accent"], card),
        "button text": ("#ffffff", colours["accent"]),
        "muted on page": (colours["muted"], page),
        "danger button": ("#ffffff", colours["bad"]),
        "skip link": (colours["accent-dark"], card),
    }
    # Each badge's colours, read from its rule.
    badge_rules = r"(\.badge[^{]*)\{ background: (#[0-9a-f]{6}); color: var\(--([a-z]+)\)"
    for rule, background, text in re.findall(badge_rules, css):
        pairs[rule.strip()] = (colours[text], background)
    assert len(pairs) > 8
    low = {name: round(_contrast(*pair), 2) for name, pair in pairs.items() if _contrast(*pair) < 4.5}
    assert not low, low

"""Forms of the query and label pages. Validation is the REST API's (`saved.QuerySerializer`, `queries.labels`),
so a rule is written once; these forms only render fields and carry the errors back.
"""

from __future__ import annotations

from typing import Any

from django import forms

from accounts import permissions
from accounts.models import Team, User
from hosts.choices import LabelMembershipType, LabelType
from queries.choices import Logging
from queries.filtersets import PLATFORMS

PLATFORM_LABELS = {"darwin": "macOS", "windows": "Windows", "linux": "Linux", "chrome": "ChromeOS"}
INTERVALS = [
    (0, "Never (not scheduled)"), (300, "Every 5 minutes"), (900, "Every 15 minutes"), (3600, "Every hour"),
    (21600, "Every 6 hours"), (43200, "Every 12 hours"), (86400, "Every day"), (604800, "Every week"),
]  # fmt: skip
SQL_CHECK_ATTRS = {
    "class": "sql",
    "rows": 8,
    "spellcheck": "false",
    "hx-post": "/queries/check-sql/",
    "hx-trigger": "load, input changed delay:400ms",
    "hx-target": "next .sql-check",
    "hx-swap": "innerHTML",
}
SQL_CHECK_SLOT = '<span class="sql-check" aria-live="polite"></span>'


def writable_team_choices(user: User, kind: permissions.Kind) -> list[tuple[str, str]]:
    """Where `user` may create: "" for global when allowed, then their writable teams."""
    writable = permissions.writable_team_ids(user, kind)
    teams = Team.objects.order_by("name")
    if writable is not None:
        teams = teams.filter(pk__in=writable)
    choices = [("", "All teams (global)")] if writable is None else []
    return choices + [(str(pk), name) for pk, name in teams.values_list("pk", "name")]


class QueryFilterForm(forms.Form):
    """The filter bar of the queries list; names are the REST API's parameters."""

    query = forms.CharField(
        required=False, label="Search", widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name"})
    )
    team_id = forms.ChoiceField(required=False, label="Team")
    platform = forms.ChoiceField(required=False, choices=[("", "Any"), *((p, PLATFORM_LABELS[p]) for p in PLATFORMS)])

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = permissions.scope_to_teams(Team.objects.order_by("name"), user, "id").values_list("pk", "name")
        self.fields["team_id"].choices = [("", "Any"), ("0", "Global only")] + [(str(pk), n) for pk, n in teams]


class QueryForm(forms.Form):
    """A saved query and its schedule; `read_only` renders it for people who may only look."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    query = forms.CharField(
        label="SQL", widget=forms.Textarea(attrs=SQL_CHECK_ATTRS), strip=False, help_text=SQL_CHECK_SLOT
    )
    team_id = forms.ChoiceField(required=False, label="Team")
    interval = forms.TypedChoiceField(choices=INTERVALS, coerce=int, label="Run on hosts", initial=0)
    platform = forms.MultipleChoiceField(
        required=False,
        choices=[(p, PLATFORM_LABELS[p]) for p in PLATFORMS],
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every platform.",
    )
    min_osquery_version = forms.CharField(required=False, label="Minimum osquery version", max_length=64)
    logging = forms.ChoiceField(choices=Logging.choices, initial=Logging.SNAPSHOT)
    automations_enabled = forms.BooleanField(required=False, label="Send results to the log destinations")
    discard_data = forms.BooleanField(required=False, label="Discard data (keep no report)")
    observer_can_run = forms.BooleanField(required=False, label="Observers can run this as a live query")
    report_max_rows = forms.IntegerField(
        initial=1000, min_value=1, label="Report: keep at most this many rows", help_text="Per host while ingesting."
    )
    report_max_age_days = forms.IntegerField(
        required=False, min_value=1, label="Report: drop rows older than (days)", help_text="Empty: keep them."
    )

    def __init__(self, *args: Any, user: User, editing: bool, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team_id"].choices = writable_team_choices(user, permissions.Kind.QUERY)
        interval = self.initial.get("interval")
        if interval and interval not in dict(INTERVALS):
            self.fields["interval"].choices = [*INTERVALS, (interval, f"Every {interval} seconds")]
        if editing:
            del self.fields["team_id"]  # a query stays in its team
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def payload(self) -> dict[str, Any]:
        """The cleaned form as the REST payload, for `saved.QuerySerializer`."""
        data = dict(self.cleaned_data)
        data["platform"] = ",".join(data.get("platform") or [])
        data["min_osquery_version"] = data.get("min_osquery_version") or ""
        if "team_id" in data:
            data["team_id"] = int(data["team_id"]) if data["team_id"] else None
        return data


class ReportFilterForm(forms.Form):
    host_id = forms.ChoiceField(required=False, label="Host")

    def __init__(self, *args: Any, hosts: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["host_id"].choices = [("", "All hosts")] + [(str(pk), name) for pk, name in hosts]


class LabelFilterForm(forms.Form):
    query = forms.CharField(
        required=False, label="Search", widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name"})
    )
    label_type = forms.ChoiceField(required=False, label="Type", choices=[("", "Any"), *LabelType.choices])
    label_membership_type = forms.ChoiceField(
        required=False, label="Membership", choices=[("", "Any"), *LabelMembershipType.choices]
    )


class LabelForm(forms.Form):
    """A label: dynamic (a query the hosts run) or manual (hosts named one per line)."""

    name = forms.CharField(max_length=255)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    label_membership_type = forms.ChoiceField(
        choices=LabelMembershipType.choices, initial=LabelMembershipType.DYNAMIC, label="Membership"
    )
    query = forms.CharField(
        required=False,
        label="SQL (dynamic labels)",
        widget=forms.Textarea(attrs=SQL_CHECK_ATTRS),
        strip=False,
        help_text="A host is a member while this returns rows. Fixed once the label exists. " + SQL_CHECK_SLOT,
    )
    platform = forms.ChoiceField(
        required=False, choices=[("", "All platforms"), *((p, PLATFORM_LABELS[p]) for p in PLATFORMS)]
    )
    hosts = forms.CharField(
        required=False,
        label="Hosts (manual labels)",
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text="One host per line: hostname, display name, serial number, UUID or osquery host ID. "
        "A name shared by several hosts is refused: use the serial number or UUID.",
    )

    def __init__(self, *args: Any, editing: bool, manual: bool = False, read_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            for name in ("label_membership_type", "query", "platform"):
                self.fields[name].disabled = True
            if not manual:
                del self.fields["hosts"]
        if read_only:
            for field in self.fields.values():
                field.disabled = True

    def host_identifiers(self) -> list[str]:
        return [line.strip() for line in (self.cleaned_data.get("hosts") or "").splitlines() if line.strip()]

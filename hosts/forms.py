"""Forms of the host pages: the list filter (rendering only; HostFilterSet does the filtering) and bulk actions."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts import permissions
from accounts.models import User
from accounts.teamnames import team_names
from fleetsite.widgets import QuickInput, QuickSelect
from hosts.choices import HostStatus
from hosts.labels import label_names

PLATFORMS = [("", "Any"), ("darwin", "macOS"), ("windows", "Windows"), ("linux", "Linux"), ("chrome", "ChromeOS")]
PER_PAGE = [("50", "50"), ("100", "100"), ("250", "250"), ("500", "500")]


def team_choices(user: User, include_any: bool = True) -> list[tuple[str, str]]:
    visible = permissions.visible_team_ids(user)
    choices = [("", "Any")] if include_any else []
    if visible is None:
        choices.append(("0", "No team"))
    return choices + [(str(pk), name) for pk, name in team_names() if visible is None or pk in visible]


class HostFilterForm(forms.Form):
    """The filter bar above the hosts list; its names are the REST API's parameters."""

    query = forms.CharField(
        required=False,
        label="Search",
        widget=QuickInput(attrs={"type": "search", "placeholder": "Hostname, UUID, serial or IP"}),
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any")] + [c for c in HostStatus.choices if c[0] != "mia"], widget=QuickSelect
    )
    team_id = forms.ChoiceField(required=False, label="Team", widget=QuickSelect)
    platform = forms.ChoiceField(required=False, choices=PLATFORMS, widget=QuickSelect)
    label_id = forms.ChoiceField(required=False, label="Label", widget=QuickSelect)
    policy_id = forms.ChoiceField(required=False, label="Policy", widget=QuickSelect)
    policy_response = forms.ChoiceField(
        required=False,
        label="Policy result",
        choices=[("", "Any"), ("passing", "Passing"), ("failing", "Failing")],
        widget=QuickSelect,
    )
    per_page = forms.ChoiceField(required=False, choices=PER_PAGE, label="Per page", widget=QuickSelect)
    software_title_id = forms.IntegerField(required=False, widget=QuickInput(input_type="hidden"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from queries.policies import policy_names  # queries builds on hosts, not the reverse

        self.fields["team_id"].choices = team_choices(user)
        teams = permissions.visible_team_ids(user)
        self.fields["label_id"].choices = [("", "Any"), *_seen_by(teams, label_names())]
        self.fields["policy_id"].choices = [("", "Any"), *_seen_by(teams, policy_names())[:500]]


def _seen_by(teams: set[int] | None, named: list[tuple[int, int | None, str]]) -> list[tuple[str, str]]:
    """Menu choices of (id, team id, name) rows: global ones and those of `teams` (None: all)."""
    return [(str(pk), name) for pk, team_id, name in named if teams is None or team_id is None or team_id in teams]


class BulkForm(forms.Form):
    """What the bulk bar posts: an action, the ticked ids or "every host matching the filters"."""

    action = forms.ChoiceField(choices=[("transfer", "Transfer"), ("delete", "Delete")])
    team = forms.ChoiceField(required=False, widget=QuickSelect)
    ids = forms.CharField(required=False)  # many values; read with getlist in clean_ids
    all_matching = forms.BooleanField(required=False)
    filters = forms.CharField(required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = [("", "Choose a team")] + [
            ("none" if v == "0" else v, label) for v, label in team_choices(user, include_any=False)
        ]

    def clean_ids(self) -> list[int]:
        return [int(v) for v in self.data.getlist("ids") if str(v).isdigit()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("all_matching") and not data.get("ids"):
            raise forms.ValidationError("Select at least one host.")
        if data.get("action") == "transfer" and not data.get("team"):
            self.add_error("team", "Choose the team to move the hosts to.")
        return data

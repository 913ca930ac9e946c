"""Forms of the host pages: the list filter (rendering only; HostFilterSet does the filtering) and bulk actions."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts import permissions
from accounts.models import Team, User
from hosts.choices import HostStatus
from hosts.models import Label

PLATFORMS = [("", "Any"), ("darwin", "macOS"), ("windows", "Windows"), ("linux", "Linux"), ("chrome", "ChromeOS")]
PER_PAGE = [("50", "50"), ("100", "100"), ("250", "250"), ("500", "500")]


def team_choices(user: User, include_any: bool = True) -> list[tuple[str, str]]:
    teams = permissions.scope_to_teams(Team.objects.order_by("name"), user, "id").values_list("pk", "name")
    choices = [("", "Any")] if include_any else []
    if permissions.is_global(user):
        choices.append(("0", "No team"))
    return choices + [(str(pk), name) for pk, name in teams]


class HostFilterForm(forms.Form):
    """The filter bar above the hosts list; its names are the REST API's parameters."""

    query = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Hostname, UUID, serial or IP"}),
    )
    status = forms.ChoiceField(required=False, choices=[("", "Any")] + [c for c in HostStatus.choices if c[0] != "mia"])
    team_id = forms.ChoiceField(required=False, label="Team")
    platform = forms.ChoiceField(required=False, choices=PLATFORMS)
    label_id = forms.ChoiceField(required=False, label="Label")
    policy_id = forms.ChoiceField(required=False, label="Policy")
    policy_response = forms.ChoiceField(
        required=False, label="Policy result", choices=[("", "Any"), ("passing", "Passing"), ("failing", "Failing")]
    )
    per_page = forms.ChoiceField(required=False, choices=PER_PAGE, label="Per page")
    software_title_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from queries.models import Policy

        self.fields["team_id"].choices = team_choices(user)
        self.fields["label_id"].choices = [("", "Any")] + [
            (str(pk), name) for pk, name in Label.objects.order_by("label_type", "name").values_list("pk", "name")
        ]
        policies = Policy.objects.order_by("name")
        teams = permissions.visible_team_ids(user)
        if teams is not None:
            policies = policies.filter(team_id__in=teams) | Policy.objects.filter(team__isnull=True)
        self.fields["policy_id"].choices = [("", "Any")] + [
            (str(pk), name) for pk, name in policies.values_list("pk", "name")[:500]
        ]


class BulkForm(forms.Form):
    """What the bulk bar posts: an action, the ticked ids or "every host matching the filters"."""

    action = forms.ChoiceField(choices=[("transfer", "Transfer"), ("delete", "Delete")])
    team = forms.ChoiceField(required=False)
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

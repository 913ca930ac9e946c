"""Forms of the host pages: the list filter (rendering only; HostFilterSet does the filtering) and bulk actions."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.safestring import SafeString

from accounts import permissions
from accounts.models import User
from accounts.teamnames import team_names
from fleetsite.ui import html_text
from fleetsite.widgets import select_html
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


STATUSES = [("", "Any")] + [choice for choice in HostStatus.choices if choice[0] != "mia"]
POLICY_RESULTS = [("", "Any"), ("passing", "Passing"), ("failing", "Failing")]
SEARCH_PLACEHOLDER = "Hostname, UUID, serial or IP"
# Policies in the filter menu at most: past that, filter by policy from the policy's page.
POLICY_MENU_MAX = 500


def filter_bar(params: QueryDict, user: User) -> SafeString:
    """The fields of the filter bar above the hosts list; their names are the REST API's parameters.

    Written in Python rather than as a Django form: building and rendering a nine-field form cost
    0.9 ms, an eighth of the whole page at 100 hosts. Rendering only; HostFilterSet filters
    (and reports bad values), so a value not among the choices simply selects nothing. The
    HTML is what Django wrote for the form, less error references to messages the bar never showed.
    """
    from queries.policies import policy_names  # queries builds on hosts, not the reverse

    teams = permissions.visible_team_ids(user)
    menus = [
        ("status", "Status", STATUSES),
        ("team_id", "Team", team_choices(user)),
        ("platform", "Platform", PLATFORMS),
        ("label_id", "Label", [("", "Any"), *_seen_by(teams, label_names())]),
        ("policy_id", "Policy", [("", "Any"), *_seen_by(teams, policy_names())[:POLICY_MENU_MAX]]),
        ("policy_response", "Policy result", POLICY_RESULTS),
        ("per_page", "Per page", PER_PAGE),
    ]
    parts = [
        f'<label class="filter">Search <input type="search" name="query"{_value(params, "query")} '
        f'placeholder="{SEARCH_PLACEHOLDER}" id="id_query"></label>'
    ]
    for name, label, choices in menus:
        chosen = params.get(name, "")
        # A value the menu does not offer (a deleted label, a typo in the URL) is marked invalid.
        invalid = {"aria-invalid": "true"} if chosen and chosen not in {option for option, _ in choices} else {}
        # The default page size is marked so the address leaves it out (static/fleetsite.js).
        default = {"data-default": PER_PAGE[0][0]} if name == "per_page" else {}
        menu = select_html(name, choices, chosen, {**invalid, **default, "id": f"id_{name}"})
        parts.append(f'<label class="filter">{label} {menu}</label>')
    # The dashboard's "Low disk" link sets this: shown, so the filter it applies can be seen and cleared.
    parts.append(
        f'<label class="filter">Disk free below (GB) <input type="number" name="low_disk_space" min="1" max="100"'
        f'{_value(params, "low_disk_space")} id="id_low_disk_space"></label>'
    )
    parts.append(
        f'<input type="hidden" name="software_title_id"{_value(params, "software_title_id")} id="id_software_title_id">'
    )
    return SafeString("\n".join(parts))


def _value(params: QueryDict, name: str) -> str:
    """An input's `value` attribute for the parameter `name`, absent when it is empty (as Django writes it)."""
    text = params.get(name, "")
    return f' value="{html_text(text)}"' if text else ""


def bulk_team_choices(user: User) -> list[tuple[str, str]]:
    """The bulk bar's "Move to" menu: the teams the user sees, "none" for no team."""
    return [("", "Choose a team")] + [
        ("none" if value == "0" else value, label) for value, label in team_choices(user, include_any=False)
    ]


def bulk_team_menu(user: User) -> SafeString:
    return select_html("team", bulk_team_choices(user), "", {"id": "id_team"})


def _seen_by(teams: set[int] | None, named: list[tuple[int, int | None, str]]) -> list[tuple[str, str]]:
    """Menu choices of (id, team id, name) rows: global ones and those of `teams` (None: all)."""
    return [(str(pk), name) for pk, team_id, name in named if teams is None or team_id is None or team_id in teams]


class BulkForm(forms.Form):
    """What the bulk bar posts: an action, the ticked ids or "every host matching the filters"."""

    action = forms.ChoiceField(choices=[("transfer", "Transfer"), ("delete", "Delete")])
    team = forms.ChoiceField(required=False)
    ids = forms.CharField(required=False)  # many values; read with getlist in clean_ids
    all_matching = forms.BooleanField(required=False)
    filters = forms.CharField(required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].choices = bulk_team_choices(user)

    def clean_ids(self) -> list[int]:
        return [int(v) for v in self.data.getlist("ids") if str(v).isdigit()]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("all_matching") and not data.get("ids"):
            raise forms.ValidationError("Select at least one host.")
        if data.get("action") == "transfer" and not data.get("team"):
            self.add_error("team", "Choose the team to move the hosts to.")
        return data

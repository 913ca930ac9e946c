"""Forms of the account, user and team pages; the checks themselves live in `accounts.services`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from accounts import services
from accounts.choices import Role
from accounts.models import Team, User
from accounts.tokens import API_TOKEN_MAX_DAYS

ROLE_CHOICES = [("", "—")] + list(Role.choices)


class LoginForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class RolesForm(forms.Form):
    """A global role, or one role per team: one select per team, built from the teams that exist."""

    global_role = forms.ChoiceField(
        choices=[("", "No global role (team roles below)")] + list(Role.choices),
        required=False,
        help_text="Admin: everything. Maintainer: hosts, queries, secrets. Observer: read only. "
        "Observer+: read only, and may run any live query.",
    )

    def __init__(self, *args: Any, user: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = dict(user.memberships.values_list("team_id", "role")) if user else {}
        for team in Team.objects.order_by("name"):
            self.fields[f"team_{team.pk}"] = forms.ChoiceField(
                choices=ROLE_CHOICES,
                required=False,
                label=f"Role on team {team.name}",
                initial=current.get(team.pk, ""),
            )
        if user is not None:
            self.fields["global_role"].initial = user.global_role or ""

    def team_roles(self) -> list[services.TeamRole]:
        return [
            services.TeamRole(int(name.removeprefix("team_")), value)
            for name, value in self.cleaned_data.items()
            if name.startswith("team_") and value
        ]


class InviteForm(RolesForm):
    email = forms.EmailField()
    name = forms.CharField(max_length=255, required=False)
    field_order = ["email", "name", "global_role"]


class UserCreateForm(RolesForm):
    email = forms.EmailField()
    name = forms.CharField(max_length=255, required=False)
    password = forms.CharField(strip=False, widget=forms.PasswordInput, help_text="At least 12 characters.")
    api_only = forms.BooleanField(required=False, label="API-only user (cannot log in to the UI)")
    field_order = ["email", "name", "password", "api_only", "global_role"]


class UserEditForm(RolesForm):
    email = forms.EmailField()
    name = forms.CharField(max_length=255, required=False)
    api_only = forms.BooleanField(required=False, label="API-only user")
    is_active = forms.BooleanField(required=False, label="Active (may log in)")
    force_password_reset = forms.BooleanField(
        required=False,
        label="Require a new password",
        help_text="Ends the user's sessions; they must choose a new password when they next log in.",
    )
    field_order = ["email", "name", "api_only", "is_active", "force_password_reset", "global_role"]


class AcceptInviteForm(forms.Form):
    name = forms.CharField(max_length=255)
    password = forms.CharField(strip=False, widget=forms.PasswordInput, help_text="At least 12 characters.")
    password_confirmation = forms.CharField(strip=False, widget=forms.PasswordInput, label="Password again")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_confirmation"):
            self.add_error("password_confirmation", "The two passwords differ.")
        return data


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=255, required=False)


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=255, help_text="What the token is for, e.g. 'inventory sync script'.")
    role = forms.ChoiceField(
        choices=[("", "Same as mine")] + list(Role.choices),
        required=False,
        help_text="The token never has more than your own role.",
    )
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=API_TOKEN_MAX_DAYS, initial=90, label="Expires in (days)"
    )


class TeamForm(forms.Form):
    name = forms.CharField(max_length=255)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberForm(forms.Form):
    user = forms.ModelChoiceField(queryset=User.objects.none(), empty_label="Choose a user")
    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: Any, team: Team, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from accounts.services import member_candidates

        # Users with a global role already reach every team.
        no_global_role = Q(global_role__isnull=True) | Q(global_role="")
        self.fields["user"].queryset = (
            member_candidates(actor).filter(no_global_role).exclude(memberships__team=team).order_by("email")
        )


class SearchForm(forms.Form):
    query = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))

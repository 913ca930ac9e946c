"""The strongest role a request may act with: the navigation and token minting both ask it."""

from __future__ import annotations

from typing import Any

import pytest

from accounts import permissions
from accounts.choices import Role
from accounts.models import Team, TeamMembership, User

pytestmark = pytest.mark.django_db


def _fresh(user: User) -> User:
    """The user as a new request loads it: nothing cached on the object."""
    return User.objects.get(pk=user.pk)


def test_a_team_role_above_the_global_one_is_the_strongest(team: Team) -> None:
    user = User.objects.create_user("mixed@example.com", "x" * 12, global_role=Role.OBSERVER)
    TeamMembership.objects.create(user=user, team=team, role=Role.ADMIN)
    assert permissions.highest_role(_fresh(user)) == Role.ADMIN
    capped = _fresh(user)
    permissions.apply_token_role(capped, Role.MAINTAINER)
    assert permissions.highest_role(capped) == Role.MAINTAINER


def test_a_global_admin_behind_a_capped_token_is_only_as_strong_as_the_cap(admin: User, team: Team) -> None:
    TeamMembership.objects.create(user=admin, team=team, role=Role.ADMIN)
    capped = _fresh(admin)
    permissions.apply_token_role(capped, Role.OBSERVER)
    assert permissions.highest_role(capped) == Role.OBSERVER


def test_a_global_admin_is_known_without_reading_teams(admin: User, team: Team, django_assert_num_queries: Any) -> None:
    """Every page's navigation asks: a global admin's team memberships cannot rank higher."""
    TeamMembership.objects.create(user=admin, team=team, role=Role.OBSERVER)
    user = _fresh(admin)
    with django_assert_num_queries(0):
        assert permissions.highest_role(user) == Role.ADMIN

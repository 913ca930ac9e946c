"""`GET /activities`: the feed with filters, paging and CSV; team users see their teams only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Team, User
from activities.models import Activity, ImmutableActivity
from activities.record import record
from conftest import APIClient

pytestmark = pytest.mark.django_db
URL = "/api/latest/fleet/activities"


@pytest.fixture
def feed(admin: User, observer: User, team: Team, other_team: Team) -> None:
    record(admin, "created_team", {"team_id": team.pk, "team_name": team.name}, team=team)
    record(observer, "user_logged_in", {})
    record(admin, "edited_enroll_secrets", {"team_id": other_team.pk}, team=other_team)
    old = record(admin, "user_logged_in", {})
    Activity.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))


def test_activities_in_fleet_shape_newest_first(api: APIClient, feed: None) -> None:
    body = api.get(URL).json()
    assert len(body["activities"]) == 4 and body["meta"]["has_next_results"] is False
    first = body["activities"][0]
    assert set(first) >= {"id", "created_at", "actor_full_name", "actor_id", "actor_email", "type", "details"}
    assert first["type"] == "edited_enroll_secrets"


def test_filters_by_actor_type_and_time(api: APIClient, feed: None) -> None:
    assert {a["actor_email"] for a in api.get(URL, {"query": "observer"}).json()["activities"]} == {
        "observer@example.com"
    }
    assert len(api.get(URL, {"activity_type": "user_logged_in"}).json()["activities"]) == 2
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert len(api.get(URL, {"start_created_at": since}).json()["activities"]) == 3
    assert api.get(URL, {"start_created_at": "yesterday"}).status_code == 400
    assert len(api.get(URL, {"per_page": 1, "page": 1}).json()["activities"]) == 1


def test_csv_export(api: APIClient, feed: None) -> None:
    response = api.get(URL, {"format": "csv", "activity_type": "user_logged_in"})
    assert response["Content-Type"].startswith("text/csv")
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("id,created_at,type") and len(lines) == 3


def test_team_users_see_only_their_teams_entries(api_client_as: Callable, maintainer: User, feed: None) -> None:
    types = [a["type"] for a in api_client_as(maintainer).get(URL).json()["activities"]]
    assert types == ["created_team"]


def test_activities_cannot_be_edited_or_deleted(admin: User) -> None:
    activity = record(admin, "user_logged_in", {})
    activity.type = "other"
    with pytest.raises(ImmutableActivity):
        activity.save()
    with pytest.raises(ImmutableActivity):
        activity.delete()

"""Shared pytest fixtures: personas, API clients, enroll secrets and an agent request helper."""

from __future__ import annotations

import gzip as gzip_module
import os
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client, override_settings

from accounts.choices import Role
from accounts.models import Team, TeamMembership, User
from accounts.tokens import issue_session
from enrollment import secrets as enroll_secrets
from fleetsite.lib import memo
from hosts import checkin_cache, seen
from hosts import search as host_search
from queries import reports

pytest_plugins = [
    "enrollment.tests.fixtures",
    "fleetsite.tests.browser",
    "vulnerabilities.tests.fixtures",
    "webhooks.tests.fixtures",
]

PASSWORD = "correct horse battery staple 42"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache_prefix() -> Iterator[None]:
    """Parallel runs share one Redis: give each its own key prefix."""
    from django.conf import settings

    prefix = f"test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}-{os.getpid()}"
    caches = {name: {**config, "KEY_PREFIX": prefix} for name, config in settings.CACHES.items()}
    # Campaign ids repeat across the workers' databases, so their channel groups must not meet.
    layers = {
        name: {**config, "CONFIG": {**config.get("CONFIG", {}), "prefix": prefix}}
        if "redis" in config["BACKEND"].lower()  # the in-memory layer is per process already
        else config
        for name, config in settings.CHANNEL_LAYERS.items()
    }
    with override_settings(CACHES=caches, CHANNEL_LAYERS=layers):
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing_by_default() -> Iterator[None]:
    """MD5 hashing for the suite: PBKDF2's million rounds cost 0.3-1 s a user or login, minutes a run.

    Production keeps Django's default hashers (only the test process changes); a test that is
    about the hasher itself says `@pytest.mark.real_password_hashing`, and servers the end-to-end
    tests start hash as production does.
    """
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _real_password_hashing(request: pytest.FixtureRequest) -> Iterator[None]:
    if request.node.get_closest_marker("real_password_hashing") is None:
        yield
        return
    from django.conf import global_settings

    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        yield


def clear_cache() -> None:
    """Empty this run's cache keys only: django-redis's clear() flushes the whole Redis database."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _test_settings(settings: Any, tmp_path: Any) -> Iterator[None]:
    """Each test gets its own data directory, a clean cache, no login delay and manual seen flushes."""
    settings.DATA_DIR = tmp_path
    settings.FLEETSITE_SEEN_FLUSH_INTERVAL = 0
    settings.FLEETSITE_REPORT_FLUSH_INTERVAL = 0
    settings.FLEETSITE_HOST_COUNTS_SECONDS = 0
    settings.FLEETSITE_LOGIN_FAILURE_DELAY = 0
    clear_cache()
    memo.clear_local()
    checkin_cache.clear()
    host_search.forget_samples()
    seen.buffer.discard()
    reports.pending_rows.discard()
    yield
    seen.buffer.discard()
    reports.pending_rows.discard()
    memo.clear_local()
    clear_cache()


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks queued by the code under test run in the test, even on a CI leg with a Redis broker."""
    from fleetsite.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def team(db: None) -> Team:
    return Team.objects.create(name="Team A")


@pytest.fixture
def other_team(db: None) -> Team:
    return Team.objects.create(name="Team B")


def _user(email: str, global_role: str | None = None, team: Team | None = None, team_role: str = "") -> User:
    user = User.objects.create_user(email, PASSWORD, name=email.split("@")[0], global_role=global_role)
    if team is not None:
        TeamMembership.objects.create(user=user, team=team, role=team_role)
    return user


@pytest.fixture
def admin(db: None) -> User:
    return _user("admin@example.com", Role.ADMIN)


@pytest.fixture
def maintainer(team: Team) -> User:
    """A maintainer of team A only."""
    return _user("maintainer@example.com", team=team, team_role=Role.MAINTAINER)


@pytest.fixture
def observer(team: Team) -> User:
    """An observer of team A only."""
    return _user("observer@example.com", team=team, team_role=Role.OBSERVER)


@pytest.fixture
def outsider(other_team: Team) -> User:
    """An admin of team B, who must not see team A's objects."""
    return _user("outsider@example.com", team=other_team, team_role=Role.ADMIN)


def _buffered(response: Any) -> Any:
    """A streamed answer (the unpaged host list) read whole, so tests use .content and .json() alike."""
    if not getattr(response, "streaming", False) or response.get("Content-Type") != "application/json":
        return response
    buffered = HttpResponse(b"".join(response.streaming_content), status=response.status_code)
    for name, value in response.items():
        buffered[name] = value
    buffered.json = lambda: orjson.loads(buffered.content)
    buffered.was_streamed = True
    return buffered


class APIClient:
    """A Django test client speaking JSON with a bearer token."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        data = orjson.dumps(body) if body is not None else b""
        kwargs = {"content_type": "application/json"} if method != "get" else {}
        return getattr(self.client, method)(
            path, data=data if method != "get" else body, headers=self.headers, **kwargs, **extra
        )

    def get(self, path: str, params: dict | None = None) -> Any:
        return _buffered(self.client.get(path, params or {}, headers=self.headers))

    def post(self, path: str, body: Any = None) -> Any:
        return self._call("post", path, body)

    def patch(self, path: str, body: Any = None) -> Any:
        return self._call("patch", path, body)

    def delete(self, path: str, body: Any = None) -> Any:
        return self._call("delete", path, body)


@pytest.fixture
def api_client_as(db: None) -> Callable[[User | None], APIClient]:
    def make(user: User | None) -> APIClient:
        return APIClient(issue_session(user) if user is not None else None)

    return make


@pytest.fixture
def api(admin: User, api_client_as: Callable[[User | None], APIClient]) -> APIClient:
    """An API client logged in as the global admin."""
    return api_client_as(admin)


@pytest.fixture
def enroll_secret(db: None) -> str:
    return enroll_secrets.add(None).secret


@pytest.fixture
def team_secret(team: Team) -> str:
    return enroll_secrets.add(team).secret


class AgentClient:
    """Posts agent requests as osquery and orbit do: JSON bodies, optionally gzip-compressed."""

    def __init__(self) -> None:
        self.client = Client()

    def post(
        self,
        path: str,
        body: Any,
        gzip: bool = False,
        raw: bytes | None = None,
        environ: dict | None = None,
        **headers: str,
    ) -> Any:
        """POST `body` as JSON (or `raw` bytes); `environ` sets WSGI keys such as REMOTE_ADDR."""
        data = raw if raw is not None else orjson.dumps(body)
        if gzip:
            data = gzip_module.compress(data)
            headers["Content-Encoding"] = "gzip"
        return self.client.generic(
            "POST", path, data, content_type="application/json", headers=headers, **(environ or {})
        )

    def json(self, path: str, body: Any, expect: int = 200, **kwargs: Any) -> Any:
        response = self.post(path, body, **kwargs)
        assert response.status_code == expect, (response.status_code, response.content[:500])
        return orjson.loads(response.content) if response.content else None


@pytest.fixture
def agent(db: None) -> AgentClient:
    return AgentClient()


# --- More personas for the permission matrix (issue 4) ------------------------------------------


@pytest.fixture
def global_maintainer(db: None) -> User:
    return _user("gmaintainer@example.com", Role.MAINTAINER)


@pytest.fixture
def global_observer(db: None) -> User:
    return _user("gobserver@example.com", Role.OBSERVER)


@pytest.fixture
def observer_plus(db: None) -> User:
    """A global observer+ (may run live queries, changes nothing)."""
    return _user("gobserverplus@example.com", Role.OBSERVER_PLUS)


@pytest.fixture
def team_admin(team: Team) -> User:
    """An admin of team A only."""
    return _user("teamadmin@example.com", team=team, team_role=Role.ADMIN)


@pytest.fixture
def team_observer_plus(team: Team) -> User:
    return _user("teamobserverplus@example.com", team=team, team_role=Role.OBSERVER_PLUS)


@pytest.fixture
def api_only_user(db: None) -> User:
    """A global maintainer that scripts use: API only, no web UI."""
    user = _user("script@example.com", Role.MAINTAINER)
    user.api_only = True
    user.save()
    return user

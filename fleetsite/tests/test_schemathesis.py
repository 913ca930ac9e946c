"""Property-based API tests: schemathesis sends generated requests to every documented REST operation.

The schema is the one served at /api/schema/. A response fails the test when it is a 5xx, or when
its status, content type or body contradicts what the schema declares for that operation. Requests
go through Django's full WSGI stack in-process, inside the test's database transaction, so the run
needs no server process and leaves nothing behind; it is bounded (few examples, derandomized) so it
fits `make test` on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.choices import Role
from accounts.models import Team, User
from accounts.tokens import issue_session
from hosts.models import Host, Label
from queries.models import Query

# Only `latest`: v1 and 2022-04 mount the same views (fleetsite/api/versions.py), so testing them
# again would triple the run for no new code. The packager API is its own surface and included.
INCLUDED_PATHS = r"^/api/(latest/fleet|packager)/"

# Excluded, and why (everything else is tested):
EXCLUDED = [
    # Logging out revokes the very token the run authenticates with; every later call would be 401.
    ("POST", r"/logout$"),
    # Changing the password revokes the caller's other sessions, the run's token among them.
    ("POST", r"/change_password$"),
    # Building an installer runs external packaging tools for seconds per call.
    ("POST", r"/packager/create$"),
]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _load_schema() -> Any:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    schema = schemathesis.openapi.from_dict(raw).include(path_regex=INCLUDED_PATHS)
    for method, path_regex in EXCLUDED:
        schema = schema.exclude(method=method, path_regex=path_regex)
    schema.config.generation.update(max_examples=10, deterministic=True, no_shrink=True)
    schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema


schema = _load_schema()


@pytest.fixture
def in_transaction_wsgi() -> Iterator[WSGIHandler]:
    """Django's WSGI handler that keeps the test's connection (and so its transaction) open.

    Django closes "old" connections at the start and end of each request; inside the test's
    transaction that would drop it. Django's own test client disconnects the same two signals.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def no_wait_for_agents() -> Iterator[None]:
    """Synchronous live-query runs answer at once: no agent answers in this test anyway."""
    with override_settings(FLEETSITE_LIVE_QUERY_REST_PERIOD=0):
        yield


@pytest.fixture
def admin_token(db: None) -> str:
    """A global admin's session, plus a few objects so that generated ids sometimes exist."""
    admin = User.objects.create_user("fuzz-admin@example.com", "correct horse battery staple 42", name="Fuzz")
    admin.global_role = Role.ADMIN
    admin.save(update_fields=["global_role"])
    team = Team.objects.create(name="Fuzz team")
    for index in range(3):
        Host.objects.create(hostname=f"host-{index}", osquery_host_id=f"fuzz-{index}", team=team if index else None)
    Label.objects.create(name="Fuzz label", query="SELECT 1")
    Query.objects.create(name="Fuzz query", query="SELECT 1", author=admin)
    return issue_session(admin)


@pytest.mark.django_db
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_api_matches_schema(
    case: Any, admin_token: str, in_transaction_wsgi: WSGIHandler, no_wait_for_agents: None
) -> None:
    """No generated request gets a 5xx or a response the schema does not describe."""
    case.call_and_validate(app=in_transaction_wsgi, headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS)

"""Route parity with Fleet: the committed table stays true to the URL conf (issue 19, item 1)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views import View
from django.views.decorators.http import require_http_methods

from fleetsite import fleet_routes
from fleetsite.fleet_routes import (
    BUILT,
    DOCS_PATH,
    MDM,
    MISSING,
    REFUSED,
    FleetRoute,
    documented_states,
    load_routes,
    render_markdown,
    route_state,
    route_statuses,
)


class ReadOnlyView(View):
    def get(self, request: HttpRequest, **kwargs: object) -> HttpResponse:
        return HttpResponse()


class RefusedView(View):
    fleet_route_refused = True

    def post(self, request: HttpRequest, **kwargs: object) -> HttpResponse:
        return HttpResponse(status=400)


@require_http_methods(["POST"])
def post_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def any_method(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


# The URL conf of the matcher tests below (pytest.mark.urls points at this module).
urlpatterns = [
    path("api/v1/fleet/things/<int:thing_id>", ReadOnlyView.as_view()),
    path("api/latest/fleet/things/<int:thing_id>", ReadOnlyView.as_view()),
    path("api/latest/fleet/only-latest", ReadOnlyView.as_view()),
    path("api/v1/fleet/refused", RefusedView.as_view()),
    path("api/latest/fleet/refused", RefusedView.as_view()),
    path("api/osquery/post-only", post_only),
    path("api/osquery/anything", any_method),
]


def fleet_route(method: str, route_path: str, versions: str = "all", mdm: bool = False) -> FleetRoute:
    if "_version_" not in route_path:
        versions = "-"
    return FleetRoute(method, route_path, versions, "http", "tests", mdm, "")


@pytest.mark.urls(__name__)
class TestMatcher:
    def test_a_route_is_built_when_both_prefixes_resolve_to_a_view_with_the_method(self) -> None:
        assert route_state(fleet_route("GET", "/api/_version_/fleet/things/{id}")) == BUILT
        assert route_state(fleet_route("HEAD", "/api/_version_/fleet/things/{id}")) == BUILT  # Django's HEAD is GET

    def test_a_method_the_view_lacks_is_missing_not_built(self) -> None:
        assert route_state(fleet_route("DELETE", "/api/_version_/fleet/things/{id}")) == MISSING

    def test_a_route_mounted_under_latest_only_is_missing_for_v1_clients(self) -> None:
        assert route_state(fleet_route("GET", "/api/_version_/fleet/only-latest")) == MISSING
        assert route_state(fleet_route("GET", "/api/_version_/fleet/only-latest", versions="2022-04+")) == BUILT

    def test_an_mdm_route_not_built_is_out_of_scope_and_a_marked_view_is_refused(self) -> None:
        assert route_state(fleet_route("GET", "/api/_version_/fleet/mdm/apple", mdm=True)) == MDM
        assert route_state(fleet_route("POST", "/api/_version_/fleet/refused", mdm=True)) == REFUSED

    def test_function_views_honour_require_http_methods(self) -> None:
        assert route_state(fleet_route("POST", "/api/osquery/post-only")) == BUILT
        assert route_state(fleet_route("GET", "/api/osquery/post-only")) == MISSING
        assert route_state(fleet_route("PUT", "/api/osquery/anything")) == BUILT


def test_the_route_table_is_well_formed_and_covers_every_fleet_client() -> None:
    routes = load_routes()
    families = {route.family for route in routes}
    assert {"osquery agent", "orbit agent", "device (Fleet Desktop)", "hosts"} <= families
    assert any(route.mdm for route in routes) and any(not route.mdm for route in routes)


def test_a_malformed_row_is_refused(tmp_path: Path) -> None:
    tsv = tmp_path / "routes.tsv"
    header = "method\tpath\tversions\ttransport\tfamily\tmdm\tnote\n"
    tsv.write_text(header + "FETCH\t/api/_version_/fleet/x\tall\thttp\tx\tno\t\n")
    with pytest.raises(ValueError, match="unknown method"):
        load_routes(tsv)
    tsv.write_text(header + "GET\t/api/osquery/x\tall\thttp\tx\tno\t\n")
    with pytest.raises(ValueError, match="versions"):
        load_routes(tsv)


def test_every_route_the_committed_table_calls_built_still_resolves() -> None:
    """Removing or breaking an endpoint the docs call built fails here, naming the route."""
    documented = documented_states(DOCS_PATH.read_text(encoding="utf-8"))
    current = {(s.route.method, s.route.path, s.route.versions): s.state for s in route_statuses()}
    # A built route must stay built (becoming a refusal is a regression too); a refused one may
    # become built, never stop resolving.
    still_fine = {BUILT: (BUILT,), REFUSED: (BUILT, REFUSED)}
    promised = {key: state for key, state in documented.items() if state in still_fine}
    assert promised, "docs/fleet-routes.md lists no built route"
    broken = [
        f"{method} {route_path} [{versions}] ({state} -> {current.get((method, route_path, versions))})"
        for (method, route_path, versions), state in promised.items()
        if current.get((method, route_path, versions)) not in still_fine[state]
    ]
    assert not broken, f"routes docs/fleet-routes.md calls built or refused no longer resolve: {broken}"


def test_the_committed_table_is_up_to_date_with_the_url_conf() -> None:
    """A new endpoint (or a Fleet route added to the TSV) means regenerating the docs."""
    expected = render_markdown(route_statuses())
    assert DOCS_PATH.read_text(encoding="utf-8") == expected, (
        "docs/fleet-routes.md is stale: run `manage.py fleet_routes --markdown` and commit it"
    )


def test_the_command_writes_and_checks_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "docs" / "fleet-routes.md"
    monkeypatch.setattr(fleet_routes, "DOCS_PATH", target)
    monkeypatch.setattr("fleetsite.management.commands.fleet_routes.DOCS_PATH", target)
    with pytest.raises(CommandError, match="out of date"):
        call_command("fleet_routes", "--check", stdout=StringIO())
    call_command("fleet_routes", "--markdown", stdout=StringIO())
    assert target.read_text(encoding="utf-8") == DOCS_PATH.read_text(encoding="utf-8")
    out = StringIO()
    call_command("fleet_routes", "--check", stdout=out)
    assert "up to date" in out.getvalue()
    listing = StringIO()
    call_command("fleet_routes", stdout=listing)
    assert "built    POST   /api/osquery/enroll" in listing.getvalue()

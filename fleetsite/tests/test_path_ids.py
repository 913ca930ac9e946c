"""An id in a REST path beyond what a database row id can hold names no row: Fleet's 404, not a 500.

SQLite refuses to bind such a number (OverflowError) and the other backends reject it in their
own ways; found by schemathesis on `GET /software/versions/{version_id}`.
"""

from __future__ import annotations

import pytest

from fleetsite.api.fields import MAX_ID

TOO_LARGE = 277812721926750240768  # the id schemathesis sent


@pytest.mark.parametrize(
    "path",
    [
        f"/api/latest/fleet/software/versions/{TOO_LARGE}",
        f"/api/latest/fleet/software/titles/{TOO_LARGE}",
        f"/api/latest/fleet/hosts/{TOO_LARGE}",
        f"/api/latest/fleet/campaigns/{MAX_ID + 1}/results",
    ],
)
def test_a_path_id_too_large_for_a_row_is_not_found(api, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["message"] == "Resource Not Found"


def test_the_largest_row_id_is_looked_up(api) -> None:
    response = api.get(f"/api/latest/fleet/software/versions/{MAX_ID}")
    assert response.status_code == 404
    assert "was not found in the datastore" in response.json()["errors"][0]["reason"]

"""Jira and Zendesk over their REST APIs: the connection check Fleet makes before saving, and ticket creation.

Jira: basic auth with the user name and API token, `GET /rest/api/2/project/{key}` to check and
`POST /rest/api/2/issue` to create. Zendesk: basic auth `{email}/token:{token}`,
`GET /api/v2/groups/{id}.json` to check and `POST /api/v2/tickets.json` to create.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings

from webhooks import config

MISSING_TOKEN = "missing or invalid API token"


def _auth(kind: str, item: dict[str, Any]) -> tuple[str, str]:
    if kind == "jira":
        return (item.get("username", ""), item.get("api_token", ""))
    return (f"{item.get('email', '')}/token", item.get("api_token", ""))


def try_connection(kind: str, item: dict[str, Any]) -> str | None:
    """None when the service accepts the credentials, else Fleet's "… request failed: …" reason."""
    label = "Jira" if kind == "jira" else "Zendesk"
    if item.get("api_token") in ("", config.MASK):
        return f"{label} integration request failed: {MISSING_TOKEN}"
    if kind == "jira":
        url = f"{item['url']}/rest/api/2/project/{item['project_key']}"
    else:
        url = f"{item['url']}/api/v2/groups/{item['group_id']}.json"
    try:
        response = httpx.get(url, auth=_auth(kind, item), timeout=settings.FLEETSITE_WEBHOOK_TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{label} integration request failed: {exc}"
    if response.status_code >= 300:
        return f"{label} integration request failed: {response.status_code} {response.reason_phrase}"
    if kind == "zendesk":
        try:
            group_id = (response.json().get("group") or {}).get("id")
        except ValueError:
            group_id = None
        if group_id != item["group_id"]:
            return (f"{label} integration request failed: no matching group id: received {group_id}, "
                    f"expected {item['group_id']}")  # fmt: skip
    return None


def find(kind: str, target: dict[str, Any]) -> dict[str, Any] | None:
    """The stored global integration (with its token) a delivery's context names by url and project/group."""
    for item in config.integrations()[kind]:
        if item["url"] == target.get("url") and (
            item.get("project_key") == target.get("project_key")
            if kind == "jira"
            else item.get("group_id") == target.get("group_id")
        ):
            return item
    return None


def issue_body(kind: str, item: dict[str, Any], summary: str, description: str) -> dict[str, Any]:
    """What is posted: a Jira task in the project, or a Zendesk ticket in the group."""
    if kind == "jira":
        return {
            "fields": {
                "project": {"key": item["project_key"]},
                "summary": summary,
                "description": description,
                "issuetype": {"name": "Task"},
            }
        }
    return {"ticket": {"subject": summary, "comment": {"body": description}, "group_id": item["group_id"]}}


def post(kind: str, item: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
    path = "/rest/api/2/issue" if kind == "jira" else "/api/v2/tickets.json"
    return httpx.post(
        f"{item['url']}{path}", json=body, auth=_auth(kind, item), timeout=settings.FLEETSITE_WEBHOOK_TIMEOUT
    )

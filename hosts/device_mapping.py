"""A host's user e-mails (Fleet's device mapping): who set them and how they are shown.

fleetd (at install) and users (through the API) each set one "custom" e-mail; Chrome profiles
and the IdP add theirs. Every reader shows `custom_*` sources as plain "custom", as Fleet does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from fleetsite.lib.rows import delete_where, insert_many, select_where
from hosts.choices import DeviceMappingSource
from hosts.models import Host, HostDeviceMapping

CUSTOM_PREFIX = "custom_"
CUSTOM = "custom"
# PUT /hosts/{id}/device_mapping `source` -> the stored source.
API_SOURCES = {CUSTOM: DeviceMappingSource.CUSTOM_OVERRIDE, "idp": DeviceMappingSource.MDM_IDP_ACCOUNTS}
EMAIL_MAX_LENGTH = HostDeviceMapping._meta.get_field("email").max_length


def shown_source(source: str) -> str:
    return CUSTOM if source.startswith(CUSTOM_PREFIX) else source


def mapping_json(host: Host) -> list[dict[str, Any]]:
    """The host's e-mails as Fleet lists them: `[{"email", "source"}]`, by e-mail then source."""
    rows = HostDeviceMapping.objects.filter(host=host).order_by("email", "source").values_list("email", "source")
    return [{"email": email, "source": shown_source(source)} for email, source in rows]


def mappings_by_host(host_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The e-mails of many hosts in one query, for host lists with `device_mapping=true`."""
    found: dict[int, list[dict[str, Any]]] = {}
    rows = HostDeviceMapping.objects.filter(host_id__in=list(host_ids)).order_by("host_id", "email", "source")
    for host_id, email, source in rows.values_list("host_id", "email", "source"):
        found.setdefault(host_id, []).append({"email": email, "source": shown_source(source)})
    return found


@transaction.atomic
def set_custom(host: Host, email: str, source: str = DeviceMappingSource.CUSTOM_OVERRIDE) -> None:
    """Replace the host's one custom e-mail (whoever set it before) with `email`."""
    HostDeviceMapping.objects.filter(host=host, source__startswith=CUSTOM_PREFIX).delete()
    HostDeviceMapping.objects.create(host=host, email=email, source=source)


@transaction.atomic
def set_idp(host: Host, email: str) -> None:
    """Replace the host's IdP account e-mail."""
    delete_idp(host)
    HostDeviceMapping.objects.create(host=host, email=email, source=DeviceMappingSource.MDM_IDP_ACCOUNTS)


def delete_idp(host: Host) -> int:
    """Forget the host's IdP e-mail; the custom and Chrome ones stay."""
    deleted, _ = HostDeviceMapping.objects.filter(host=host, source=DeviceMappingSource.MDM_IDP_ACCOUNTS).delete()
    return deleted


@transaction.atomic(savepoint=False)  # inside a check-in's transaction: no SAVEPOINT round trips
def replace_from_source(host_id: int, source: str, emails: Iterable[str], *, stored_empty: bool = False) -> None:
    """The e-mails a detail query reported for `source` replace that source's previous ones.

    In plain SQL built once (a detail write runs this each time); `stored_empty`: the host has
    none of that source yet, so none are read.
    """
    wanted = {email for email in emails if email}
    where = {"host": host_id, "source": source}
    current = set() if stored_empty else {row[0] for row in select_where(HostDeviceMapping, ("email",), where)}
    if current - wanted:
        delete_where(HostDeviceMapping, where, "email", sorted(current - wanted))
    now = timezone.now()
    rows = [(host_id, email, source, now, now) for email in sorted(wanted - current)]
    insert_many(HostDeviceMapping, ("host", "email", "source", "created_at", "updated_at"), rows)


def end_users_json(host: Host) -> list[dict[str, Any]]:
    """Fleet's host-detail `end_users`: one user whose IdP e-mail is `idp_username`, the rest `other_emails`.

    Empty when the host has no e-mails; keys without a value are left out, as Fleet's omitempty does.
    """
    user: dict[str, Any] = {}
    others = []
    for mapping in mapping_json(host):
        if mapping["source"] == DeviceMappingSource.MDM_IDP_ACCOUNTS:
            user.setdefault("idp_username", mapping["email"])
        else:
            others.append(mapping)
    if others:
        user["other_emails"] = others
    return [user] if user else []

"""The fleet's software inventory, grouped by title (name + source) and by version, in SQL.

A title has no table of its own: its id is the smallest id among its versions, and any version
id of a title finds the title (`software_title_id` in the host filters does the same).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, F, Min, OuterRef, QuerySet

from accounts import permissions
from accounts.models import User
from hosts.models import HostSoftware, Software
from vulnerabilities.api.serializers import host_software_cves, software_cve_ids
from vulnerabilities.models import HostVulnerability

# Sort keys per list. A title groups many versions, so only the versions list sorts by `version`.
TITLE_ORDER_KEYS = {"hosts_count": "hosts_count", "name": "name", "source": "source"}
VERSION_ORDER_KEYS = {**TITLE_ORDER_KEYS, "version": "version"}


def installs_for(user: User, team_id: int | None = None) -> QuerySet:
    """Installations on hosts the user may see, optionally of one team (0: hosts with no team)."""
    installs = permissions.scope_to_teams(HostSoftware.objects.all(), user, "host__team_id")
    if team_id == 0:
        installs = installs.filter(host__team__isnull=True)
    elif team_id is not None:
        installs = installs.filter(host__team_id=team_id)
    return installs


def _ordered(
    queryset: QuerySet, keys: dict[str, str], order_key: str | None, direction: str | None, default: str
) -> QuerySet:
    """Order by `order_key` when `keys` offers it (else `default`), then by name and source."""
    column = keys.get(order_key or "", default)
    prefix = "-" if (direction or ("desc" if column == "hosts_count" else "asc")) == "desc" else ""
    return queryset.order_by(f"{prefix}{column}", "name", "source")


def titles(
    installs: QuerySet,
    query: str = "",
    order_key: str | None = None,
    direction: str | None = None,
    vulnerable: QuerySet | None = None,
) -> QuerySet:
    """Rows of {title_id, name, source, hosts_count, versions_count}; `vulnerable`: software ids to keep."""
    if vulnerable is not None:
        installs = installs.filter(software_id__in=vulnerable)
    if query:
        installs = installs.filter(software__name__icontains=query)
    rows = (
        installs.values(name=_f("software__name"), source=_f("software__source"))
        .annotate(
            title_id=Min("software_id"),
            hosts_count=Count("host_id", distinct=True),
            versions_count=Count("software_id", distinct=True),
        )
        .order_by()
    )
    return _ordered(rows, TITLE_ORDER_KEYS, order_key, direction, "hosts_count")


def versions(
    installs: QuerySet,
    query: str = "",
    title_id: int | None = None,
    order_key: str | None = None,
    direction: str | None = None,
    vulnerable: QuerySet | None = None,
) -> QuerySet:
    """Rows of {version_id, name, version, source, vendor, bundle_identifier, hosts_count}; `vulnerable` as titles."""
    if vulnerable is not None:
        installs = installs.filter(software_id__in=vulnerable)
    if query:
        installs = installs.filter(software__name__icontains=query)
    if title_id is not None:
        title = Software.objects.filter(pk=title_id).values("name", "source").first() or {"name": None, "source": None}
        installs = installs.filter(software__name=title["name"], software__source=title["source"])
    rows = (
        installs.values(
            version_id=_f("software_id"),
            name=_f("software__name"),
            version=_f("software__version"),
            source=_f("software__source"),
            vendor=_f("software__vendor"),
            bundle_identifier=_f("software__bundle_identifier"),
        )
        .annotate(hosts_count=Count("host_id"))
        .order_by()
    )
    return _ordered(rows, VERSION_ORDER_KEYS, order_key, direction, "hosts_count")


def _f(name: str) -> F:
    return F(name)


def title_versions(title_ids: list[int], installs: QuerySet) -> dict[int, list[dict[str, Any]]]:
    """The versions of each title id installed in `installs` (see `installs_for`), for a page of titles.

    Limited to `installs` so a team's users do not learn versions found only on other teams' hosts.
    """
    found = Software.objects.filter(pk__in=title_ids).values("pk", "name", "source")
    keys = {(s["name"], s["source"]): s["pk"] for s in found}
    out: dict[int, list[dict[str, Any]]] = {pk: [] for pk in title_ids}
    if not keys:
        return out
    names = {name for name, _ in keys}
    versions = Software.objects.filter(name__in=names, pk__in=installs.values("software_id"))
    rows = list(versions.values("pk", "name", "source", "version").order_by("version"))
    cves = software_cve_ids([row["pk"] for row in rows])
    for row in rows:
        title = keys.get((row["name"], row["source"]))
        if title is not None:
            out[title].append({"id": row["pk"], "version": row["version"], "vulnerabilities": cves[row["pk"]] or None})
    return out


def host_titles(
    host_id: int,
    query: str = "",
    order_key: str | None = None,
    direction: str | None = None,
    vulnerable: bool = False,
) -> QuerySet:
    """One host's software grouped by title, sorted by name unless asked otherwise (Fleet Desktop's list).

    `vulnerable`: only titles with a CVE open on this host (matched for its own OS release).
    """
    installs = HostSoftware.objects.filter(host_id=host_id)
    if vulnerable:
        open_cves = HostVulnerability.objects.filter(host_id=host_id, resolved_at__isnull=True)
        installs = installs.filter(software_id__in=open_cves.values("software_id"))
    return titles(installs, query, order_key or "name", direction or ("desc" if order_key == "hosts_count" else "asc"))


def host_title_rows(host_id: int, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A page of `host_titles` rows as Fleet's HostSoftwareWithInstaller: fleet-wide title ids, installed versions.

    Installers and app store apps do not exist here, so `status`, `software_package` and
    `app_store_app` are always null.
    """
    names = {row["name"] for row in rows}
    title_ids = dict.fromkeys(((row["name"], row["source"]) for row in rows), 0)
    for pk, name, source in Software.objects.filter(name__in=names).order_by("-pk").values_list("pk", "name", "source"):
        if (name, source) in title_ids:
            title_ids[(name, source)] = pk  # descending: the smallest id is written last
    versions: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in title_ids}
    installs = (
        HostSoftware.objects.filter(host_id=host_id, software__name__in=names)
        .select_related("software")
        .order_by("software__version", "pk")
    )
    cves = host_software_cves(host_id)
    for install in installs:
        found = versions.get((install.software.name, install.software.source))
        if found is not None:
            found.append(
                {
                    "version": install.software.version,
                    "bundle_identifier": install.software.bundle_identifier or None,
                    "last_opened_at": install.last_opened_at.isoformat().replace("+00:00", "Z")
                    if install.last_opened_at
                    else None,
                    "vulnerabilities": cves.get(install.software_id) or None,
                    "installed_paths": [install.installed_path] if install.installed_path else [],
                }
            )
    return [
        {
            "id": title_ids[(row["name"], row["source"])],
            "name": row["name"],
            "source": row["source"],
            "status": None,
            "installed_versions": versions[(row["name"], row["source"])],
            "software_package": None,
            "app_store_app": None,
        }
        for row in rows
    ]


def open_here() -> QuerySet:
    """Open host-vulnerability rows of an outer install row: the CVE was matched for that host's own OS."""
    return HostVulnerability.objects.filter(
        host_id=OuterRef("host_id"), software_id=OuterRef("software_id"), resolved_at__isnull=True
    )


def vulnerable_titles(installs: QuerySet, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(name, source) of the page's titles with a CVE open on one of `installs`' hosts (one query)."""
    names = {row["name"] for row in rows}
    if not names:
        return set()
    found = installs.filter(software__name__in=names).filter(Exists(open_here()))
    return set(found.values_list("software__name", "software__source").distinct())


def open_cves_of_versions(installs: QuerySet, version_ids: list[int]) -> dict[int, list[str]]:
    """Each version's CVEs open on one of `installs`' hosts, sorted (one query): what a team's users may see."""
    if not version_ids:
        return {}
    rows = (
        HostVulnerability.objects.filter(
            software_id__in=version_ids,
            resolved_at__isnull=True,
            host_id__in=installs.filter(software_id__in=version_ids).values("host_id"),
        )
        .values_list("software_id", "cve")
        .distinct()
        .order_by("software_id", "cve")
    )
    out: dict[int, list[str]] = {}
    for software_id, cve in rows:
        out.setdefault(software_id, []).append(cve)
    return out

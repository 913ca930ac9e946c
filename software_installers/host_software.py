"""A host's software with what can be installed on it (Fleet's HostSoftwareWithInstaller list).

Installed titles and the titles the host's team offers a package for are one union, filtered,
sorted by name and paged in the database; each page is then completed by a fixed number of
queries (versions, packages, each title's latest install or uninstall on this host).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, F, Min, OuterRef, QuerySet

from hosts.models import Host, HostSoftware
from hosts.software import host_title_rows
from software_installers.choices import InstallStatus
from software_installers.models import SoftwareInstall, SoftwareInstaller


def _offered(host: Host, self_service: bool) -> QuerySet:
    installers = SoftwareInstaller.objects.filter(team_key=host.team_id or 0)
    return installers.filter(self_service=True) if self_service else installers


def rows(
    host: Host,
    query: str = "",
    self_service: bool = False,
    available_for_install: bool = False,
    descending: bool = False,
    vulnerable: bool = False,
) -> QuerySet:
    """{name, source, title_id} per title: installed on the host, or offered by its team; sorted by name.

    `vulnerable`: only installed titles with a CVE open on this host (a package not installed has none).
    """
    installed = HostSoftware.objects.filter(host_id=host.pk)
    if vulnerable:
        from vulnerabilities.models import HostVulnerability

        open_cves = HostVulnerability.objects.filter(host_id=host.pk, resolved_at__isnull=True)
        installed = installed.filter(software_id__in=open_cves.values("software_id"))
    if query:
        installed = installed.filter(software__name__icontains=query)
    offered = _offered(host, self_service)
    if self_service or available_for_install:
        package = offered.filter(title__name=OuterRef("software__name"), title__source=OuterRef("software__source"))
        installed = installed.filter(Exists(package))
    installed_rows = (
        installed.values(name=F("software__name"), source=F("software__source"))
        .annotate(title_id=Min("software_id"))
        .values("name", "source", "title_id")
        .order_by()
    )
    not_installed = offered.exclude(
        Exists(
            HostSoftware.objects.filter(
                host_id=host.pk, software__name=OuterRef("title__name"), software__source=OuterRef("title__source")
            )
        )
    )
    if query:
        not_installed = not_installed.filter(title__name__icontains=query)
    if vulnerable:
        not_installed = not_installed.none()
    available_rows = not_installed.values(
        name=F("title__name"), source=F("title__source"), title_ref=F("title_id")
    ).order_by()
    ordering = ("-name", "-source") if descending else ("name", "source")
    return installed_rows.union(available_rows, all=True).order_by(*ordering)


def count(
    host: Host,
    query: str = "",
    self_service: bool = False,
    available_for_install: bool = False,
    vulnerable: bool = False,
) -> int:
    return rows(host, query, self_service, available_for_install, vulnerable=vulnerable).count()


def _latest(host_id: int, title_ids: list[int]) -> dict[int, SoftwareInstall]:
    latest: dict[int, SoftwareInstall] = {}
    runs = (
        SoftwareInstall.objects.filter(host_id=host_id, title_id__in=title_ids, canceled=False)
        .exclude(uninstall=True, execution__canceled=True)
        .select_related("execution")
        .order_by("-created_at", "-pk")
    )
    for run in runs:
        latest.setdefault(run.title_id, run)
    return latest


def _status(run: SoftwareInstall | None) -> str | None:
    if run is None:
        return None
    if not run.uninstall:
        return run.status
    exit_code = run.execution.exit_code if run.execution else None
    if exit_code is None:
        return InstallStatus.PENDING_UNINSTALL
    return None if exit_code == 0 else InstallStatus.FAILED_UNINSTALL


def _time(run: SoftwareInstall) -> str:
    return run.updated_at.isoformat().replace("+00:00", "Z")


def page_json(host: Host, page: list[dict[str, Any]], icon_url: Any = None) -> list[dict[str, Any]]:
    """A page of `rows` as Fleet's entries: installed versions, the team's package, the host's status."""
    return decorate(host, host_title_rows(host.pk, page), icon_url)


def decorate(host: Host, entries: list[dict[str, Any]], icon_url: Any = None) -> list[dict[str, Any]]:
    """Fill `status` and `software_package` of `hosts.software.host_title_rows` entries (three queries)."""
    ids = [entry["id"] for entry in entries]
    installers = {
        installer.title_id: installer
        for installer in SoftwareInstaller.objects.filter(team_key=host.team_id or 0, title_id__in=ids)
    }
    latest = _latest(host.pk, ids)
    for entry in entries:
        installer = installers.get(entry["id"])
        run = latest.get(entry["id"])
        entry["status"] = _status(run)
        if installer is None:
            continue
        entry["software_package"] = {
            "name": installer.filename,
            "version": installer.version,
            "platform": installer.platform,
            "self_service": installer.self_service,
            "icon_url": icon_url(installer.title_id) if icon_url else None,
            "last_install": (
                {"install_uuid": run.install_uuid, "installed_at": _time(run)}
                if run is not None and not run.uninstall
                else None
            ),
            "last_uninstall": (
                {"script_execution_id": run.install_uuid, "uninstalled_at": _time(run)}
                if run is not None and run.uninstall
                else None
            ),
        }
        if installer.display_name:
            entry["display_name"] = installer.display_name
    return entries

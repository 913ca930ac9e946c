"""Fleet's JSON shapes for CVEs, vulnerable software and OS versions, built from plain rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from vulnerabilities.models import CVE, HostVulnerability, SoftwareVulnerability


def timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def details_link(cve: str) -> str:
    if cve.startswith("CVE-"):
        return f"https://nvd.nist.gov/vuln/detail/{cve}"
    return f"https://osv.dev/vulnerability/{cve}"


def cve_json(cve: str, meta: dict[str, Any] | None, resolved_in_version: str | None = None) -> dict[str, Any]:
    """Fleet's CVE object; scores are null when no feed gave them (Fleet Premium's keys, always present here)."""
    meta = meta or {}
    return {
        "cve": cve,
        "details_link": details_link(cve),
        "cvss_score": meta.get("cvss_score"),
        "epss_probability": meta.get("epss_probability"),
        "cisa_known_exploit": meta.get("cisa_known_exploit", False),
        "cve_published": timestamp(meta.get("published")),
        "cve_description": meta.get("description") or None,
        "resolved_in_version": resolved_in_version or None,
    }


CVE_FIELDS = ("cve", "cvss_score", "epss_probability", "cisa_known_exploit", "published", "description")


def cve_meta(cves: set[str]) -> dict[str, dict[str, Any]]:
    return {row["cve"]: row for row in CVE.objects.filter(cve__in=cves).values(*CVE_FIELDS)}


def software_vulnerabilities(software_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """Each software version's current CVEs as Fleet's CVE objects, for a page of versions (two queries)."""
    out: dict[int, list[dict[str, Any]]] = {pk: [] for pk in software_ids}
    rows = list(
        SoftwareVulnerability.objects.filter(software_id__in=software_ids)
        .order_by("cve")
        .values_list("software_id", "cve", "resolved_in_version")
        .distinct()
    )
    meta = cve_meta({cve for _, cve, _ in rows})
    seen: set[tuple[int, str]] = set()
    for software_id, cve, fixed in rows:
        if (software_id, cve) not in seen:
            seen.add((software_id, cve))
            out[software_id].append(cve_json(cve, meta.get(cve), fixed))
    return out


def software_cve_ids(software_ids: list[int]) -> dict[int, list[str]]:
    """Each software version's CVE ids (Fleet lists plain ids under a title's versions)."""
    out: dict[int, list[str]] = {pk: [] for pk in software_ids}
    rows = SoftwareVulnerability.objects.filter(software_id__in=software_ids).order_by("cve")
    for software_id, cve in rows.values_list("software_id", "cve").distinct():
        if cve not in out[software_id]:
            out[software_id].append(cve)
    return out


def vulnerable_software_ids(
    exploit: bool = False, min_cvss: float | None = None, max_cvss: float | None = None
) -> QuerySet:
    """Ids of software versions with a current CVE meeting the filters, as a subquery for the software lists."""
    matches = SoftwareVulnerability.objects.all()
    if exploit or min_cvss is not None or max_cvss is not None:
        cves = CVE.objects.all()
        if exploit:
            cves = cves.filter(cisa_known_exploit=True)
        if min_cvss is not None:
            cves = cves.filter(cvss_score__gte=min_cvss)
        if max_cvss is not None:
            cves = cves.filter(cvss_score__lte=max_cvss)
        matches = matches.filter(cve__in=cves.values("cve"))
    return matches.values("software_id")


def host_vulnerable_software(host_id: int) -> list[dict[str, Any]]:
    """Fleet's HostHealth vulnerable_software: {id, name, version} of the host's software with an open CVE."""
    rows = (
        HostVulnerability.objects.filter(host_id=host_id, resolved_at__isnull=True, software__isnull=False)
        .values_list("software_id", "software__name", "software__version")
        .distinct()
        .order_by("software__name", "software__version")
    )
    return [{"id": pk, "name": name, "version": version} for pk, name, version in rows]


def host_software_vulnerabilities(host_id: int) -> dict[int, list[dict[str, Any]]]:
    """A host's open CVEs by software id as Fleet's CVE objects (host details' inline software), two queries."""
    rows = list(
        HostVulnerability.objects.filter(host_id=host_id, resolved_at__isnull=True, software__isnull=False)
        .order_by("cve")
        .values_list("software_id", "cve")
    )
    meta = cve_meta({cve for _, cve in rows})
    fixed = dict(
        ((software_id, cve), version)
        for software_id, cve, version in SoftwareVulnerability.objects.filter(
            software_id__in={software_id for software_id, _ in rows}, cve__in={cve for _, cve in rows}
        ).values_list("software_id", "cve", "resolved_in_version")
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for software_id, cve in rows:
        out.setdefault(software_id, []).append(cve_json(cve, meta.get(cve), fixed.get((software_id, cve))))
    return out


def host_software_cves(host_id: int) -> dict[int, list[str]]:
    """A host's open CVEs by software id: exactly what matching found for this host's OS and release."""
    out: dict[int, list[str]] = {}
    rows = HostVulnerability.objects.filter(host_id=host_id, resolved_at__isnull=True, software__isnull=False)
    for software_id, cve in rows.order_by("cve").values_list("software_id", "cve"):
        out.setdefault(software_id, []).append(cve)
    return out

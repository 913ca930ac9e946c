"""Feed imports: NVD CVE JSON 2.0, OSV JSON (a file, a folder or osv.dev's zip), EPSS CSV and CISA KEV JSON.

Each file is imported in its own transaction: a file that fails to parse or has the wrong schema
raises `FeedError` naming the file (and line where known), and its previous data stays. Records
are upserted by id, and skipped when the stored `modified` is as new, so re-imports are cheap.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.dateparse import parse_datetime

from vulnerabilities.ecosystems import split_ecosystem
from vulnerabilities.models import CVE, Advisory, AdvisoryCVE, AffectedPackage, CPEMatch

BATCH = 1000
# References kept per CVE: NVD lists up to hundreds (mailing-list copies of one advisory); the first ones
# are the CNA's own (advisory, patch, release notes), and the page shows them all.
MAX_REFERENCES = 20
MAX_REFERENCE_TAGS = 8
_http_url = URLValidator(schemes=["http", "https"])
# RFC 3986's characters (percent-encoding included); URLValidator lets a path hold anything but spaces.
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


class FeedError(Exception):
    """A feed file that cannot be imported; the message names the file and, where known, the line."""


@dataclass
class ImportReport:
    """What an import did, per kind of record, and which files failed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    files: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def import_path(path: str | Path) -> ImportReport:
    """Import a feed file, or every feed file under a folder (sorted, so later files win)."""
    report = ImportReport()
    root = Path(path)
    if not root.exists():
        report.errors.append(f"{root}: no such file or directory")
        return report
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    for file in files:
        if file.name.startswith(".") or file.name.lower() == "readme.md":
            continue
        try:
            with transaction.atomic():
                import_file(file, report)
            report.files += 1
        except FeedError as exc:
            report.errors.append(str(exc))
    if report.changed:
        from vulnerabilities.matching import feeds_changed
        from vulnerabilities.tasks import queue_matching

        with transaction.atomic():
            feeds_changed()
        queue_matching()
    return report


def import_file(file: Path, report: ImportReport) -> None:
    """Import one file, whatever feed it is, in the caller's transaction."""
    limit = settings.FLEETSITE_VULN_MAX_FEED_BYTES
    size = file.stat().st_size
    if size > limit:
        raise FeedError(f"{file}: {size} bytes is over the {limit}-byte feed limit (FLEETSITE_VULN_MAX_FEED_BYTES)")
    name = file.name.lower()
    if name.endswith(".zip"):
        _import_zip(file, report)
        return
    raw = file.read_bytes()
    if name.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise FeedError(f"{file}: not a valid gzip file: {exc}") from exc
        name = name.removesuffix(".gz")
    if name.endswith(".csv"):
        import_epss(raw.decode("utf-8", "replace"), str(file), report)
        return
    import_json_document(_load_json(raw, str(file)), str(file), report)


def _import_zip(file: Path, report: ImportReport) -> None:
    """osv.dev's per-ecosystem all.zip (one OSV record per member) or NVD's nvdcve-2.0-YYYY.json.zip."""
    try:
        archive = zipfile.ZipFile(file)
    except zipfile.BadZipFile as exc:
        raise FeedError(f"{file}: not a valid zip file: {exc}") from exc
    with archive:
        for member in sorted(archive.namelist()):
            if member.endswith(".json"):
                where = f"{file}:{member}"
                import_json_document(_load_json(archive.read(member), where), where, report)


def _load_json(raw: bytes, where: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FeedError(f"{where}: line {exc.lineno}: invalid JSON: {exc.msg}") from exc
    except UnicodeDecodeError as exc:
        raise FeedError(f"{where}: not UTF-8 text") from exc


def import_json_document(doc: Any, where: str, report: ImportReport) -> None:
    """Recognise NVD, KEV or OSV by their top-level keys and import the document."""
    if not isinstance(doc, dict):
        raise FeedError(f"{where}: expected a JSON object at the top level")
    if "catalogVersion" in doc:
        import_kev(doc, where, report)
    elif doc.get("format") == "NVD_CVE" or "resultsPerPage" in doc:
        import_nvd(doc, where, report)
    elif "id" in doc and ("affected" in doc or "modified" in doc):
        import_osv(doc, where, report)
    else:
        raise FeedError(f"{where}: not a recognised feed (NVD CVE JSON 2.0, OSV, CISA KEV or EPSS CSV)")


def _time(value: Any) -> datetime | None:
    """Feed timestamps as aware datetimes: NVD writes them without a zone, in UTC."""
    if not value or not isinstance(value, str):
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- NVD ---------------------------------------------------------------------------------------


def import_nvd(doc: dict, where: str, report: ImportReport) -> None:
    """NVD CVE API/feeds 2.0: descriptions, CVSS (v3.1, then v3.0, then v2), status and CPE configurations."""
    if str(doc.get("version")) != "2.0":
        raise FeedError(f"{where}: NVD schema version {doc.get('version')!r} is not supported (expected 2.0)")
    items = doc.get("vulnerabilities")
    if not isinstance(items, list):
        raise FeedError(f"{where}: NVD feed has no 'vulnerabilities' list")
    for start in range(0, len(items), BATCH):
        _nvd_batch(items[start : start + BATCH], where, report)


def _nvd_batch(items: list[Any], where: str, report: ImportReport) -> None:
    records = []
    for index, item in enumerate(items):
        cve = item.get("cve") if isinstance(item, dict) else None
        if not isinstance(cve, dict) or not isinstance(cve.get("id"), str):
            raise FeedError(f"{where}: vulnerabilities[{index}] has no cve.id")
        records.append(cve)
    existing = {c.cve: c for c in CVE.objects.filter(cve__in=[r["id"] for r in records])}
    for record in records:
        modified = _time(record.get("lastModified"))
        row = existing.get(record["id"])
        references = nvd_references(record.get("references"))
        # Unchanged in NVD; the reference check fills CVEs stored before references were kept.
        if row is not None and row.modified and modified and row.modified >= modified and row.references == references:
            report.unchanged += 1
            continue
        score, severity = _cvss(record.get("metrics") or {})
        values = {
            "description": next(
                (d.get("value", "") for d in record.get("descriptions") or [] if d.get("lang") == "en"), ""
            ),
            "published": _time(record.get("published")),
            "modified": modified,
            "cvss_score": score,
            "severity": severity,
            "withdrawn": record.get("vulnStatus") == "Rejected",
            "references": references,
        }
        if row is None:
            row = CVE.objects.create(cve=record["id"], **values)
            report.created += 1
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.save()
            report.updated += 1
        CPEMatch.objects.filter(cve=row).delete()
        CPEMatch.objects.bulk_create(_cpe_matches(row, record.get("configurations") or []))


def nvd_references(items: Any) -> list[dict[str, Any]]:
    """The first MAX_REFERENCES distinct http(s) URLs of an NVD record's `references`, with source and tags.

    The page links to them, so anything else (javascript:, data:, relative or malformed addresses) is
    dropped here rather than trusted at render time.
    """
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in items if isinstance(items, list) else []:
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or url in seen:
            continue
        try:
            _http_url(url)
        except ValidationError:
            continue
        if not _URL_CHARACTERS.fullmatch(url):  # quotes, angle brackets, spaces: no URL NVD means
            continue
        seen.add(url)
        tags = item.get("tags") if isinstance(item.get("tags"), list) else []
        out.append(
            {
                "url": url,
                "source": str(item.get("source") or "")[:128],
                "tags": [str(tag)[:64] for tag in tags[:MAX_REFERENCE_TAGS]],
            }
        )
        if len(out) == MAX_REFERENCES:
            break
    return out


def _cvss(metrics: dict) -> tuple[float | None, str]:
    for key in ("cvssMetricV31", "cvssMetricV30", "cvssMetricV2"):
        entries = metrics.get(key) or []
        entries = sorted(entries, key=lambda e: e.get("type") != "Primary")
        for entry in entries:
            data = entry.get("cvssData") or {}
            if isinstance(data.get("baseScore"), int | float):
                return float(data["baseScore"]), str(data.get("baseSeverity") or entry.get("baseSeverity") or "")
    return None, ""


def _cpe_matches(cve: CVE, configurations: list[Any]) -> list[CPEMatch]:
    """Every vulnerable cpeMatch. AND configurations ("app on OS") keep only their vulnerable side."""
    out = []
    for config in configurations:
        for node in (config or {}).get("nodes") or []:
            if node.get("negate"):
                continue
            for match in node.get("cpeMatch") or []:
                parts = str(match.get("criteria", "")).split(":")
                if not match.get("vulnerable") or len(parts) < 6 or parts[:2] != ["cpe", "2.3"]:
                    continue
                out.append(
                    CPEMatch(
                        cve=cve,
                        criteria=match["criteria"][:512],
                        part=parts[2][:1],
                        vendor=parts[3][:255],
                        product=parts[4][:255],
                        version="" if parts[5] in ("*", "-") else parts[5][:255],
                        start_including=str(match.get("versionStartIncluding", ""))[:255],
                        start_excluding=str(match.get("versionStartExcluding", ""))[:255],
                        end_including=str(match.get("versionEndIncluding", ""))[:255],
                        end_excluding=str(match.get("versionEndExcluding", ""))[:255],
                    )
                )
    return out


# --- OSV ---------------------------------------------------------------------------------------


def import_osv(doc: Any, where: str, report: ImportReport) -> None:
    """One OSV record: the advisory, its affected packages and a CVE row for each CVE it names."""
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
        raise FeedError(f"{where}: OSV record has no 'id'")
    schema = str(doc.get("schema_version") or "1")
    if schema.split(".")[0] != "1":
        raise FeedError(f"{where}: OSV schema_version {schema!r} is not supported (expected 1.x)")
    modified = _time(doc.get("modified"))
    if modified is None:
        raise FeedError(f"{where}: OSV record {doc['id']} has no valid 'modified' time")
    row = Advisory.objects.filter(osv_id=doc["id"]).first()
    if row is not None and row.modified >= modified:
        report.unchanged += 1
        return
    aliases = [*(doc.get("aliases") or []), *(doc.get("upstream") or [])]
    cves = sorted({a for a in aliases if isinstance(a, str) and a.startswith("CVE-")})
    if doc["id"].startswith("CVE-"):
        cves = [doc["id"]]
    elif doc["id"].startswith("DEBIAN-CVE-") or doc["id"].startswith("UBUNTU-CVE-"):
        cves = cves or [doc["id"].split("-", 1)[1]]
    cves = cves or [doc["id"]]
    values = {
        "modified": modified,
        "withdrawn": _time(doc.get("withdrawn")),
        "summary": str(doc.get("summary") or doc.get("details") or "")[:4000],
    }
    if row is None:
        row = Advisory.objects.create(osv_id=doc["id"], **values)
        report.created += 1
    else:
        Advisory.objects.filter(pk=row.pk).update(**values)
        report.updated += 1
    AdvisoryCVE.objects.filter(advisory=row).delete()
    AdvisoryCVE.objects.bulk_create([AdvisoryCVE(advisory=row, cve=cve[:64]) for cve in cves])
    AffectedPackage.objects.filter(advisory=row).delete()
    AffectedPackage.objects.bulk_create(_affected(row, doc.get("affected") or [], where))
    _ensure_cves(cves, values, _time(doc.get("published")))


def _affected(advisory: Advisory, affected: list[Any], where: str) -> list[AffectedPackage]:
    out = []
    for entry in affected:
        package = (entry or {}).get("package") or {}
        if not package.get("ecosystem") or not package.get("name"):
            continue
        base, release = split_ecosystem(str(package["ecosystem"]))
        ranges = [r for r in entry.get("ranges") or [] if isinstance(r, dict)]
        fixed = [e["fixed"] for r in ranges for e in r.get("events") or [] if isinstance(e, dict) and "fixed" in e]
        out.append(
            AffectedPackage(
                advisory=advisory,
                ecosystem=str(package["ecosystem"])[:128],
                ecosystem_base=base[:64],
                release=release[:32],
                name=str(package["name"])[:255],
                ranges=ranges,
                versions=[str(v) for v in entry.get("versions") or []],
                fixed=str(fixed[-1])[:255] if fixed else "",
            )
        )
    return out


def _ensure_cves(cves: list[str], values: dict, published: datetime | None) -> None:
    """CVE rows for an advisory's CVEs; a CVE only OSV knows follows the advisory's withdrawal."""
    existing = {c.cve: c for c in CVE.objects.filter(cve__in=cves)}
    for cve in cves:
        row = existing.get(cve)
        if row is None:
            CVE.objects.create(
                cve=cve[:64], description=values["summary"], published=published, withdrawn=bool(values["withdrawn"])
            )
        elif row.modified is None:  # never seen in NVD: OSV's word is all there is
            still_active = AdvisoryCVE.objects.filter(cve=cve, advisory__withdrawn__isnull=True).exists()
            CVE.objects.filter(pk=row.pk).update(
                withdrawn=not still_active,
                description=row.description or values["summary"],
                published=row.published or published,
            )


# --- EPSS and KEV ------------------------------------------------------------------------------


def import_epss(text: str, where: str, report: ImportReport) -> None:
    """FIRST's EPSS CSV ("#model_version…" comment, then cve,epss,percentile): each CVE's exploit probability."""
    lines = [line for line in io.StringIO(text)]
    start = 1 if lines and lines[0].startswith("#") else 0
    reader = csv.reader(lines[start:])
    header = next(reader, None)
    if not header or [h.strip() for h in header[:2]] != ["cve", "epss"]:
        raise FeedError(f"{where}: line {start + 1}: EPSS CSV must start with the header 'cve,epss,percentile'")
    scores: dict[str, float] = {}
    for offset, row in enumerate(reader, start=start + 2):
        if not row:
            continue
        try:
            scores[row[0].strip()] = float(row[1])
        except (IndexError, ValueError) as exc:
            raise FeedError(f"{where}: line {offset}: expected 'CVE-…,probability,percentile'") from exc
    ids = list(scores)
    for begin in range(0, len(ids), BATCH):
        batch = ids[begin : begin + BATCH]
        rows = list(CVE.objects.filter(cve__in=batch))
        changed = [r for r in rows if r.epss_probability != scores[r.cve]]
        for row in changed:
            row.epss_probability = scores[row.cve]
        CVE.objects.bulk_update(changed, ["epss_probability"])
        # CVEs NVD or OSV have not brought yet keep their score for when they do (feeds load in any order).
        known = {r.cve for r in rows}
        CVE.objects.bulk_create([CVE(cve=c[:64], epss_probability=scores[c]) for c in batch if c not in known])
        report.created += len(batch) - len(known)
        report.updated += len(changed)
        report.unchanged += len(rows) - len(changed)


def import_kev(doc: dict, where: str, report: ImportReport) -> None:
    """CISA's Known Exploited Vulnerabilities catalog: the whole list, so CVEs not in it are not known exploits."""
    items = doc.get("vulnerabilities")
    if not isinstance(items, list):
        raise FeedError(f"{where}: KEV catalog has no 'vulnerabilities' list")
    listed: dict[str, dict] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not str(item.get("cveID", "")).startswith("CVE-"):
            raise FeedError(f"{where}: vulnerabilities[{index}] has no cveID")
        listed[item["cveID"]] = item
    existing = set(CVE.objects.filter(cve__in=list(listed)).values_list("cve", flat=True))
    CVE.objects.bulk_create(
        [
            CVE(cve=cve, description=str(item.get("shortDescription", "")), cisa_known_exploit=True)
            for cve, item in listed.items()
            if cve not in existing
        ]
    )
    report.created += len(listed) - len(existing)
    report.updated += CVE.objects.filter(cve__in=list(existing), cisa_known_exploit=False).update(
        cisa_known_exploit=True
    )
    report.updated += (
        CVE.objects.filter(cisa_known_exploit=True).exclude(cve__in=list(listed)).update(cisa_known_exploit=False)
    )


def iter_feed_urls() -> Iterator[tuple[str, str]]:
    """(name, url) of each configured feed, in the order sync imports them (EPSS and KEV after the CVEs)."""
    for name in ("NVD", "OSV", "EPSS", "KEV"):
        for url in getattr(settings, f"FLEETSITE_VULN_{name}_URLS"):
            yield name, url

"""`manage.py vulnerabilities sync`: download the configured feeds and import them like local files."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlparse

import httpx
from django.conf import settings

from vulnerabilities.feeds import ImportReport, import_path, iter_feed_urls


def download(url: str, folder: Path) -> Path:
    """Stream one feed to `folder`, keeping the URL's file name (its extension says the format)."""
    name = Path(urlparse(url).path).name or "feed.json"
    target = folder / name
    limit = settings.FLEETSITE_VULN_MAX_FEED_BYTES
    size = 0
    with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
        response.raise_for_status()
        with target.open("wb") as out:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ValueError(f"{url}: larger than FLEETSITE_VULN_MAX_FEED_BYTES ({limit})")
                out.write(chunk)
    return target


def sync() -> ImportReport:
    """Download each feed and import it; a failed download is reported and the previous data stays."""
    total = ImportReport()
    for _, url in iter_feed_urls():
        with tempfile.TemporaryDirectory(prefix="fleetsite-vuln-") as tmp:
            try:
                file = download(url, Path(tmp))
            except (httpx.HTTPError, OSError, ValueError) as exc:
                total.errors.append(f"{url}: download failed: {exc}")
                continue
            report = import_path(file)
        total.created += report.created
        total.updated += report.updated
        total.unchanged += report.unchanged
        total.files += report.files
        total.errors.extend(report.errors)
    return total

"""Build times per installer type with a warm target cache, for `make bench` (issue 6 targets:
at most 2 s for deb, rpm and pkg and 5 s for msi; Fleet's seed measured 16-30 s per package).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from django.test import override_settings

from packaging.build import build_package
from packaging.constants import PACKAGE_TYPES
from packaging.options import PackageOptions
from packaging.repository import Repository
from packaging.sample import publish, serve_directory

# Each sample binary is padded to this size, near real orbit and osqueryd binaries.
BINARY_MB = 24


def build_times(binary_mb: int = BINARY_MB) -> list[tuple[str, float]]:
    """Seconds per package type for a second, warm-cache build of each (with Fleet Desktop)."""
    with tempfile.TemporaryDirectory(prefix="fleetsite-bench-") as tmp:
        root = Path(tmp)
        repo = Repository(root / "tuf")
        repo.init()
        publish(repo, root / "scratch", size=binary_mb * 1024 * 1024)
        server = serve_directory(repo.metadata_dir)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        results: list[tuple[str, float]] = []
        try:
            with override_settings(FLEETSITE_TUF_DIR=repo.directory, PACKAGER_TARGET_CACHE=root / "cache"):
                for package_type in PACKAGE_TYPES:
                    options = {
                        "type": package_type, "fleet_url": "https://fleet.example.com", "enroll_secret": "bench",
                        "update_url": url, "fleet_desktop": True,
                    }  # fmt: skip
                    build_package(PackageOptions(**options), root / "warm")  # fills the target cache
                    start = time.perf_counter()
                    build_package(PackageOptions(**options), root / "timed")
                    results.append((f"package {package_type} (warm cache)", time.perf_counter() - start))
        finally:
            server.shutdown()
            server.server_close()
    return results


if __name__ == "__main__":  # `python -m packaging.bench` inside a configured Django environment
    import django

    django.setup()
    for name, seconds in build_times():
        print(f"{name:<28} {seconds:6.2f} s")

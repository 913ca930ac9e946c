"""One builder per installer format; each writes its file into a work directory and returns it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from packaging.options import PackageOptions
from packaging.targets import FetchedTargets

Builder = Callable[[PackageOptions, FetchedTargets, Path], Path]


def builder_for(package_type: str) -> Builder:
    """Import lazily: the msi builder needs wixl only when an msi is built."""
    from packaging.builders import deb, msi, pkg, rpm

    return {"deb": deb.build, "rpm": rpm.build, "pkg": pkg.build, "msi": msi.build}[package_type]

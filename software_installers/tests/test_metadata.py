"""Package metadata read in pure Python: what names a title and its uninstall."""

from __future__ import annotations

import io

import pytest

from software_installers.metadata import MetadataError, read_metadata
from software_installers.tests.conftest import make_deb, make_rpm


def test_deb_control_gives_name_version_and_package_id():
    meta = read_metadata("deb", io.BytesIO(make_deb("hello", "2.10-3")))
    assert (meta.name, meta.version, meta.package_ids) == ("hello", "2.10-3", ["hello"])


def test_rpm_header_gives_name_and_version():
    meta = read_metadata("rpm", io.BytesIO(make_rpm("htop", "3.3.0")))
    assert (meta.name, meta.version, meta.package_ids) == ("htop", "3.3.0", ["htop"])


@pytest.mark.parametrize("extension", ["deb", "rpm", "pkg"])
def test_garbage_is_refused(extension):
    with pytest.raises(MetadataError):
        read_metadata(extension, io.BytesIO(b"definitely not a package" * 10))


def test_truncated_deb_is_refused_not_crashed():
    with pytest.raises(MetadataError):
        read_metadata("deb", io.BytesIO(make_deb()[:90]))


def test_msi_carries_no_metadata_here():
    assert read_metadata("msi", io.BytesIO(b"\xd0\xcf\x11\xe0")).name == ""


def test_pkg_distribution_gives_title_version_and_package_ids(tmp_path):
    from packaging.builders.pkg import distribution
    from packaging.builders.xar import XarNode, write_xar

    source = tmp_path / "Distribution"
    source.write_text(distribution("com.example.tool", "4.5.6", 100))
    out = tmp_path / "tool.pkg"
    write_xar([XarNode("Distribution", source=source)], out)
    with out.open("rb") as handle:
        meta = read_metadata("pkg", handle)
    assert meta.version == "4.5.6"
    assert meta.package_ids == ["com.example.tool.base.pkg"]
    assert meta.bundle_identifier == "com.example.tool.base.pkg"
    assert meta.name

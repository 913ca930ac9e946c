"""Package metadata read from the packages themselves: what names a title and its uninstall."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest

from software_installers.metadata import MetadataError, msi, read_metadata
from software_installers.tests.conftest import make_deb, make_rpm
from software_installers.tests.windows_packages import make_exe, make_msi


def test_deb_control_gives_name_version_and_package_id():
    meta = read_metadata("deb", io.BytesIO(make_deb("hello", "2.10-3")))
    assert (meta.name, meta.version, meta.package_ids) == ("hello", "2.10-3", ["hello"])


def test_rpm_header_gives_name_and_version():
    meta = read_metadata("rpm", io.BytesIO(make_rpm("htop", "3.3.0")))
    assert (meta.name, meta.version, meta.package_ids) == ("htop", "3.3.0", ["htop"])


@pytest.mark.parametrize("extension", ["deb", "rpm", "pkg", "msi", "exe"])
def test_garbage_is_refused(extension):
    with pytest.raises(MetadataError):
        read_metadata(extension, io.BytesIO(b"definitely not a package" * 10))


def test_truncated_deb_is_refused_not_crashed():
    with pytest.raises(MetadataError):
        read_metadata("deb", io.BytesIO(make_deb()[:90]))


def test_msi_property_table_gives_name_version_product_and_upgrade_codes():
    meta = read_metadata("msi", io.BytesIO(make_msi()))
    assert (meta.name, meta.version) == ("Example Tool", "4.5.6")
    assert meta.package_ids == ["{12345678-1234-1234-1234-123456789ABC}"]
    assert meta.upgrade_code == "{ABCDEF01-2345-6789-ABCD-EF0123456789}"


def test_msi_strings_past_64k_do_not_shift_the_others():
    """A string of 64 KiB or more takes two pool entries; misreading it would misname every later string."""
    meta = read_metadata("msi", io.BytesIO(make_msi(name="Long One", extra_property="x" * 70_000)))
    assert (meta.name, meta.version) == ("Long One", "4.5.6")
    assert meta.upgrade_code == "{ABCDEF01-2345-6789-ABCD-EF0123456789}"


def test_msi_without_upgrade_code_has_none():
    assert read_metadata("msi", io.BytesIO(make_msi(name="Plain", upgrade_code=""))).upgrade_code == ""


def test_msi_string_pool_long_entries_and_code_page():
    """(size, refs) entries; a zero size with refs is followed by the length's low and high words."""
    pool = struct.pack("<HH", 65001, 0) + struct.pack("<10H", 3, 1, 0, 0, 0, 2, 0x0002, 0x0001, 2, 1)
    data = b"abc" + b"y" * 0x10002 + "é".encode()
    strings, id_width = msi.string_pool(pool, data)
    assert strings[:3] == ["", "abc", ""] and len(strings[3]) == 0x10002 and strings[4] == "é"
    assert id_width == 2
    with pytest.raises(MetadataError):
        msi.string_pool(pool, data[:-1])


def test_msi_tables_are_read_column_by_column_with_3_byte_string_ids():
    """Pools past 65535 strings flag it in their header, and every string id in a table takes 3 bytes."""
    texts = ["Property", "Value", "ProductName", "Thing", "ProductCode", "{X}"]
    pool = struct.pack("<HH", 1252, 0x8000) + b"".join(struct.pack("<HH", len(t), 1) for t in texts)

    def ids(*values):
        return b"".join(v.to_bytes(3, "little") for v in values)

    # _Columns: Property.Property (string key, 72) and Property.Value (localizable string), integers offset by 0x8000.
    columns = ids(1, 1) + struct.pack("<HH", 0x8001, 0x8002) + ids(1, 2) + struct.pack("<HH", 0xAD48, 0x8F00)
    streams = {"_StringPool": pool, "_StringData": "".join(texts).encode(), "_Columns": columns}
    streams["Property"] = ids(3, 5) + ids(4, 6)
    assert msi.property_table(streams) == {"ProductName": "Thing", "ProductCode": "{X}"}
    # A Property table of another shape is refused rather than misread.
    streams["_Columns"] = (
        ids(1, 1) + struct.pack("<HH", 0x8001, 0x8002) + ids(1, 2) + struct.pack("<HH", 0xAD48, 0x8104)
    )
    with pytest.raises(MetadataError, match="unexpected Property table"):
        msi.property_table(streams)


def test_msi_stream_names_are_unpacked():
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
    pairs = "".join(chr(0x3800 + alphabet.index(a) + (alphabet.index(b) << 6)) for a, b in ("Pr", "op", "er", "ty"))
    assert msi.table_name("\u4840" + pairs) == "Property"
    assert msi.table_name("\u4840" + chr(0x4800 + alphabet.index("_")) + pairs[:1]) == "_Pr"
    assert msi.table_name("\x05SummaryInformation") is None


def test_exe_version_resource_gives_product_name_and_version():
    meta = read_metadata("exe", io.BytesIO(make_exe()))
    assert (meta.name, meta.version, meta.package_ids) == ("Example Setup", "2.3.4", ["Example Setup"])


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        # A 7-Zip self-extractor's own table loses to the product it carries (Opera spells it lowercase).
        (({"ProductName": "7-Zip", "ProductVersion": "9.20"}, {"productname": " Opera ", "ProductVersion": "1.2"}),
         ("Opera", "1.2")),
        (({"ProductName": "7-Zip", "ProductVersion": "9.20"},), ("7-Zip", "9.20")),
        # Notion installs itself under a versioned name.
        (({"ProductName": "Notion", "ProductVersion": "3.11.1"},), ("Notion 3.11.1", "3.11.1")),
        (({"FileDescription": "No product name"},), ("", "")),
    ],
)  # fmt: skip
def test_exe_naming_rules(tables, expected):
    meta = read_metadata("exe", io.BytesIO(make_exe(*tables)))
    assert (meta.name, meta.version) == expected
    assert meta.package_ids == ([expected[0]] if expected[0] else [])


def test_exe_built_by_a_compiler_reads_too():
    """pip ships Windows launchers built by MSVC (distlib's t64.exe) with a version resource."""
    import pip

    launcher = Path(pip.__file__).parent / "_vendor" / "distlib" / "t64.exe"
    if not launcher.exists():
        pytest.skip("this pip ships no Windows launchers")
    with launcher.open("rb") as handle:
        meta = read_metadata("exe", handle)
    assert meta.name == "Simple Launcher" and meta.version


@pytest.mark.parametrize("raw", [b"MZ", b"", b"MZ" + b"\0" * 62, b"\xd0\xcf\x11\xe0"])
def test_truncated_windows_packages_are_refused_not_crashed(raw):
    for extension in ("exe", "msi"):
        with pytest.raises(MetadataError, match=f"invalid {extension} package"):
            read_metadata(extension, io.BytesIO(raw))


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

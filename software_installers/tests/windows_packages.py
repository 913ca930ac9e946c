"""Real Windows installers for tests: an msi built by wixl (Debian's msitools) and a PE exe written here.

The exe is a minimal, valid PE32 image with one `.rsrc` section holding a VS_VERSIONINFO resource
(the layout Windows' resource compiler writes), so pefile reads it like any installer's.
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest

# --- msi (wixl) --------------------------------------------------------------------------------


@functools.cache
def make_msi(
    name: str = "Example Tool",
    version: str = "4.5.6",
    product_code: str = "12345678-1234-1234-1234-123456789ABC",
    upgrade_code: str = "ABCDEF01-2345-6789-ABCD-EF0123456789",
    extra_property: str = "",
) -> bytes:
    """An installable msi with the given Property values; `extra_property` adds a long LONGTEXT property."""
    if shutil.which("wixl") is None:
        pytest.skip("wixl (Debian package wixl) is not installed: run .ci/test-tools")
    upgrade = f" UpgradeCode={quoteattr(upgrade_code)}" if upgrade_code else ""
    extra = f"<Property Id='LONGTEXT' Value={quoteattr(extra_property)}/>" if extra_property else ""
    wxs = f"""<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id={quoteattr(product_code)} Name={quoteattr(name)} Language="1033" Version={quoteattr(version)}
    Manufacturer="Example Corp"{upgrade}>
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine"/>
    {extra}
    <Media Id="1" Cabinet="files.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="ProgramFiles64Folder">
        <Directory Id="INSTALLDIR" Name="ExampleTool">
          <Component Id="Main" Guid="11111111-2222-3333-4444-555555555555">
            <File Id="readme" Name="readme.txt" Source="readme.txt"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Main"/></Feature>
  </Product>
</Wix>
"""
    with tempfile.TemporaryDirectory() as work:
        Path(work, "readme.txt").write_text("hello\n")
        Path(work, "product.wxs").write_text(wxs)
        subprocess.run(["wixl", "-o", "product.msi", "product.wxs"], cwd=work, check=True, capture_output=True)
        return Path(work, "product.msi").read_bytes()


# --- exe (PE32 with a version resource) --------------------------------------------------------


def _pad4(raw: bytes) -> bytes:
    return raw + b"\0" * (-len(raw) % 4)


def _node(key: str, value: bytes = b"", text: bool = False, children: Sequence[bytes] = ()) -> bytes:
    """One version-resource node: length, value length (WCHARs for text), type, key, value, children."""
    name = key.encode("utf-16-le") + b"\0\0"
    value_length = len(value) // 2 if text else len(value)
    body = _pad4(struct.pack("<HHH", 0, value_length, int(text)) + name) + value
    if children:
        body = _pad4(body) + b"".join(_pad4(child) for child in children)
    return struct.pack("<H", len(body)) + body[2:]


def _string(key: str, value: str) -> bytes:
    return _node(key, (value + "\0").encode("utf-16-le"), text=True)


def version_info(tables: list[dict[str, str]]) -> bytes:
    """VS_VERSIONINFO with one StringTable per dict (in order) and a Translation var."""
    fixed = struct.pack("<13I", 0xFEEF04BD, 0x00010000, 0x00010000, 0, 0x00010000, 0, 0x3F, 0, 0x40004, 1, 0, 0, 0)
    string_tables = [
        _node(f"{0x0409 + index:04x}04b0", text=True, children=[_string(k, v) for k, v in table.items()])
        for index, table in enumerate(tables)
    ]
    children = [
        _node("StringFileInfo", text=True, children=string_tables),
        _node("VarFileInfo", text=True, children=[_node("Translation", struct.pack("<HH", 0x0409, 1200))]),
    ]
    return _node("VS_VERSION_INFO", fixed, children=children)


def _resource_section(blob: bytes, rva: int) -> bytes:
    """A resource tree RT_VERSION (16) / 1 / 0x409 -> the blob, as the loader walks it."""

    def directory(entry_id: int, target: int) -> bytes:
        return struct.pack("<IIHHHH", 0, 0, 0, 0, 0, 1) + struct.pack("<II", entry_id, target)

    subdir = 0x80000000
    tree = directory(16, subdir | 24) + directory(1, subdir | 48) + directory(0x0409, 72)
    data_at = 72 + 16
    return tree + struct.pack("<IIII", rva + data_at, len(blob), 0, 0) + blob


def make_exe(*tables: dict[str, str]) -> bytes:
    """A PE32 image whose version resource holds `tables` (default: ProductName Example Setup 2.3.4)."""
    tables = tables or ({"ProductName": "Example Setup", "ProductVersion": "2.3.4", "FileVersion": "2.3.4.0"},)
    file_align, section_align, rva = 0x200, 0x1000, 0x1000
    rsrc = _resource_section(version_info(list(tables)), rva)
    raw_size = len(rsrc) + (-len(rsrc) % file_align)
    image_size = rva + len(rsrc) + (-len(rsrc) % section_align)
    dos = b"MZ" + b"\0" * 58 + struct.pack("<I", 0x40)
    coff = struct.pack("<HHIIIHH", 0x14C, 1, 0, 0, 0, 0xE0, 0x0102)
    optional = struct.pack(
        "<HBBIIIIIIIIIHHHHHHIIIIHHIIIIII",
        0x10B, 14, 0, 0, raw_size, 0, 0, 0, rva, 0x400000, section_align, file_align,
        6, 0, 0, 0, 6, 0, 0, image_size, file_align, 0, 2, 0x8140,
        0x100000, 0x1000, 0x100000, 0x1000, 0, 16,
    )  # fmt: skip
    directories = b"".join(struct.pack("<II", rva, len(rsrc)) if i == 2 else b"\0" * 8 for i in range(16))
    section = struct.pack("<8sIIIIIIHHI", b".rsrc", len(rsrc), rva, raw_size, file_align, 0, 0, 0, 0, 0x40000040)
    headers = dos + b"PE\0\0" + coff + optional + directories + section
    return headers + b"\0" * (file_align - len(headers)) + rsrc + b"\0" * (raw_size - len(rsrc))

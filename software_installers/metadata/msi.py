"""msi metadata: ProductName, ProductVersion, ProductCode and UpgradeCode from the Property table.

An .msi is an OLE compound file (olefile reads it) holding a small database. Each table is one
stream with a packed name; every string is stored once in a pool (`_StringPool`: lengths and
reference counts, `_StringData`: the bytes), and tables hold 1-based string ids, stored column by
column. `_Columns` gives the Property table's column types, which fix its row width.
"""

from __future__ import annotations

import codecs
import struct
from typing import IO

import olefile

from software_installers.metadata.base import MAX_META, MetadataError, PackageMeta

# Packed stream names: one code point in 0x3800..0x47FF holds two of these characters, one in
# 0x4800..0x483F holds one, and 0x4840 in front marks a table's stream.
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
_TABLE_MARK = 0x4840
_TABLES = ("_StringPool", "_StringData", "_Columns", "Property")
# `_Columns.Type` bit for a string column; other columns are integers of (type & 0xff) bytes.
_STRING_COLUMN = 0x0800
# `_StringPool` header flag: string ids in tables take 3 bytes (pools past 65535 strings).
_LONG_IDS = 0x8000


def table_name(stream: str) -> str | None:
    """The table a stream holds, or None for other streams (summary information, cabinets)."""
    if not stream or ord(stream[0]) != _TABLE_MARK:
        return None
    out = []
    for char in stream[1:]:
        code = ord(char)
        if 0x3800 <= code < 0x4800:
            code -= 0x3800
            out.append(_ALPHABET[code & 0x3F] + _ALPHABET[code >> 6])
        elif 0x4800 <= code < _TABLE_MARK:
            out.append(_ALPHABET[code - 0x4800])
        else:
            out.append(char)
    return "".join(out)


def _encoding(codepage: int) -> str:
    """The pool's code page as a Python codec: 0 is the neutral page (read as Windows-1252), 65001 UTF-8."""
    name = {0: "cp1252", 65001: "utf-8"}.get(codepage, f"cp{codepage}")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "cp1252"


def string_pool(pool: bytes, data: bytes) -> tuple[list[str], int]:
    """Every string by id (id 0 is the empty/null string) and the byte width of a string id.

    An entry is (length, reference count). A string of 64 KiB or more takes two entries: a zero
    length with its reference count, then the length's low and high words.
    """
    if len(pool) < 4:
        raise MetadataError("invalid msi package: string pool too short")
    codepage, flags = struct.unpack_from("<HH", pool)
    encoding = _encoding(codepage)
    entries = [struct.unpack_from("<HH", pool, at) for at in range(4, len(pool) - 3, 4)]
    strings, offset, index = [""], 0, 0
    while index < len(entries):
        size, refs = entries[index]
        index += 1
        if size == 0 and refs != 0:
            if index >= len(entries):
                raise MetadataError("invalid msi package: string pool ends inside an entry")
            low, high = entries[index]
            size = (high << 16) | low
            index += 1
        if offset + size > len(data):
            raise MetadataError("invalid msi package: string data too short")
        strings.append(data[offset : offset + size].decode(encoding, "replace"))
        offset += size
    return strings, 3 if flags & _LONG_IDS else 2


def _columns(raw: bytes, widths: list[int]) -> list[list[int]]:
    """A table's values, column by column (tables are stored that way), as unsigned little-endian integers."""
    rows = len(raw) // sum(widths) if sum(widths) else 0
    out, at = [], 0
    for width in widths:
        out.append([int.from_bytes(raw[at + k * width : at + (k + 1) * width], "little") for k in range(rows)])
        at += rows * width
    return out


def _text(strings: list[str], string_id: int) -> str:
    if string_id >= len(strings):
        raise MetadataError("invalid msi package: string id out of range")
    return strings[string_id]


def property_table(streams: dict[str, bytes]) -> dict[str, str]:
    """The Property table as a dict, after checking `_Columns` says it is two string columns."""
    strings, id_width = string_pool(streams["_StringPool"], streams["_StringData"])
    tables, numbers, _names, types = _columns(streams["_Columns"], [id_width, 2, id_width, 2])
    layout = sorted(
        (number ^ 0x8000, kind ^ 0x8000)
        for table, number, kind in zip(tables, numbers, types, strict=True)
        if _text(strings, table) == "Property"
    )
    if len(layout) != 2 or not all(kind & _STRING_COLUMN for _, kind in layout):
        raise MetadataError("invalid msi package: unexpected Property table structure")
    keys, values = _columns(streams["Property"], [id_width, id_width])
    return {_text(strings, key): _text(strings, value) for key, value in zip(keys, values, strict=True)}


def read(fileobj: IO[bytes]) -> PackageMeta:
    """Fleet's msi metadata: the title and version, the product code as package id, the upgrade code."""
    with olefile.OleFileIO(fileobj) as ole:
        streams: dict[str, bytes] = {}
        for path in ole.listdir(streams=True, storages=False):
            name = table_name(path[-1]) if len(path) == 1 else None
            if name in _TABLES:
                if ole.get_size(path) > MAX_META:
                    raise MetadataError(f"invalid msi package: table {name} too large")
                streams[name] = ole.openstream(path).read()
    missing = [name for name in _TABLES if name not in streams]
    if missing:
        raise MetadataError(f"invalid msi package: table {missing[0]} not found")
    props = property_table(streams)
    code = props.get("ProductCode", "").strip()
    return PackageMeta(
        name=props.get("ProductName", "").strip(),
        version=props.get("ProductVersion", "").strip(),
        package_ids=[code] if code else [],
        upgrade_code=props.get("UpgradeCode", "").strip(),
    )

"""A minimal xar writer (packaging.md §8.3): the container of a flat macOS package.

Header (28 bytes, big-endian), the zlib-compressed TOC, then the heap: the SHA-1 of the
compressed TOC at offset 0, followed by each file stored uncompressed with SHA-1 checksums.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = struct.Struct(">4sHHQQI")
CHUNK = 1 << 20


@dataclass
class XarNode:
    """A file (with `source`) or a directory (with `children`) in the archive."""

    name: str
    source: Path | None = None
    children: list[XarNode] = field(default_factory=list)
    mode: int = 0o644


def _sha1(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _toc(nodes: list[XarNode], heap: list[Path], counter: list[int], offset: list[int]) -> str:
    parts = []
    for node in nodes:
        counter[0] += 1
        common = (
            "<ctime>1970-01-01T00:00:00Z</ctime><mtime>1970-01-01T00:00:00Z</mtime>"
            "<atime>1970-01-01T00:00:00Z</atime><group>wheel</group><gid>0</gid><user>root</user><uid>0</uid>"
        )
        if node.source is None:
            inner = _toc(node.children, heap, counter, offset)
            parts.append(
                f'<file id="{counter[0]}">{common}<mode>{node.mode:04o}</mode><type>directory</type>'
                f"<name>{escape(node.name)}</name>{inner}</file>"
            )
            continue
        size = node.source.stat().st_size
        sha1 = _sha1(node.source)
        data = (
            f"<data><length>{size}</length><offset>{offset[0]}</offset><size>{size}</size>"
            '<encoding style="application/octet-stream"/>'
            f'<extracted-checksum style="sha1">{sha1}</extracted-checksum>'
            f'<archived-checksum style="sha1">{sha1}</archived-checksum></data>'
        )
        parts.append(
            f'<file id="{counter[0]}">{data}{common}<mode>{node.mode:04o}</mode><type>file</type>'
            f"<name>{escape(node.name)}</name></file>"
        )
        heap.append(node.source)
        offset[0] += size
    return "".join(parts)


def write_xar(nodes: list[XarNode], out_path: Path) -> None:
    heap: list[Path] = []
    body = _toc(nodes, heap, [0], [20])
    toc = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<xar><toc>'
        '<checksum style="sha1"><offset>0</offset><size>20</size></checksum>'
        f"<creation-time>1970-01-01T00:00:00</creation-time>{body}</toc></xar>"
    ).encode()
    compressed = zlib.compress(toc, 9)
    with out_path.open("wb") as out:
        out.write(HEADER.pack(b"xar!", HEADER.size, 1, len(compressed), len(toc), 1))
        out.write(compressed)
        out.write(hashlib.sha1(compressed, usedforsecurity=False).digest())
        for path in heap:
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    out.write(chunk)

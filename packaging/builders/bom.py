"""Bill of materials (`Bom`) for flat macOS packages, and a reader that lists it like `lsbom`.

Layout from bomutils' bom.h/mkbom.cpp and packaging.md §8.3: a 512-byte header area, the
variables, the blocks, then the block table. Everything is big-endian. There is no `lsbom` on
Linux, so `read_bom` is how tests (and curious admins) check what a package will install.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from packaging.builders.cpio import GID, UID, st_mode
from packaging.payload import Entry

LEAF_CAPACITY = 256
_REVERSE = bytes(int(f"{value:08b}"[::-1], 2) for value in range(256))


def _reflect32(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


def cksum(chunks: list[bytes] | None = None, entry: Entry | None = None) -> tuple[int, int]:
    """POSIX `cksum` (CRC-32, poly 0x04C11DB7, length appended, inverted) and the length.

    Computed with zlib's reflected CRC-32 on bit-reversed bytes, so large binaries cost C speed.
    """
    state, length = 0, 0
    for chunk in entry.chunks() if entry is not None else chunks or []:
        state = zlib.crc32(chunk.translate(_REVERSE), state ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
        length += len(chunk)
    suffix = bytearray()
    remaining = length
    while remaining:
        suffix.append(remaining & 0xFF)
        remaining >>= 8
    state = zlib.crc32(bytes(suffix).translate(_REVERSE), state ^ 0xFFFFFFFF) ^ 0xFFFFFFFF
    return (~_reflect32(state)) & 0xFFFFFFFF, length


class _Blocks:
    def __init__(self) -> None:
        self.blocks: list[bytes] = []

    def add(self, data: bytes) -> int:
        self.blocks.append(data)
        return len(self.blocks)  # block 0 is the null block

    def set(self, index: int, data: bytes) -> None:
        self.blocks[index - 1] = data


def _empty_tree(blocks: _Blocks, block_size: int = 4096) -> int:
    leaf = blocks.add(struct.pack(">HHII", 1, 0, 0, 0))
    return blocks.add(b"tree" + struct.pack(">IIIIB", 1, leaf, block_size, 0, 0))


def write_bom(entries: list[Entry]) -> bytes:
    """A BOM for `entries` (absolute paths) under `.`, owned 0/80, with cksum checksums."""
    nodes = [("", ".", "dir", 0o40755, 0, 0, "")]  # (path, name, kind, mode, size, checksum, link)
    for entry in entries:
        checksum, size = cksum(entry=entry) if entry.kind == "file" else (0, 0)
        if entry.kind == "link":
            checksum, _ = cksum([entry.link.encode()])
        nodes.append((entry.path, entry.path.rsplit("/", 1)[1], entry.kind, st_mode(entry), size, checksum, entry.link))
    # Ids in BFS order: parents before children, children sorted by name.
    by_parent: dict[str, list[tuple]] = {}
    for node in nodes[1:]:
        by_parent.setdefault(node[0].rsplit("/", 1)[0], []).append(node)
    ordered, ids, queue = [nodes[0]], {"": 1}, [""]
    while queue:
        parent = queue.pop(0)
        for node in sorted(by_parent.get(parent, []), key=lambda item: item[1]):
            ids[node[0]] = len(ids) + 1
            ordered.append(node)
            if node[2] == "dir":
                queue.append(node[0])

    blocks = _Blocks()
    info = blocks.add(struct.pack(">III", 1, len(ordered) + 1, 1) + bytes(16))
    pairs = []
    for path, name, kind, mode, size, checksum, link in ordered:
        link_bytes = link.encode() + b"\0" if kind == "link" else b""
        type_code = {"file": 1, "dir": 2, "link": 3}[kind]
        info2 = struct.pack(">BBHHIIIIBII", type_code, 1, 3, mode, UID, GID, 0, size, 1, checksum, len(link_bytes))
        info2_block = blocks.add(info2 + link_bytes)
        info1 = blocks.add(struct.pack(">II", ids[path], info2_block))
        parent_id = 0 if path == "" else ids[path.rsplit("/", 1)[0]]
        file_block = blocks.add(struct.pack(">I", parent_id) + name.encode() + b"\0")
        pairs.append((info1, file_block))

    chunks = [pairs[index : index + LEAF_CAPACITY] for index in range(0, len(pairs), LEAF_CAPACITY)]
    leaves = [blocks.add(b"") for _ in chunks]
    for position, (leaf, chunk) in enumerate(zip(leaves, chunks, strict=True)):
        forward = leaves[position + 1] if position + 1 < len(leaves) else 0
        backward = leaves[position - 1] if position else 0
        body = b"".join(struct.pack(">II", *pair) for pair in chunk)
        blocks.set(leaf, struct.pack(">HHII", 1, len(chunk), forward, backward) + body)
    if len(leaves) == 1:
        top = leaves[0]
    else:  # a branch over the chained leaves, keyed by each leaf's last file
        keys = b"".join(struct.pack(">II", leaf, chunk[-1][1]) for leaf, chunk in zip(leaves, chunks, strict=True))
        top = blocks.add(struct.pack(">HHII", 0, len(leaves), 0, 0) + keys)
    paths = blocks.add(b"tree" + struct.pack(">IIIIB", 1, top, 4096, len(ordered), 0))
    hlindex = _empty_tree(blocks)
    vtree = _empty_tree(blocks, 128)
    vindex = blocks.add(struct.pack(">IIIB", 1, vtree, 0, 0))
    size64 = _empty_tree(blocks)

    variables = [("BomInfo", info), ("Paths", paths), ("HLIndex", hlindex), ("VIndex", vindex), ("Size64", size64)]
    vars_data = struct.pack(">I", len(variables)) + b"".join(
        struct.pack(">IB", index, len(name)) + name.encode() for name, index in variables
    )
    data = bytearray(512)
    vars_offset = len(data)
    data += vars_data
    pointers = [(0, 0)]
    for block in blocks.blocks:
        pointers.append((len(data), len(block)))
        data += block
    index_offset = len(data)
    index = struct.pack(">I", len(pointers)) + b"".join(struct.pack(">II", *pointer) for pointer in pointers)
    index += struct.pack(">I", 0) + bytes(16)  # empty free list and two null pointers
    data += index
    header = b"BOMStore" + struct.pack(
        ">IIIIII", 1, len(blocks.blocks), index_offset, len(index), vars_offset, len(vars_data)
    )
    data[: len(header)] = header
    return bytes(data)


@dataclass
class BomLine:
    path: str
    mode: int
    uid: int
    gid: int
    size: int
    checksum: int
    link: str = ""

    def __str__(self) -> str:
        if self.mode & 0o170000 == 0o100000:
            return f"{self.path}\t{self.mode:o}\t{self.uid}/{self.gid}\t{self.size}\t{self.checksum}"
        if self.mode & 0o170000 == 0o120000:
            return f"{self.path}\t{self.mode:o}\t{self.uid}/{self.gid}\t{self.size}\t{self.checksum}\t{self.link}"
        return f"{self.path}\t{self.mode:o}\t{self.uid}/{self.gid}"


def read_bom(data: bytes) -> list[BomLine]:
    """List a BOM's paths as `lsbom` does, following the leaf chain of the Paths tree."""
    if data[:8] != b"BOMStore":
        raise ValueError("not a BOM")
    _, _, index_offset, _, vars_offset, _ = struct.unpack_from(">IIIIII", data, 8)
    (count,) = struct.unpack_from(">I", data, index_offset)
    pointers = [struct.unpack_from(">II", data, index_offset + 4 + 8 * i) for i in range(count)]

    def block(number: int) -> bytes:
        address, length = pointers[number]
        return data[address : address + length]

    (nvars,) = struct.unpack_from(">I", data, vars_offset)
    variables, offset = {}, vars_offset + 4
    for _ in range(nvars):
        index, length = struct.unpack_from(">IB", data, offset)
        variables[data[offset + 5 : offset + 5 + length].decode()] = index
        offset += 5 + length
    tree = block(variables["Paths"])
    if tree[:4] != b"tree":
        raise ValueError("Paths is not a tree")
    node = struct.unpack_from(">I", tree, 8)[0]
    while struct.unpack_from(">H", block(node), 0)[0] == 0:  # descend branches to the first leaf
        node = struct.unpack_from(">I", block(node), 12)[0]
    names: dict[int, tuple[int, str]] = {}
    rows = []
    while node:
        leaf = block(node)
        _, count, forward, _ = struct.unpack_from(">HHII", leaf, 0)
        for i in range(count):
            info1_block, file_block = struct.unpack_from(">II", leaf, 12 + 8 * i)
            path_id, info2_block = struct.unpack_from(">II", block(info1_block))
            file_data = block(file_block)
            parent = struct.unpack_from(">I", file_data)[0]
            name = file_data[4:].split(b"\0", 1)[0].decode()
            names[path_id] = (parent, name)
            info2 = block(info2_block)
            _, _, _, mode, uid, gid, _, size, _, checksum, link_len = struct.unpack_from(">BBHHIIIIBII", info2)
            link = info2[31 : 31 + link_len].rstrip(b"\0").decode()
            rows.append((path_id, mode, uid, gid, size, checksum, link))
        node = forward

    def full(path_id: int) -> str:
        parent, name = names[path_id]
        return name if parent == 0 else f"{full(parent)}/{name}"

    return [BomLine(full(path_id), *rest) for path_id, *rest in rows]

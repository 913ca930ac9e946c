"""Where carve bytes live: each block as its own object while the carve uploads, then one assembled
tar file. fleetsite.lib.filestore chooses S3 or the data directory (as for software installers).

Nothing here holds a whole carve in memory: blocks are written as they arrive, the assembled file
is written from a spooled temporary file, and reads go out in chunks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage

from carves.models import Carve, CarveBlock
from fleetsite.lib.filestore import CHUNK, storage_for

# Assembling spills to disk past this many bytes.
SPOOL_BYTES = 8 * CHUNK


def carve_storage() -> Storage:
    return storage_for("carves")


def block_name(carve: Carve, block_id: int) -> str:
    return f"{carve.session_id}/block-{block_id:08d}"


def file_name(carve: Carve) -> str:
    return f"{carve.session_id}.tar"


def _replace(storage: Storage, name: str, content: File) -> None:
    """Save under exactly `name`: a leftover of a rolled-back attempt is replaced, never renamed around."""
    if storage.exists(name):
        storage.delete(name)
    saved = storage.save(name, content)
    if saved != name:  # a storage that still renamed: keep the name the reader will look for
        raise OSError(f"carve object stored as {saved}, not {name}")


def save_block(carve: Carve, block_id: int, data: bytes) -> None:
    _replace(carve_storage(), block_name(carve, block_id), ContentFile(data))


def _chunks(storage: Storage, name: str) -> Iterator[bytes]:
    with storage.open(name, "rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def iter_blocks(carve: Carve) -> Iterator[bytes]:
    """The carve's bytes from its blocks, in order; rows from before blocks moved to storage hold their bytes."""
    storage = carve_storage()
    for block_id in range(carve.max_block + 1):
        row = CarveBlock.objects.filter(carve=carve, block_id=block_id).values_list("data", flat=True).first()
        if row is None:
            return
        if len(row):
            yield bytes(row)
        else:
            yield from _chunks(storage, block_name(carve, block_id))


def read_block(carve: Carve, block_id: int) -> bytes | None:
    """One block's bytes (fleetctl fetches carves block by block); None when it never arrived."""
    row = CarveBlock.objects.filter(carve=carve, block_id=block_id).values_list("data", flat=True).first()
    if row is None:
        return None
    if len(row):
        return bytes(row)
    storage = carve_storage()
    if not carve.assembled:
        with storage.open(block_name(carve, block_id), "rb") as handle:
            return handle.read()
    with storage.open(file_name(carve), "rb") as handle:
        handle.seek(block_id * carve.block_size)
        return handle.read(carve.block_size)


def iter_file(carve: Carve) -> Iterator[bytes]:
    """The carved archive in chunks: the assembled file once it exists, else straight from the blocks."""
    if carve.assembled:
        yield from _chunks(carve_storage(), file_name(carve))
    else:
        yield from iter_blocks(carve)


def assemble(carve: Carve) -> bool:
    """Write the complete carve as one object and drop its block objects; False when blocks are missing."""
    if carve.assembled or not carve.complete or carve.expired:
        return False
    storage = carve_storage()
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        size = 0
        for chunk in iter_blocks(carve):
            spool.write(chunk)
            size += len(chunk)
        if size != carve.carve_size:
            return False
        spool.seek(0)
        _replace(storage, file_name(carve), File(spool, name=file_name(carve)))
    Carve.objects.filter(pk=carve.pk).update(assembled=True)
    carve.assembled = True
    for block_id in range(carve.block_count):
        storage.delete(block_name(carve, block_id))
    CarveBlock.objects.filter(carve=carve).update(data=b"")
    return True


def delete_files(carve: Carve) -> None:
    """Remove every object of a carve (expiry)."""
    storage = carve_storage()
    storage.delete(file_name(carve))
    for block_id in range(max(carve.max_block + 1, 0)):
        storage.delete(block_name(carve, block_id))

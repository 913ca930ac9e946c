"""Carve sessions: validating begin requests, accepting blocks in order, reassembling files."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from carves import storage
from carves.models import Carve, CarveBlock
from carves.tasks import assemble_carve
from enrollment.agent.base import AgentError
from fleetsite.lib import bounds
from fleetsite.lib.tokens import same_secret
from hosts.models import Host

MAX_BLOCK_SIZE = 256 * 1024 * 1024  # fleet-protocol §1.6
MAX_CARVE_SIZE = 8 * 1024 * 1024 * 1024
_BLOCK_FIELDS = {"block_id", "session_id", "request_id", "data"}


def _int_field(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AgentError(f"{key} must be an integer")
    return value


def _str_field(body: dict[str, Any], key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise AgentError(f"{key} must be a string")
    return value


def max_block_size() -> int:
    """The largest block that still fits the agent body cap once base64-encoded."""
    return min(MAX_BLOCK_SIZE, (settings.FLEETSITE_AGENT_MAX_BODY - 1024) * 3 // 4)


def begin(host: Host, body: dict[str, Any]) -> Carve:
    """Validate the sizes as Fleet does and open a session with a random id."""
    block_count = _int_field(body, "block_count")
    block_size = _int_field(body, "block_size")
    carve_size = _int_field(body, "carve_size")
    request_id = _str_field(body, "request_id")
    carve_id = _str_field(body, "carve_id")
    if carve_size <= 0:
        raise AgentError("carve_size must be greater than 0")
    if block_size > max_block_size() or block_size <= 0:
        raise AgentError("block_size exceeds max")
    if carve_size > MAX_CARVE_SIZE:
        raise AgentError("carve_size exceeds max")
    if not (block_count - 1) * block_size < carve_size <= block_count * block_size:
        raise AgentError("carve_size does not match block_size and block_count")
    now = timezone.now()
    name = f"{host.hostname or host.pk}-{now.strftime('%Y-%m-%dT%H:%M:%SZ')}-{request_id}"[:255]
    carve = Carve(
        host=host,
        name=name,
        session_id=str(uuid.uuid4()),
        request_id=request_id[:255],
        carve_id=carve_id[:255],
        block_count=block_count,
        block_size=block_size,
        carve_size=carve_size,
        created_at=now,
    )
    bounds.fit_instance(carve, owner=host.pk)
    carve.save(force_insert=True)
    return carve


def add_block(body: dict[str, Any]) -> None:
    """Accept the next block of a session; unknown fields or a wrong request id fail authentication."""
    if set(body) - _BLOCK_FIELDS:
        raise AgentError("Authentication failed", status=401)
    session_id = _str_field(body, "session_id")
    request_id = _str_field(body, "request_id")
    if not bounds.fits(Carve, "session_id", session_id):
        raise AgentError("Authentication failed", status=401)  # no session has such an id
    with transaction.atomic():
        carve = Carve.objects.select_for_update().filter(session_id=session_id, expired=False).first()
        if carve is None or not same_secret(request_id, carve.request_id):
            raise AgentError("Authentication failed", status=401)
        block_id = _int_field(body, "block_id")
        try:
            data = base64.b64decode(_str_field(body, "data"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise AgentError("Bad request: data is not base64") from exc
        problem = _block_problem(carve, block_id, data)
        if not problem:
            # The bytes go to storage first; the row then records the block (the carve row lock
            # keeps two uploads of one block apart).
            storage.save_block(carve, block_id, data)
            try:
                with transaction.atomic():
                    CarveBlock.objects.create(carve=carve, block_id=block_id)
            except IntegrityError as exc:
                raise AgentError(f"Bad request: block {block_id} already received") from exc
            Carve.objects.filter(pk=carve.pk).update(max_block=block_id)
            if block_id == carve.block_count - 1:
                transaction.on_commit(lambda: assemble_carve.delay(carve.pk))
            return
    # Recorded outside the block's transaction, which the error would roll back.
    Carve.objects.filter(pk=carve.pk).update(error=problem)
    raise AgentError(f"Bad request: {problem}")


def _block_problem(carve: Carve, block_id: int, data: bytes) -> str:
    if block_id != carve.max_block + 1:
        return f"block_id {block_id} out of order: expected {carve.max_block + 1}"
    if block_id > carve.block_count - 1:
        return f"block_id {block_id} exceeds block_count {carve.block_count}"
    if len(data) > carve.block_size:
        return f"block {block_id} is larger than block_size {carve.block_size}"
    return ""


def iter_file(carve: Carve) -> Iterator[bytes]:
    """The carved file (an osquery tar archive) in chunks, without loading it whole."""
    return storage.iter_file(carve)


def expire_old(max_age_days: int) -> int:
    """Expire carves older than `max_age_days` and free their blocks (Fleet expires carves too)."""
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(days=max_age_days)
    old = Carve.objects.filter(created_at__lt=cutoff, expired=False)
    ids = list(old.values_list("id", flat=True))
    if ids:
        for carve in Carve.objects.filter(pk__in=ids):
            storage.delete_files(carve)
        CarveBlock.objects.filter(carve_id__in=ids).delete()
        Carve.objects.filter(pk__in=ids).update(expired=True)
    return len(ids)

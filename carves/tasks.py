"""Background work for carves: assembling a finished carve into one stored file (STYLE 5.3: queued on commit)."""

from __future__ import annotations

from celery import shared_task

from carves import storage
from carves.models import Carve


@shared_task(name="assemble-carve")
def assemble_carve(carve_id: int) -> bool:
    carve = Carve.objects.filter(pk=carve_id).first()
    return carve is not None and storage.assemble(carve)

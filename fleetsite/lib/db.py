"""Database helpers that keep concurrent agent writes from failing."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction

logger = logging.getLogger(__name__)

T = TypeVar("T")

# MySQL/MariaDB: 1213 deadlock, 1205 lock wait timeout. PostgreSQL: SQLSTATE 40P01 deadlock
# detected. SQLite: "database is locked".
_RETRYABLE_CODES = {1213, 1205}
_RETRYABLE_SQLSTATES = {"40P01"}


def _retryable(error: OperationalError) -> bool:
    code = error.args[0] if error.args else None
    sqlstate = getattr(error.__cause__, "sqlstate", None) or getattr(error.__cause__, "pgcode", None)
    return code in _RETRYABLE_CODES or sqlstate in _RETRYABLE_SQLSTATES or "database is locked" in str(error)


def atomic_with_retry(work: Callable[[], T], attempts: int = 4) -> T:
    """Run `work` in a transaction, again from the start when the database picked it as a deadlock victim.

    The whole transaction rolled back, so repeating it cannot half-apply anything.
    """
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as error:
            if attempt == attempts or not _retryable(error) or transaction.get_connection().in_atomic_block:
                raise
            logger.info("retrying a transaction after %s (attempt %d)", error, attempt)
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")

"""Row locks that work on every supported database."""

from __future__ import annotations

from django.db import connections
from django.db.models import QuerySet


def lock_own_rows(queryset: QuerySet) -> QuerySet:
    """`select_for_update` of the queryset's own table only, where the database can say so.

    MariaDB has no `FOR UPDATE OF`: there the joined rows of `select_related` are locked too,
    which is harmless for the short result-storing transactions that use this.
    """
    if connections[queryset.db].features.has_select_for_update_of:
        return queryset.select_for_update(of=("self",))
    return queryset.select_for_update()

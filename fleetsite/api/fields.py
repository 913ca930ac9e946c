"""Serializer fields shared by the REST API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

# Primary keys are BigAutoField: a larger number can name no row, and some drivers
# (SQLite's) refuse to bind it at all, so it is a validation error rather than a 500.
MAX_ID = 2**63 - 1


class ObjectIdField(serializers.IntegerField):
    """A row id in a request body: 1 .. MAX_ID unless told otherwise (team ids allow 0, "no team")."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)

"""Make agent-supplied values fit the model field they land in (issue 12 findings 5 and 6).

Agents send whatever their tables hold: a memory size of 1e999, a uid of 10^23, a hostname
with a NUL byte. MariaDB (strict) refuses such a value with an error that would roll back the
whole check-in, PostgreSQL refuses NUL bytes in text and JSON, SQLite stores anything. So every
value is fitted before it is written, by the field's own metadata, and new columns are covered
without a list to maintain:

* integers outside the range of the field's type (on this database and on every supported one,
  so data moves between them) and floats that are not finite become *unknown*: NULL when the
  column allows it, else its default, else 0;
* text loses NUL bytes and is cut to `max_length`; JSON loses NUL bytes in keys and strings.

Each value changed is logged once per owner (host) and field, not on every check-in.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import OrderedDict
from functools import cache
from typing import Any

import orjson
from django.db import connection, models
from django.db.backends.base.operations import BaseDatabaseOperations

logger = logging.getLogger(__name__)

_NUL = "\x00"
# A JSON `\u0000` escape: preceded by an even number of backslashes, so not itself escaped.
_JSON_NUL = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")
_LOGGED_LIMIT = 10_000
_logged: OrderedDict[tuple[str, str, Any], None] = OrderedDict()
_logged_lock = threading.Lock()

UNKNOWN: Any = object()  # "use the field's own notion of unknown"


class _Unfit(Exception):
    """The value cannot be stored in the field at all."""


@cache
def _field(model: type[models.Model], name: str) -> models.Field:
    return model._meta.get_field(name)


@cache
def _integer_range(internal_type: str, vendor: str) -> tuple[int, int] | None:
    """The range every supported database accepts for this integer type, or None if not an integer type."""
    portable = BaseDatabaseOperations.integer_field_ranges.get(internal_type)
    if portable is None:
        return None
    low, high = connection.ops.integer_field_range(internal_type)
    return (
        portable[0] if low is None else max(low, portable[0]),
        portable[1] if high is None else min(high, portable[1]),
    )


def unknown_value(field: models.Field) -> Any:
    """What a field stores when the agent's value cannot be kept."""
    if field.null:
        return None
    if field.has_default():
        return field.get_default()
    if isinstance(field, models.FloatField):
        return 0.0
    if isinstance(field, models.IntegerField):
        return 0
    return ""


def clean_text(value: str) -> str:
    """`value` without NUL bytes, which PostgreSQL cannot store."""
    return value.replace(_NUL, "") if _NUL in value else value


def clean_json(value: Any) -> Any:
    """`value` with NUL bytes removed from every key and string, however deeply nested.

    Works on the serialized text so that depth costs no Python recursion; raises `_Unfit`
    when the value is too deep to serialize at all.
    """
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    try:
        text = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError) as exc:
        raise _Unfit(str(exc)) from exc
    if b"\\u0000" not in text:
        return value
    return orjson.loads(_JSON_NUL.sub(rb"\1", text))


def fit_json_list(model: type[models.Model], name: str, items: list, owner: Any = None) -> tuple[list, list[bytes]]:
    """A JSON list fitted to `model.name`, with each item's JSON text, serializing each item once.

    Live-query answers are written both whole and row by row: fitting then serializing would
    serialize every row twice. Only a list holding NUL bytes (or too deep to serialize) is
    fitted as `fit` does, then serialized again.
    """
    try:
        texts = [orjson.dumps(item) for item in items]
    except (orjson.JSONEncodeError, TypeError):
        texts = None
    if texts is None or any(b"\\u0000" in text for text in texts):
        items = fit(model, name, items, owner) or []
        texts = [orjson.dumps(item) for item in items]
    return items, texts


def _fit_integer(value: Any, bounds: tuple[int, int]) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Unfit("not a finite number")
        value = int(value)
    if not bounds[0] <= value <= bounds[1]:
        raise _Unfit(f"outside {bounds[0]}..{bounds[1]}")
    return value


def _fit_float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    try:
        number = float(value)
    except OverflowError as exc:
        raise _Unfit("too large for a float") from exc
    if not math.isfinite(number):
        raise _Unfit("not a finite number")
    return value


def _fit_text(field: models.Field, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    limit = getattr(field, "max_length", None)
    if limit and len(value) > limit:
        value = value[:limit]
    return value


def fit_field(field: models.Field, value: Any) -> Any:
    """`value` as `field` can store it; raises `_Unfit` when only unknown will do."""
    if value is None:
        return None
    internal_type = field.get_internal_type()
    integer_range = _integer_range(internal_type, connection.vendor)
    if integer_range is not None:
        return _fit_integer(value, integer_range)
    if isinstance(field, models.FloatField):
        return _fit_float(value)
    if isinstance(field, models.JSONField):
        return clean_json(value)
    if isinstance(field, models.CharField | models.TextField):
        return _fit_text(field, value)
    return value


@cache
def _text_limit(model: type[models.Model], name: str) -> int | None:
    """The longest text `model.name` holds (0: unlimited), or None when it is no text field."""
    field = _field(model, name)
    if not isinstance(field, models.CharField | models.TextField):
        return None
    return getattr(field, "max_length", None) or 0


def fit(model: type[models.Model], name: str, value: Any, owner: Any = None, unknown: Any = UNKNOWN) -> Any:
    """`value` fitted to `model.name`; unknown (or `unknown`) when it cannot be stored."""
    if type(value) is str and _NUL not in value:
        # The common case, checked first: agents send hundreds of short strings per check-in.
        limit = _text_limit(model, name)
        if limit is not None and (not limit or len(value) <= limit):
            return value
    field = _field(model, name)
    try:
        fitted = fit_field(field, value)
    except _Unfit as exc:
        fitted = unknown_value(field) if unknown is UNKNOWN else unknown
        _log_once(model, name, owner, logging.WARNING, "%r is %s; stored %r", _short(value), exc, fitted)
        return fitted
    if fitted is not value and fitted != value:
        _log_once(model, name, owner, logging.INFO, "%r stored as %r", _short(value), _short(fitted))
    return fitted


def fit_values(model: type[models.Model], values: dict[str, Any], owner: Any = None) -> dict[str, Any]:
    """A copy of `values` (column name → value, as for `update()`) with every value fitted."""
    return {name: fit(model, name, value, owner) for name, value in values.items()}


def fit_instance(instance: models.Model, owner: Any = None) -> models.Model:
    """Fit every concrete, non-relational field of an unsaved or changed instance, in place."""
    model = type(instance)
    for field in model._meta.concrete_fields:
        if field.is_relation or field.primary_key or field.generated:  # the database writes generated columns
            continue
        current = getattr(instance, field.attname)
        fitted = fit(model, field.name, current, owner)
        if fitted is not current:
            setattr(instance, field.attname, fitted)
    return instance


def fits(model: type[models.Model], name: str, value: str) -> bool:
    """Whether an identifier can be stored and looked up unchanged: no NUL byte, within max_length."""
    limit = _field(model, name).max_length
    return _NUL not in value and (limit is None or len(value) <= limit)


def parse_id(text: str) -> int | None:
    """A row id written in a query name (`fleet_label_query_<id>`), or None if it cannot be one."""
    high = BaseDatabaseOperations.integer_field_ranges["BigAutoField"][1]
    # The length check first: int() refuses (ValueError) texts of more than 4,300 digits.
    if not text.isascii() or not text.isdigit() or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if 0 < value <= high else None


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > 80:
        return f"{value[:80]}… ({len(value)} characters)"
    return value


def _log_once(model: type[models.Model], name: str, owner: Any, level: int, message: str, *args: Any) -> None:
    """Log a fitted value once per (field, owner): an agent repeats the same value on every check-in."""
    key = (model._meta.label, name, owner)
    with _logged_lock:
        if key in _logged:
            return
        _logged[key] = None
        if len(_logged) > _LOGGED_LIMIT:
            _logged.popitem(last=False)
    logger.log(level, "%s.%s for %s: " + message, model._meta.label, name, owner, *args)


def forget_logged() -> None:
    """Tests: log every value again."""
    with _logged_lock:
        _logged.clear()

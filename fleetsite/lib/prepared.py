"""A `.values()` query compiled once, then run for any list of primary keys.

Why: compiling a wide `.values()` query with annotations cost about 2.5 CPU-ms per request,
more than running it. List pages first select the ids of one page (a narrow query the
FilterSet builds, which the database answers from an index even deep into the list), then
fetch those rows with this SQL, prepared once per database alias.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.models import Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    names: list[str]
    converters: dict[int, tuple[list[Any], Any]]
    pk_name: str


class RowsByPk:
    """`RowsByPk(build).fetch(pks)`: the rows of `build()` for these pks, in the order given.

    `build` returns a `.values()` queryset with no filter, ordering or slice that selects the
    primary key under its own name; the WHERE is added here. Missing pks (rows deleted meanwhile) are skipped.
    `rename` gives some columns other keys in the rows (say, a name the queryset could not use
    because a model field has it).
    """

    def __init__(self, build: Callable[[], QuerySet], rename: dict[str, str] | None = None) -> None:
        self._build = build
        self._rename = rename or {}
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._model: type | None = None

    def _compile(self, alias: str) -> _Compiled:
        connection = connections[alias]
        key = (alias, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            queryset = self._build().using(alias).order_by()
            query = queryset.query
            if query.where or query.is_sliced:
                raise ValueError("RowsByPk builds its own WHERE; give it an unfiltered, unsliced queryset")
            compiler = query.get_compiler(alias)
            sql, params = compiler.as_sql()
            expressions = [expression for expression, _, _ in compiler.select]
            meta = query.get_meta()
            pk_column = f"{connection.ops.quote_name(meta.db_table)}.{connection.ops.quote_name(meta.pk.column)}"
            names = [alias_ or expression.target.attname for expression, _, alias_ in compiler.select]
            compiled = _Compiled(
                sql=f"{sql} WHERE {pk_column} IN ",
                params=tuple(params),
                names=[self._rename.get(name, name) for name in names],
                converters=compiler.get_converters(expressions),
                pk_name=meta.pk.attname,
            )
            self._compiled[key] = compiled
        return compiled

    def fetch(self, pks: Iterable[int], alias: str | None = None) -> list[dict[str, Any]]:
        """Rows for `pks`, from the database the router picks for reads (the replica in a list view)."""
        pks = list(pks)
        if not pks:
            return []
        if alias is None:
            if self._model is None:
                self._model = self._build().model
            alias = router.db_for_read(self._model) or DEFAULT_DB_ALIAS
        compiled = self._compile(alias)
        connection = connections[alias]
        if all(type(pk) is int for pk in pks):
            # Integers written into the SQL: the driver quoting 100 parameters cost 0.15 ms.
            in_list, params = ", ".join(map(str, pks)), [*compiled.params]
        else:
            in_list, params = ", ".join(["%s"] * len(pks)), [*compiled.params, *pks]
        with connection.cursor() as cursor:
            cursor.execute(f"{compiled.sql}({in_list})", params)
            fetched = cursor.fetchall()
        by_pk: dict[Any, dict[str, Any]] = {}
        names, converters, pk_name = compiled.names, compiled.converters, compiled.pk_name
        for raw in fetched:
            row = dict(zip(names, _converted(raw, converters, connection), strict=True))
            by_pk[row[pk_name]] = row
        return [by_pk[pk] for pk in pks if pk in by_pk]


def _converted(row: Any, converters: dict[int, tuple[list[Any], Any]], connection: Any) -> list[Any]:
    """A raw cursor row with Django's converters applied, as the ORM applies them to its results."""
    values = list(row)
    for index, (functions, expression) in converters.items():
        for function in functions:
            values[index] = function(values[index], expression, connection)
    return values


# The value a lookup's queryset is compiled with; the real value takes its place as the parameter.
_PLACEHOLDER = "\x00prepared-lookup\x00"


@dataclass(frozen=True)
class _CompiledLookup:
    sql: str
    converters: dict[int, tuple[list[Any], Any]]
    klass_info: dict[str, Any]
    attnames: list[str]


class OneByValue:
    """`OneByValue(build).get(value)`: the first instance `build(value)` finds, SQL compiled once per database.

    `build` filters on one value, may `select_related` and `only`; the instance comes back as
    the ORM would build it (related objects cached, unloaded fields deferred). For the lookups
    every request makes first (agent node keys, API tokens), where compiling the ORM query cost
    more than the rest of an idle agent check-in.
    """

    def __init__(self, build: Callable[[Any], QuerySet]) -> None:
        self._build = build
        self._compiled: dict[tuple[str, str], _CompiledLookup] = {}

    def _compile(self, alias: str) -> _CompiledLookup:
        key = (alias, connections[alias].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiler = self._build(_PLACEHOLDER).using(alias)[:1].query.get_compiler(alias)
            sql, params = compiler.as_sql()
            if list(params) != [_PLACEHOLDER]:
                raise ValueError("OneByValue needs a queryset with exactly one parameter, the looked-up value")
            expressions = [expression for expression, _, _ in compiler.select]
            compiled = _CompiledLookup(
                sql=sql,
                converters=compiler.get_converters(expressions),
                klass_info=compiler.klass_info,
                attnames=[expression.target.attname for expression in expressions],
            )
            self._compiled[key] = compiled
        return compiled

    def get(self, value: Any, alias: str = DEFAULT_DB_ALIAS) -> Any:
        compiled = self._compile(alias)
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, [value])
            row = cursor.fetchone()
        if row is None:
            return None
        values = _converted(row, compiled.converters, connection)
        return _instance(compiled.klass_info, compiled.attnames, values, alias)


class FirstRowByValue:
    """`FirstRowByValue(build, placeholder).get(value)`: the first row of `build(value)` as the driver gives it.

    Like OneByValue, compiled once per database, for a `.values_list()` query whose value may
    stand more than once (each side of a UNION): every parameter equal to `placeholder` takes the
    value. `placeholder` must be of the value's type (an integer column refuses the text one) and
    never a real value. No converters run: for ids and keys, not dates.
    """

    def __init__(self, build: Callable[[Any], QuerySet], placeholder: Any = _PLACEHOLDER) -> None:
        self._build = build
        self._placeholder = placeholder
        self._compiled: dict[tuple[str, str], tuple[str, tuple[Any, ...], tuple[int, ...]]] = {}

    def _is_placeholder(self, param: Any) -> bool:
        return type(param) is type(self._placeholder) and param == self._placeholder

    def _compile(self, alias: str) -> tuple[str, tuple[Any, ...], tuple[int, ...]]:
        key = (alias, connections[alias].vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            query = self._build(self._placeholder).using(alias)[:1].query
            sql, params = query.get_compiler(alias).as_sql()
            positions = tuple(index for index, param in enumerate(params) if self._is_placeholder(param))
            if not positions:
                raise ValueError("FirstRowByValue needs a queryset that filters on the looked-up value")
            compiled = self._compiled[key] = (sql, tuple(params), positions)
        return compiled

    def get(self, value: Any, alias: str = DEFAULT_DB_ALIAS) -> tuple[Any, ...] | None:
        sql, params, positions = self._compile(alias)
        values = list(params)
        for index in positions:
            values[index] = value
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, values)
            row = cursor.fetchone()
        return None if row is None else tuple(row)


def _instance(klass_info: dict[str, Any], attnames: list[str], values: list[Any], alias: str) -> Any:
    """The model instance of `klass_info` from one row, with its select_related objects cached on it."""
    fields = klass_info["select_fields"]
    model = klass_info["model"]
    names = [attnames[i] for i in fields]
    row = [values[i] for i in fields]
    if row[names.index(model._meta.pk.attname)] is None:
        return None  # a nullable foreign key with nothing behind it
    instance = _from_db(model, alias, names, row)
    for related in klass_info.get("related_klass_infos", []):
        related_instance = _instance(related, attnames, values, alias)
        related["local_setter"](instance, related_instance)
        if related_instance is not None:
            related["remote_setter"](related_instance, instance)
    return instance


def _from_db(model: type[Model], alias: str, names: list[str], row: list[Any]) -> Model:
    """`model.from_db(alias, names, row)`, without Model.__init__ when no init signal listens.

    For a model with many columns and a few loaded, `from_db` spent more time padding the row
    with deferred markers and skipping them again in `__init__` than the query took. An instance
    with its loaded columns set (the others absent, so deferred, as Django sees them) and its
    `_state` is what `__init__` would have built.
    """
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(alias, names, row)
    instance = model.__new__(model)
    state = ModelState()
    state.adding = False
    state.db = alias
    instance._state = state
    for name, value in zip(names, row, strict=True):
        setattr(instance, name, value)  # through the field's descriptor, as __init__ does
    return instance

"""Creating, listing and deleting secret variables, for the spec route gitops uses and the REST routes the UI uses."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from accounts import permissions
from accounts.models import User
from activities.record import record
from fleetsite.api.errors import conflict, forbidden, not_found, validation_failed
from variables import crypto
from variables.models import SecretVariable

PREFIX = "FLEET_SECRET_"
CREATED_CUSTOM_VARIABLE = "created_custom_variable"
DELETED_CUSTOM_VARIABLE = "deleted_custom_variable"
_NAME = re.compile(r"^[A-Z0-9_]+$")
# `$FLEET_SECRET_NAME` or `${FLEET_SECRET_NAME}`, as Fleet finds them in scripts and profiles.
_REFERENCE = re.compile(r"\$(?:\{FLEET_SECRET_([A-Z0-9_]+)\}|FLEET_SECRET_([A-Z0-9_]+))")
MAX_VALUE_LENGTH = 65_535


def require(user: User, action: str) -> None:
    if not permissions.can(user, action, permissions.Kind.VARIABLE):
        raise forbidden()


def checked_name(name: Any) -> str:
    """Fleet's rule: upper-case letters, digits and underscores, at most 255 (a `FLEET_SECRET_` prefix is dropped)."""
    if not isinstance(name, str) or not name:
        raise validation_failed("name", "secret variable name cannot be empty")
    name = name.removeprefix(PREFIX)
    if not name:
        raise validation_failed("name", "secret variable name cannot be empty")
    if len(name) > 255:
        raise validation_failed("name", f"secret variable name is too long: {name[:64]}")
    if not _NAME.match(name):
        raise validation_failed("name", f"secret variable with invalid format: {name}")
    return name


def checked_value(value: Any) -> str:
    if not isinstance(value, str) or value == "":
        raise validation_failed("value", "secret variable value cannot be empty")
    if len(value) > MAX_VALUE_LENGTH:
        raise validation_failed("value", f"secret variable value is longer than {MAX_VALUE_LENGTH} characters")
    return value


def upsert(user: User, secrets: Any, dry_run: bool = False) -> int:
    """`PUT /spec/secret_variables`: set each name's value, all or nothing; unchanged values are not rewritten."""
    require(user, permissions.Action.WRITE)
    if not isinstance(secrets, list) or not all(isinstance(item, dict) for item in secrets):
        raise validation_failed("secrets", 'expected a list of {"name", "value"} objects')
    wanted: dict[str, str] = {}
    for item in secrets:
        wanted[checked_name(item.get("name"))] = checked_value(item.get("value"))
    if dry_run:
        return 0
    changed = 0
    with transaction.atomic():
        existing = {row.name: row for row in SecretVariable.objects.select_for_update().filter(name__in=wanted)}
        for name, value in wanted.items():
            row = existing.get(name)
            if row is None:
                SecretVariable.objects.create(name=name, value_encrypted=crypto.encrypt(value))
            elif crypto.decrypt(row.value_encrypted) != value:
                row.value_encrypted = crypto.encrypt(value)
                row.save(update_fields=["value_encrypted", "updated_at"])
            else:
                continue
            changed += 1
    return changed


def create(user: User, name: Any, value: Any) -> SecretVariable:
    require(user, permissions.Action.WRITE)
    name, value = checked_name(name), checked_value(value)
    try:
        with transaction.atomic():
            row = SecretVariable.objects.create(name=name, value_encrypted=crypto.encrypt(value))
            record(user, CREATED_CUSTOM_VARIABLE, {"custom_variable_id": row.pk, "custom_variable_name": name})
    except IntegrityError as exc:
        raise conflict(f"Couldn't add. A secret variable named {name} already exists.") from exc
    return row


def listed(user: User) -> QuerySet:
    require(user, permissions.Action.READ)
    return SecretVariable.objects.order_by("name", "id")


def delete(user: User, variable_id: int) -> None:
    """Delete a variable no saved script uses (Fleet's 409 names the script that does)."""
    require(user, permissions.Action.WRITE)
    with transaction.atomic():
        row = SecretVariable.objects.filter(pk=variable_id).first()
        if row is None:
            raise not_found(f"SecretVariable {variable_id} was not found in the datastore")
        user_script = _script_using(row.name)
        if user_script is not None:
            where = f'the "{user_script.team.name}" team' if user_script.team_id else "no team"
            raise conflict(
                f'Couldn\'t delete. {PREFIX}{row.name} is used by the "{user_script.name}" script in {where}. '
                "Please edit or delete the script and try again."
            )
        row.delete()
        record(user, DELETED_CUSTOM_VARIABLE, {"custom_variable_id": variable_id, "custom_variable_name": row.name})


def value_of(name: str) -> str | None:
    """The clear value for `$FLEET_SECRET_<name>` substitution on the way to a host; None when unknown."""
    row = SecretVariable.objects.filter(name=name.removeprefix(PREFIX)).first()
    return crypto.decrypt(row.value_encrypted) if row else None


def references(text: str) -> set[str]:
    """The secret variable names `text` refers to."""
    return {braced or bare for braced, bare in _REFERENCE.findall(text)}


def _script_using(name: str) -> Any:
    from scripts.models import Script

    for script in Script.objects.select_related("team").filter(contents__contains=f"{PREFIX}{name}"):
        if name in references(script.contents):
            return script
    return None


def expand(text: str) -> str:
    """`text` with each known `$FLEET_SECRET_X` replaced by its value, on the way to a host.

    One query, and none when the text names no secret, so agent endpoints stay constant-cost.
    Unknown names stay as written (the host's shell sees an unset variable, as it would in Fleet).
    """
    names = references(text)
    if not names:
        return text
    values = {row.name: crypto.decrypt(row.value_encrypted) for row in SecretVariable.objects.filter(name__in=names)}

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return _REFERENCE.sub(substitute, text)

"""Label changes for REST and UI alike: visibility, create, modify, delete and spec apply, with activities.

Global labels are visible to everyone with a role, team labels to that team's users. Built-in
labels are Fleet's own and cannot be changed or deleted (a 422 naming `label_type`). PATCH cannot
change a dynamic label's query, as in Fleet (its memberships were computed from it); `fleetctl
apply` (the spec) can, since a spec is the desired state.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import User
from activities.record import record
from fleetsite.api.errors import conflict, forbidden, not_found, validation_failed
from hosts.choices import LabelMembershipType, LabelType
from hosts.models import Host, Label
from queries.sql import SQLError, validate_read_only

# Fleet's activity types.
CREATED_LABEL = "created_label"
EDITED_LABEL = "edited_label"
DELETED_LABEL = "deleted_label"


def visible_labels(user: User) -> QuerySet:
    """Global labels for everyone with a role; team labels for that team's users."""
    labels = Label.objects.all()
    teams = permissions.visible_team_ids(user)
    if teams is None:
        return labels
    return labels.filter(Q(team__isnull=True) | Q(team_id__in=teams)) if teams else labels.none()


def visible_hosts(user: User) -> QuerySet:
    return permissions.scope_to_teams(Host.objects.all(), user)


def get_label(user: User, label_id: int) -> Label:
    label = visible_labels(user).filter(pk=label_id).first()
    if label is None:
        raise not_found(f"Label {label_id} was not found in the datastore")
    return label


def may_write(user: User, team_id: int | None = None) -> bool:
    return permissions.can(user, permissions.Action.WRITE, permissions.Kind.LABEL, team_id)


def check_writable(user: User, label: Label, verb: str) -> None:
    """403 without write access; 422 for Fleet's built-in labels."""
    if not may_write(user, label.team_id):
        raise forbidden()
    if label.label_type == LabelType.BUILTIN:
        raise validation_failed("label_type", f"cannot {verb} built-in label '{label.name}'")


def checked_sql(sql: str, field: str = "query") -> str:
    """The label query, or a 422 with the SQL error and its position."""
    if not sql.strip():
        raise validation_failed(field, "a dynamic label needs a query")
    try:
        validate_read_only(sql)
    except SQLError as exc:
        raise validation_failed(field, str(exc)) from exc
    return sql


def details(label: Label) -> dict[str, Any]:
    return {"label_id": label.pk, "label_name": label.name}


def _clean_name(name: str, exclude: int | None = None) -> str:
    name = name.strip()
    if not name:
        raise validation_failed("name", "label name cannot be empty")
    if Label.objects.filter(name=name).exclude(pk=exclude).exists():
        raise conflict(f"a label named {name!r} already exists")
    return name


def create(
    user: User,
    name: str,
    description: str = "",
    query: str = "",
    platform: str = "",
    host_ids: list[int] | None = None,
) -> Label:
    """A dynamic label (with `query`) or a manual one (with `host_ids`, hosts the user sees)."""
    if not may_write(user):
        raise forbidden()
    name = _clean_name(name)
    manual = host_ids is not None
    if not manual:
        checked_sql(query)
    try:
        with transaction.atomic():
            label = Label.objects.create(
                name=name,
                description=description,
                query="" if manual else query,
                platform=platform,
                label_type=LabelType.REGULAR,
                label_membership_type=LabelMembershipType.MANUAL if manual else LabelMembershipType.DYNAMIC,
                author=user,
            )
            if manual:
                label.hosts.set(visible_hosts(user).filter(pk__in=host_ids))
            record(user, CREATED_LABEL, details(label), team=label.team)
    except IntegrityError as exc:
        raise conflict(f"a label named {name!r} already exists") from exc
    return label


def modify(user: User, label: Label, data: dict[str, Any]) -> Label:
    """Rename, describe, or (manual labels) set the hosts; records `edited_label`."""
    check_writable(user, label, "modify")
    if "query" in data and data["query"] != label.query:
        raise validation_failed("query", "a label's query cannot be changed; create a new label instead")
    if "platform" in data and data["platform"] != label.platform:
        raise validation_failed("platform", "a label's platform cannot be changed; create a new label instead")
    if "host_ids" in data and label.label_membership_type != LabelMembershipType.MANUAL:
        raise validation_failed("host_ids", "only manual labels take a list of hosts")
    name = _clean_name(data.get("name", label.name), exclude=label.pk)
    label.name = name
    label.description = data.get("description", label.description)
    try:
        with transaction.atomic():
            label.save()
            if "host_ids" in data:
                label.hosts.set(visible_hosts(user).filter(pk__in=data["host_ids"]))
            record(user, EDITED_LABEL, details(label), team=label.team)
    except IntegrityError as exc:
        raise conflict(f"a label named {name!r} already exists") from exc
    return label


def delete(user: User, label: Label) -> None:
    check_writable(user, label, "delete")
    with transaction.atomic():
        info, team = details(label), label.team
        label.delete()
        record(user, DELETED_LABEL, info, team=team)


def resolve_hosts(user: User, identifiers: list[str]) -> list[int]:
    """fleetctl names manual label hosts by hostname, UUID, serial or osquery identifier; unknown ones are a 422."""
    wanted = set(identifiers)
    matches = visible_hosts(user).filter(
        Q(hostname__in=wanted) | Q(uuid__in=wanted) | Q(hardware_serial__in=wanted) | Q(osquery_host_id__in=wanted)
    )
    found: dict[str, int] = {}
    for host in matches.only("id", "hostname", "uuid", "hardware_serial", "osquery_host_id"):
        for value in (host.hostname, host.uuid, host.hardware_serial, host.osquery_host_id):
            if value in wanted:
                found.setdefault(value, host.pk)
    unknown = [identifier for identifier in identifiers if identifier not in found]
    if unknown:
        raise validation_failed("hosts", f"unknown hosts: {', '.join(unknown[:10])}")
    return list(dict.fromkeys(found[identifier] for identifier in identifiers))


def apply_specs(user: User, specs: list[dict[str, Any]]) -> None:
    """Create labels by name or update them, all or nothing (`POST /spec/labels`)."""
    if not may_write(user):
        raise forbidden()
    names = [spec["name"] for spec in specs]
    if len(set(names)) != len(names):
        raise validation_failed("specs", "label names must be unique within the specs")
    existing = {label.name: label for label in Label.objects.filter(name__in=names)}
    with transaction.atomic():
        for spec in specs:
            _apply_spec(user, spec, existing.get(spec["name"]))


def _apply_spec(user: User, spec: dict[str, Any], label: Label | None) -> None:
    manual = spec["label_membership_type"] == LabelMembershipType.MANUAL
    if label is None:
        label = Label.objects.create(
            name=spec["name"],
            description=spec["description"],
            query=spec["query"],
            platform=spec["platform"],
            label_type=LabelType.REGULAR,
            label_membership_type=spec["label_membership_type"],
            author=user,
        )
        activity = CREATED_LABEL
    else:
        if label.label_type == LabelType.BUILTIN:
            raise validation_failed("label_type", f"cannot modify built-in label '{label.name}'")
        if label.label_membership_type != spec["label_membership_type"]:
            raise validation_failed("label_membership_type", f"cannot change the type of label '{label.name}'")
        label.description = spec["description"]
        if not manual:
            label.query, label.platform = spec["query"], spec["platform"]
        label.save()
        activity = EDITED_LABEL
    if manual and "hosts" in spec:
        label.hosts.set(resolve_hosts(user, spec["hosts"]))
    record(user, activity, details(label), team=label.team)

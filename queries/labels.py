"""Label changes for REST and UI alike: visibility, create, modify, delete and spec apply, with activities.

Global labels are visible to everyone with a role, team labels to that team's users. Built-in
labels are Fleet's own and cannot be changed or deleted (a 422 naming `label_type`). PATCH cannot
change a dynamic label's query, as in Fleet (its memberships were computed from it); `fleetctl
apply` (the spec) can, since a spec is the desired state.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet

from accounts import permissions
from accounts.models import Team, User
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


# What names a host in a manual label, as people know it: Fleet's hostname, UUID and serial, plus
# the display name and osquery's host identifier. Never the node key: that is the agent's credential.
HOST_IDENTIFIERS = ("hostname", "computer_name", "hardware_serial", "uuid", "osquery_host_id")


def resolve_hosts(user: User, identifiers: list[str]) -> list[int]:
    """The hosts named by `identifiers` (any of HOST_IDENTIFIERS), in order; a 422 names the unknown
    ones, and any identifier that fits more than one host, with those hosts, so none is picked by chance."""
    wanted = {identifier for identifier in identifiers if identifier}
    if not wanted:
        return []
    anywhere = Q()
    for field in HOST_IDENTIFIERS:
        anywhere |= Q(**{f"{field}__in": wanted})
    found: dict[str, dict[int, Host]] = {}
    for host in visible_hosts(user).filter(anywhere).select_related("team").order_by("pk"):
        for field in HOST_IDENTIFIERS:
            value = getattr(host, field)
            if value in wanted:
                found.setdefault(value, {})[host.pk] = host
    unknown = [identifier for identifier in identifiers if identifier not in found]
    if unknown:
        raise validation_failed("hosts", f"unknown hosts: {', '.join(unknown[:10])}")
    ambiguous = [
        (identifier, found[identifier]) for identifier in dict.fromkeys(identifiers) if len(found[identifier]) > 1
    ]
    if ambiguous:
        parts = [
            f"“{identifier}” matches {len(hosts)} hosts: {', '.join(map(_host_summary, list(hosts.values())[:5]))}"
            for identifier, hosts in ambiguous[:5]
        ]
        raise validation_failed("hosts", "; ".join(parts) + ". Name each of them by serial number or UUID instead.")
    return list(dict.fromkeys(next(iter(found[identifier])) for identifier in identifiers))


def _host_summary(host: Host) -> str:
    """Enough to tell hosts of the same name apart: serial, UUID, team and id."""
    team = host.team.name if host.team_id else "no team"
    serial, uuid = host.hardware_serial or "—", host.uuid or "—"
    return f"{host.display_name or host.pk} (serial {serial}, UUID {uuid}, {team}, id {host.pk})"


def member_identifiers(user: User, label: Label, limit: int = 5000) -> list[str]:
    """The label's hosts that `user` sees, one identifier each that names only that host (the hostname
    where it is unique, else the UUID or osquery identifier), so saving the list unchanged still works."""
    members = list(visible_hosts(user).filter(labels=label).order_by("hostname")[:limit])
    names = {host.hostname for host in members if host.hostname}
    shared = set(
        visible_hosts(user)
        .filter(hostname__in=names)
        .values("hostname")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("hostname", flat=True)
    ) if names else set()  # fmt: skip
    return [
        host.hostname if host.hostname and host.hostname not in shared else host.uuid or host.osquery_host_id or ""
        for host in members
    ]


def apply_specs(
    user: User, specs: list[dict[str, Any]], team: Team | None = None, names_to_move: list[str] | tuple = ()
) -> None:
    """Create labels by name or update them, all or nothing (`POST /spec/labels[?team_id=]`).

    Label names are unique across teams: a spec naming another scope's label is a conflict, unless
    gitops lists it in `names_to_move` (a label moved from one team file to another).
    """
    if not may_write(user, team.pk if team else None):
        raise forbidden()
    names = [spec["name"] for spec in specs]
    if len(set(names)) != len(names):
        raise validation_failed("specs", "label names must be unique within the specs")
    existing = {label.name: label for label in Label.objects.filter(name__in=names)}
    moving = set(names_to_move)
    for label in existing.values():
        if label.team_id != (team.pk if team else None):
            if label.name not in moving:
                raise conflict(f"a label named {label.name!r} already exists in another team")
            if not may_write(user, label.team_id):
                raise forbidden()
    with transaction.atomic():
        for spec in specs:
            _apply_spec(user, spec, existing.get(spec["name"]), team)


def _apply_spec(user: User, spec: dict[str, Any], label: Label | None, team: Team | None = None) -> None:
    """One label to its spec; an unchanged label is not saved and records nothing (gitops runs repeat)."""
    manual = spec["label_membership_type"] == LabelMembershipType.MANUAL
    host_ids = resolve_hosts(user, spec["hosts"]) if manual and "hosts" in spec else None
    if label is None:
        label = Label.objects.create(
            name=spec["name"],
            description=spec["description"],
            query=spec["query"],
            platform=spec["platform"],
            label_type=LabelType.REGULAR,
            label_membership_type=spec["label_membership_type"],
            author=user,
            team=team,
        )
        activity = CREATED_LABEL
    else:
        if label.label_type == LabelType.BUILTIN:
            # As in Fleet: `fleetctl get labels` lists the built-in ones, so applying that output back
            # passes them through unchanged; changing one is refused.
            unchanged = (label.query, label.platform, label.description) == (
                spec["query"], spec["platform"], spec["description"]
            )  # fmt: skip
            if unchanged:
                return
            raise validation_failed("label_type", f"cannot modify or add built-in label '{label.name}'")
        if label.label_membership_type != spec["label_membership_type"]:
            raise validation_failed("label_membership_type", f"cannot change the type of label '{label.name}'")
        values: dict[str, Any] = {"description": spec["description"], "team_id": team.pk if team else None}
        if not manual:
            values |= {"query": spec["query"], "platform": spec["platform"]}
        changed = any(getattr(label, field) != value for field, value in values.items())
        if host_ids is not None:
            current = set(label.hosts.values_list("pk", flat=True))
            changed = changed or current != set(host_ids)
        if not changed:
            return
        for field, value in values.items():
            setattr(label, field, value)
        label.save()
        activity = EDITED_LABEL
    if host_ids is not None:
        label.hosts.set(host_ids)
    record(user, activity, details(label), team=label.team)


def spec_json(label: Label) -> dict[str, Any]:
    """Fleet's LabelSpec, as `fleetctl get labels` prints it: manual labels list their hosts by hostname."""
    spec: dict[str, Any] = {
        "id": label.pk,
        "name": label.name,
        "description": label.description,
        "query": label.query,
        "platform": label.platform,
        "label_type": label.label_type,
        "label_membership_type": label.label_membership_type,
    }
    if label.label_membership_type == LabelMembershipType.MANUAL:
        spec["hosts"] = list(label.hosts.order_by("hostname").values_list("hostname", flat=True))
    return spec


def get_specs(user: User, team: Team | None = None) -> list[dict[str, Any]]:
    """One scope's label specs: a team's, or the global ones (what a gitops file of that scope names)."""
    labels = visible_labels(user).filter(team=team).order_by("id")
    return [spec_json(label) for label in labels]


def get_spec(user: User, name: str) -> dict[str, Any]:
    label = visible_labels(user).filter(name=name).first()
    if label is None:
        raise not_found(f"Label {name} was not found in the datastore")
    return spec_json(label)

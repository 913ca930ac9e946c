"""Software installers: upload, edit and delete per team; install and uninstall on hosts; fleetd's side.

Errors are Fleet's REST errors (`FleetAPIError`), raised before anything is written. Installs join
the host's upcoming queue beside scripts (software_installers/queue.py); an uninstall *is* a script
execution of the installer's uninstall script, so fleetd fetches it through scripts/request.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, Subquery
from django.utils import timezone

from accounts import permissions
from accounts.models import Team, User
from activities.record import record
from fleetsite.api.errors import FleetAPIError, bad_request, forbidden, not_found
from fleetsite.lib import bounds
from fleetsite.lib.locking import lock_own_rows
from hosts.ingest import software_checksum
from hosts.models import Host, Label, LabelMembership, Software
from queries.models import Policy
from scripts.models import ScriptExecution
from scripts.service import script_timeout
from software_installers import constants as c
from software_installers import metadata, storage
from software_installers.choices import EXTENSIONS, InstallStatus
from software_installers.models import SoftwareInstall, SoftwareInstaller

# --- Titles and installers ---------------------------------------------------------------------


def title_for(name: str, source: str, version: str, bundle_identifier: str = "") -> Software:
    """The title's software row (smallest id of its name and source), created when the fleet has none."""
    existing = Software.objects.filter(name=name, source=source).aggregate(first=Min("pk"))["first"]
    if existing is not None:
        return Software.objects.get(pk=existing)
    values = {
        "name": name,
        "version": version,
        "source": source,
        "bundle_identifier": bundle_identifier,
        "extension_for": "",
        "vendor": "",
        "release": "",
        "arch": "",
    }
    values = {key: bounds.clean_text(value)[:255] for key, value in values.items()}
    software, _ = Software.objects.get_or_create(checksum=software_checksum(values), defaults=values)
    return software


def title_name(title_id: int) -> str:
    return Software.objects.filter(pk=title_id).values_list("name", flat=True).first() or ""


def find_installer(title_id: int, team_id: int | None) -> SoftwareInstaller | None:
    return (
        SoftwareInstaller.objects.select_related("title", "team")
        .filter(title_id=title_id, team_key=team_id or 0)
        .first()
    )


def get_installer(user: User, title_id: int, team_id: int | None, action: str) -> SoftwareInstaller:
    """The team's installer of a title: 404 for a team the user cannot see or no installer, 403 by role."""
    if team_id is not None and not permissions.can_read_team(user, team_id):
        raise not_found(f"Team {team_id} was not found in the datastore")
    if not permissions.can(user, "read", permissions.Kind.INSTALLER, team_id):
        raise forbidden()
    installer = find_installer(title_id, team_id)
    if installer is None:
        raise not_found(f"SoftwareInstaller for title {title_id} was not found in the datastore")
    if not permissions.can(user, action, permissions.Kind.INSTALLER, team_id):
        raise forbidden()
    return installer


def require_team_write(user: User, team_id: int | None) -> Team | None:
    """The team an installer goes to, checked: 404 unknown or invisible, 403 without write."""
    team = None
    if team_id is not None:
        team = Team.objects.filter(pk=team_id).first()
        if team is None or not permissions.can_read_team(user, team_id):
            raise not_found(f"Team {team_id} was not found in the datastore")
    if not permissions.can(user, "write", permissions.Kind.INSTALLER, team_id):
        raise forbidden()
    return team


def extension_of(filename: str) -> str:
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension not in EXTENSIONS:
        raise bad_request(c.UNSUPPORTED_TYPE)
    return extension


def _labels(team_id: int | None, names: list[str]) -> list[Label]:
    """Labels named for scoping: global ones or the team's own; an unknown name is a 400."""
    if not names:
        return []
    found = {label.name: label for label in Label.objects.filter(name__in=names)}
    for name in names:
        label = found.get(name)
        if label is None or (label.team_id is not None and label.team_id != team_id):
            raise bad_request(c.NO_SUCH_LABEL.format(name=name))
    return [found[name] for name in names]


def _check_labels(include: list[str] | None, exclude: list[str] | None) -> None:
    if include and exclude:
        raise bad_request('Only one of "labels_include_any" or "labels_exclude_any" can be included.')


def _scripts_for(
    extension: str, fields: dict[str, Any], installer: SoftwareInstaller | None = None, upgrade_code: str = ""
) -> dict[str, str]:
    """Install and uninstall scripts: given ones, else the installer's, else Fleet's defaults for the type.

    An msi with an upgrade code uninstalls by it; a script that is one of the msi defaults follows
    the package's upgrade code, so replacing the package picks the right one.
    """
    scripts = {}
    for key, defaults in (("install_script", c.DEFAULT_INSTALL), ("uninstall_script", c.DEFAULT_UNINSTALL)):
        value = fields.get(key)
        if value is None and installer is not None:
            value = getattr(installer, key)
        value = (value or "").replace("\r\n", "\n")
        default = defaults.get(extension, "")
        if key == "uninstall_script" and extension == "msi":
            if value in (default, c.UNINSTALL_MSI_BY_UPGRADE_CODE):
                value = ""
            if upgrade_code:
                default = c.UNINSTALL_MSI_BY_UPGRADE_CODE
        scripts[key] = value or default
    if extension == "exe" and not scripts["install_script"]:
        raise bad_request(c.EXE_NEEDS_SCRIPTS)
    if extension == "exe" and not scripts["uninstall_script"]:
        raise bad_request(c.EXE_NEEDS_UNINSTALL)
    return scripts


# Package ids and upgrade codes come from the uploaded file and are pasted into scripts that run
# as root: only these characters may be (Fleet's allowlist), whenever the script uses them.
_SAFE_IDENTIFIER = re.compile(r"[a-zA-Z0-9._\-{} +,/:~@]+")
_PACKAGE_ID_VAR = re.compile(r"\$PACKAGE_ID(?!\w)|\$\{PACKAGE_ID\}")
_UPGRADE_CODE_VAR = re.compile(r"\$UPGRADE_CODE(?!\w)|\$\{UPGRADE_CODE\}")


def check_identifiers(script: str, package_ids: list[str], upgrade_code: str, action: str) -> None:
    """400 when the uninstall script would receive an identifier with shell metacharacters, or none."""
    prefix = f"Couldn't {action} software:"
    if package_ids and _PACKAGE_ID_VAR.search(script):
        for package_id in package_ids:
            if not _SAFE_IDENTIFIER.fullmatch(package_id):
                raise bad_request(f"{prefix} package identifier {json.dumps(package_id)} contains invalid characters")
    if _UPGRADE_CODE_VAR.search(script):
        if not upgrade_code:
            raise bad_request(f"{prefix} {c.NO_UPGRADE_CODE}")
        if not _SAFE_IDENTIFIER.fullmatch(upgrade_code):
            raise bad_request(f"{prefix} upgrade code {json.dumps(upgrade_code)} contains invalid characters")


def _read_metadata(extension: str, fileobj: IO[bytes], action: str) -> metadata.PackageMeta:
    """The package's metadata, or Fleet's 400: unreadable, or no package id (exe and pkg may have none)."""
    try:
        meta = metadata.read_metadata(extension, fileobj)
    except metadata.MetadataError as exc:
        raise bad_request(f"Couldn't {action}. {exc}") from exc
    # An exe names no package id when it has no ProductName; a component pkg keeps its ids in
    # PackageInfo, which is not read here. Both still install with their scripts.
    if not meta.package_ids and extension not in ("exe", "pkg"):
        raise bad_request(c.NO_METADATA)
    return meta


def _activity_details(installer: SoftwareInstaller) -> dict[str, Any]:
    return {
        "software_title": installer.name,
        "software_package": installer.filename,
        "team_id": installer.team_id,
        "team_name": installer.team.name if installer.team_id else None,
        "self_service": installer.self_service,
        "software_title_id": installer.title_id,
    }


def upload(
    user: User | None, team_id: int | None, fileobj: IO[bytes], filename: str, fields: dict[str, Any]
) -> SoftwareInstaller:
    """`POST /software/package`: store the bytes, read the package's metadata, offer it to the team."""
    team = require_team_write(user, team_id) if user is not None else Team.objects.filter(pk=team_id).first()
    filename = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    extension = extension_of(filename)
    _check_labels(fields.get("labels_include_any"), fields.get("labels_exclude_any"))
    meta = _read_metadata(extension, fileobj, "add")
    scripts = _scripts_for(extension, fields, upgrade_code=meta.upgrade_code)
    check_identifiers(scripts["uninstall_script"], meta.package_ids, meta.upgrade_code, "add")
    # Fleet's title: the package's own name, else the uploaded file's name.
    name = (fields.get("name") or meta.name or filename).strip()
    version = (fields.get("version") or meta.version).strip()
    platform, source = EXTENSIONS[extension]
    storage_id, size = storage.digest_of(fileobj)
    include = _labels(team_id, fields.get("labels_include_any") or [])
    exclude = _labels(team_id, fields.get("labels_exclude_any") or [])
    storage.put(storage_id, fileobj)
    try:
        with transaction.atomic():
            title = title_for(name, source, version, meta.bundle_identifier)
            installer = SoftwareInstaller.objects.create(
                team=team,
                title=title,
                filename=bounds.clean_text(filename)[:255],
                extension=extension,
                version=version[:255],
                platform=platform,
                package_ids=",".join(meta.package_ids),
                upgrade_code=meta.upgrade_code[:64],
                storage_id=storage_id,
                size=size,
                pre_install_query=fields.get("pre_install_query") or "",
                post_install_script=fields.get("post_install_script") or "",
                self_service=bool(fields.get("self_service")),
                url=fields.get("url") or "",
                user=user,
                **scripts,
            )
            installer.labels_include_any.set(include)
            installer.labels_exclude_any.set(exclude)
            record(user, c.ADDED_SOFTWARE, _activity_details(installer), team=team)
    except IntegrityError as exc:
        team_label = f'"{team.name}"' if team else '"No team"'
        raise FleetAPIError(
            409,
            "Conflict",
            f"Couldn't add. {name} already has a package or app available for install on the {team_label} team.",
            name="software",
        ) from exc
    return installer


def update(
    user: User | None,
    installer: SoftwareInstaller,
    fields: dict[str, Any],
    fileobj: IO[bytes] | None = None,
    filename: str = "",
) -> SoftwareInstaller:
    """`PATCH /software/titles/{id}/package`: given fields change, a new file replaces the package (same title)."""
    _check_labels(fields.get("labels_include_any"), fields.get("labels_exclude_any"))
    extension = installer.extension
    meta = None
    if fileobj is not None:
        extension = extension_of(filename)
        if extension != installer.extension:
            raise bad_request(
                f"The selected package is for a different file type. Please select a .{installer.extension} file."
            )
        meta = _read_metadata(extension, fileobj, "edit")
    package_ids = meta.package_ids if meta else installer.package_ids.split(",") if installer.package_ids else []
    upgrade_code = meta.upgrade_code if meta else installer.upgrade_code
    scripts = _scripts_for(extension, fields, installer, upgrade_code)
    check_identifiers(scripts["uninstall_script"], package_ids, upgrade_code, "edit")
    include = exclude = None
    if fields.get("labels_include_any") is not None or fields.get("labels_exclude_any") is not None:
        include = _labels(installer.team_id, fields.get("labels_include_any") or [])
        exclude = _labels(installer.team_id, fields.get("labels_exclude_any") or [])
    replaced = None
    if fileobj is not None:
        storage_id, size = storage.digest_of(fileobj)
        storage.put(storage_id, fileobj)
        if storage_id != installer.storage_id:
            replaced = installer.storage_id
        installer.storage_id, installer.size = storage_id, size
        installer.filename = bounds.clean_text(filename.rsplit("/", 1)[-1])[:255]
        installer.version = (fields.get("version") or meta.version or installer.version)[:255]  # type: ignore[union-attr]
        installer.package_ids = ",".join(meta.package_ids) or installer.package_ids  # type: ignore[union-attr]
        installer.upgrade_code = upgrade_code[:64]
        installer.uploaded_at = timezone.now()
    for key in ("pre_install_query", "post_install_script"):
        if fields.get(key) is not None:
            setattr(installer, key, fields[key].replace("\r\n", "\n"))
    if fields.get("self_service") is not None:
        installer.self_service = bool(fields["self_service"])
    installer.install_script, installer.uninstall_script = scripts["install_script"], scripts["uninstall_script"]
    installer.updated_at = timezone.now()
    with transaction.atomic():
        installer.save()
        if include is not None:
            installer.labels_include_any.set(include)
            installer.labels_exclude_any.set(exclude or [])
        record(user, c.EDITED_SOFTWARE, _activity_details(installer), team=installer.team)
        if replaced and not SoftwareInstaller.objects.filter(storage_id=replaced).exists():
            transaction.on_commit(lambda: storage.delete(replaced))
    return installer


def delete(user: User | None, installer: SoftwareInstaller) -> None:
    """`DELETE .../available_for_install`: the title is no longer offered; bytes stay if another uses them."""
    storage_id = installer.storage_id
    with transaction.atomic():
        details = _activity_details(installer)
        team = installer.team
        pending_installs(installer).update(canceled=True, updated_at=timezone.now())
        installer.delete()
        record(user, c.DELETED_SOFTWARE, details, team=team)
        if not SoftwareInstaller.objects.filter(storage_id=storage_id).exists():
            transaction.on_commit(lambda: storage.delete(storage_id))


def rename(user: User | None, installer: SoftwareInstaller, name: str) -> SoftwareInstaller:
    """`PATCH /software/titles/{id}/name`: the name hosts and My Device show for this team's package."""
    name = name.strip()
    if not name:
        raise FleetAPIError(422, "Validation Failed", "The name can't be empty.", name="name")
    installer.display_name = bounds.clean_text(name)[:255]
    installer.updated_at = timezone.now()
    with transaction.atomic():
        installer.save(update_fields=["display_name", "updated_at"])
        record(user, c.EDITED_SOFTWARE, _activity_details(installer), team=installer.team)
    return installer


def installer_json(installer: SoftwareInstaller) -> dict[str, Any]:
    """Fleet's SoftwareInstaller JSON (the `software_package` of a title)."""
    return {
        "title_id": installer.title_id,
        "team_id": installer.team_id,
        "name": installer.filename,
        "version": installer.version,
        "platform": installer.platform,
        "installer_id": installer.pk,
        "uploaded_at": installer.uploaded_at.isoformat().replace("+00:00", "Z"),
        "install_script": installer.install_script,
        "uninstall_script": installer.uninstall_script,
        "pre_install_query": installer.pre_install_query,
        "post_install_script": installer.post_install_script,
        "self_service": installer.self_service,
        "url": installer.url,
        "display_name": installer.display_name,
        "status": status_summary(installer),
        "automatic_install_policies": list(
            Policy.objects.filter(software_installer=installer).order_by("pk").values("id", "name")
        ),
        "labels_include_any": [{"name": la.name, "id": la.pk} for la in installer.labels_include_any.all()] or None,
        "labels_exclude_any": [{"name": la.name, "id": la.pk} for la in installer.labels_exclude_any.all()] or None,
    }


def status_summary(installer: SoftwareInstaller) -> dict[str, int]:
    """Hosts per status of their latest run of this installer, counted in one query.

    Row ids grow with time, so each host's latest run is its largest id.
    """
    runs = SoftwareInstall.objects.filter(installer=installer, canceled=False).exclude(
        uninstall=True, execution__canceled=True
    )
    latest = runs.values("host_id").annotate(last=Max("pk")).values("last")
    uninstall_done = Q(uninstall=True, execution__exit_code__isnull=False)
    return SoftwareInstall.objects.filter(pk__in=Subquery(latest)).aggregate(
        installed=Count("pk", filter=Q(uninstall=False, status=InstallStatus.INSTALLED)),
        pending_install=Count("pk", filter=Q(uninstall=False, status=InstallStatus.PENDING_INSTALL)),
        failed_install=Count("pk", filter=Q(uninstall=False, status=InstallStatus.FAILED_INSTALL)),
        pending_uninstall=Count("pk", filter=Q(uninstall=True, execution__exit_code__isnull=True)),
        failed_uninstall=Count("pk", filter=uninstall_done & ~Q(execution__exit_code=0)),
    )


# --- Installing on hosts -----------------------------------------------------------------------


def pending_installs(installer: SoftwareInstaller) -> Any:
    return SoftwareInstall.objects.filter(
        installer=installer, uninstall=False, status=InstallStatus.PENDING_INSTALL, canceled=False
    )


def _uninstall_status(exit_code: int | None) -> str | None:
    """An uninstall's host status: pending until the script answers, then uninstalled (None) or failed."""
    if exit_code is None:
        return InstallStatus.PENDING_UNINSTALL
    return None if exit_code == 0 else InstallStatus.FAILED_UNINSTALL


def host_status(host_id: int, title_id: int) -> str | None:
    """The host's latest install or uninstall of the title, as Fleet's status (None: nothing, or uninstalled)."""
    run = (
        SoftwareInstall.objects.filter(host_id=host_id, title_id=title_id, canceled=False)
        .exclude(uninstall=True, execution__canceled=True)
        .select_related("execution")
        .order_by("-created_at", "-pk")
        .first()
    )
    if run is None:
        return None
    if run.uninstall:
        return _uninstall_status(run.execution.exit_code if run.execution else None)
    return run.status


def in_scope(installer: SoftwareInstaller, host: Host) -> bool:
    """Label scoping: include-any needs one of its labels on the host, exclude-any none of them."""
    include = list(installer.labels_include_any.values_list("pk", flat=True))
    exclude = list(installer.labels_exclude_any.values_list("pk", flat=True))
    if not include and not exclude:
        return True
    member = LabelMembership.objects.filter(host=host, label_id__in=include or exclude).exists()
    return member if include else not member


def platform_matches(installer: SoftwareInstaller, host: Host) -> bool:
    """pkg on macOS, msi and exe on Windows, deb and rpm on the Linux family."""
    if installer.platform in ("darwin", "windows"):
        return host.platform == installer.platform
    return host.platform not in ("darwin", "windows", "ios", "ipados", "chrome")


def _installer_for_host(host: Host, title_id: int) -> SoftwareInstaller:
    installer = find_installer(title_id, host.team_id)
    if installer is None:
        raise bad_request(c.NO_PACKAGE)
    if not platform_matches(installer, host):
        raise bad_request(f"Package ({installer.extension}) can be installed only on {installer.platform} hosts.")
    return installer


def _check_host(host: Host) -> None:
    if not host.orbit_node_key_digest:
        raise FleetAPIError(422, "Validation Failed", c.INSTALL_NEEDS_FLEETD, name="host_id")


def _check_not_pending(host: Host, title_id: int) -> None:
    status = host_status(host.pk, title_id)
    if status in (InstallStatus.PENDING_INSTALL, InstallStatus.PENDING_UNINSTALL):
        raise bad_request(c.ALREADY_PENDING)


def queue_install(
    host: Host,
    installer: SoftwareInstaller,
    user: User | None,
    self_service: bool = False,
    policy_id: int | None = None,
) -> SoftwareInstall:
    """A new pending install at the end of the host's queue."""
    return SoftwareInstall.objects.create(
        install_uuid=str(uuid.uuid4()),
        host=host,
        installer=installer,
        title_id=installer.title_id,
        software_title=installer.name,
        software_package=installer.filename,
        status=InstallStatus.PENDING_INSTALL,
        user=user if getattr(user, "pk", None) else None,
        self_service=self_service,
        policy_id=policy_id,
    )


def install(user: User | None, host: Host, title_id: int, self_service: bool = False) -> SoftwareInstall:
    """`POST /hosts/{id}/software/{title_id}/install` (and My Device's): checks, then queue."""
    if user is not None and not permissions.can(user, "write", permissions.Kind.INSTALLER, host.team_id):
        raise forbidden()
    _check_host(host)
    installer = _installer_for_host(host, title_id)
    if self_service and not installer.self_service:
        raise bad_request(c.NOT_SELF_SERVICE)
    if not in_scope(installer, host):
        raise bad_request("Couldn't install. This software is not available for this host.")
    _check_not_pending(host, title_id)
    with transaction.atomic():
        return queue_install(host, installer, user, self_service=self_service)


def uninstall_contents(installer: SoftwareInstaller) -> str:
    """The uninstall script with `$PACKAGE_ID` (space-separated ids when several) and `$UPGRADE_CODE` filled in.

    Both were checked against the identifier allowlist when the script or package was saved.
    """
    ids = " ".join(installer.package_ids.split(",")) if installer.package_ids else ""
    script = _PACKAGE_ID_VAR.sub(lambda _: ids, installer.uninstall_script)
    return _UPGRADE_CODE_VAR.sub(lambda _: installer.upgrade_code, script)


def uninstall(user: User | None, host: Host, title_id: int, self_service: bool = False) -> SoftwareInstall:
    """`POST /hosts/{id}/software/{title_id}/uninstall`: the uninstall script queued as a script execution."""
    if user is not None and not permissions.can(user, "write", permissions.Kind.INSTALLER, host.team_id):
        raise forbidden()
    _check_host(host)
    if host.scripts_enabled is False:
        raise FleetAPIError(422, "Validation Failed", c.SCRIPTS_DISABLED, name="host_id")
    installer = _installer_for_host(host, title_id)
    if self_service and not installer.self_service:
        raise bad_request(c.NOT_SELF_SERVICE)
    _check_not_pending(host, title_id)
    with transaction.atomic():
        execution = ScriptExecution.objects.create(
            execution_id=str(uuid.uuid4()),
            host=host,
            contents=uninstall_contents(installer),
            user=user if getattr(user, "pk", None) else None,
            timeout=script_timeout(host.team_id),
        )
        return SoftwareInstall.objects.create(
            install_uuid=execution.execution_id,
            host=host,
            installer=installer,
            title_id=installer.title_id,
            software_title=installer.name,
            software_package=installer.filename,
            uninstall=True,
            execution=execution,
            status=InstallStatus.PENDING_UNINSTALL,
            user=user if getattr(user, "pk", None) else None,
            self_service=self_service,
        )


def record_uninstall(host: Host, execution: ScriptExecution) -> bool:
    """fleetd answered a script: when it was an uninstall, record Fleet's `uninstalled_software` (True)."""
    run = SoftwareInstall.objects.filter(execution=execution, uninstall=True).first()
    if run is None:
        return False
    record(
        run.user,
        c.UNINSTALLED_SOFTWARE,
        {
            "host_id": host.pk,
            "host_display_name": host.display_name,
            "software_title": run.software_title,
            "script_execution_id": execution.execution_id,
            "self_service": run.self_service,
            "status": "uninstalled" if execution.exit_code == 0 else "failed_uninstall",
        },
        host=host,
        team=host.team,
    )
    return True


def visible_install(user: User, install_uuid: str) -> SoftwareInstall:
    """An install on a host the user can see, else 404."""
    run = SoftwareInstall.objects.select_related("host").filter(install_uuid=install_uuid, uninstall=False).first()
    if run is None or not permissions.can_read_team(user, run.host.team_id):
        raise not_found(f"Software installer result with install uuid {install_uuid} was not found in the datastore")
    return run


def _output(value: str | None, exit_code: int | None, fmt: str, fail: str) -> str | None:
    if value is None or exit_code is None:
        return value
    return (fmt if exit_code == 0 else fail).format(output=value, code=exit_code)


def result_json(run: SoftwareInstall) -> dict[str, Any]:
    """Fleet's HostSoftwareInstallerResult, outputs dressed as EnhanceOutputDetails does."""
    pre, output, post = run.pre_install_condition_output, run.install_script_output, run.post_install_script_output
    if run.status != InstallStatus.PENDING_INSTALL:
        if pre is not None:
            pre = c.QUERY_PASSED if pre else c.QUERY_FAILED
        if output is not None and run.install_script_exit_code == -2:
            output = c.INSTALL_SCRIPTS_DISABLED
        else:
            output = _output(output, run.install_script_exit_code, c.INSTALL_OK, c.INSTALL_FAILED)
            post = _output(post, run.post_install_script_exit_code, c.POST_OK, c.POST_FAILED)
    return {
        "install_uuid": run.install_uuid,
        "software_title": run.software_title,
        "software_title_id": run.title_id,
        "software_package": run.software_package,
        "host_id": run.host_id,
        "host_display_name": run.host.display_name,
        "status": run.status,
        "output": output,
        "pre_install_query_output": pre,
        "post_install_script_output": post,
        "created_at": run.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": run.updated_at.isoformat().replace("+00:00", "Z"),
        "self_service": run.self_service,
        "policy_id": run.policy_id,
    }


# --- fleetd (orbit) ----------------------------------------------------------------------------


def orbit_install(host: Host, install_uuid: str) -> SoftwareInstall | None:
    """The pending install fleetd asks about; another host's, a finished or a canceled one is None (404)."""
    return (
        SoftwareInstall.objects.select_related("installer")
        .filter(host=host, install_uuid=install_uuid, uninstall=False, canceled=False, installer__isnull=False)
        .first()
    )


def details_json(run: SoftwareInstall) -> dict[str, Any]:
    """Fleet's SoftwareInstallDetails: what fleetd needs to fetch and run the installer."""
    installer = run.installer
    assert installer is not None
    return {
        "install_id": run.install_uuid,
        "installer_id": installer.pk,
        "pre_install_condition": installer.pre_install_query,
        "install_script": installer.install_script,
        "uninstall_script": uninstall_contents(installer),
        "post_install_script": installer.post_install_script,
        "self_service": run.self_service,
    }


def status_from(payload: dict[str, Any]) -> str:
    """Fleet's status from a result: post-install exit code, then install exit code, then the condition."""
    post, code, pre = (
        payload.get("post_install_script_exit_code"),
        payload.get("install_script_exit_code"),
        payload.get("pre_install_condition_output"),
    )
    if post is not None:
        return InstallStatus.INSTALLED if post == 0 else InstallStatus.FAILED_INSTALL
    if code is not None:
        return InstallStatus.INSTALLED if code == 0 else InstallStatus.FAILED_INSTALL
    if pre is not None and pre == "":
        return InstallStatus.FAILED_INSTALL
    return InstallStatus.FAILED_INSTALL


def orbit_result(host: Host, payload: dict[str, Any]) -> bool:
    """Store fleetd's answer once (a repeat is ignored) and record `installed_software`. False: unknown id."""
    with transaction.atomic():
        run = (
            lock_own_rows(SoftwareInstall.objects.all())
            .select_related("user")
            .filter(host=host, install_uuid=payload["install_uuid"], uninstall=False)
            .first()
        )
        if run is None:
            return False
        if run.status != InstallStatus.PENDING_INSTALL or run.canceled:
            return True
        for key in ("pre_install_condition_output", "install_script_output", "post_install_script_output"):
            value = payload.get(key)
            setattr(run, key, None if value is None else bounds.clean_text(value[-c.MAX_OUTPUT_CHARS :]))
        run.install_script_exit_code = payload.get("install_script_exit_code")
        run.post_install_script_exit_code = payload.get("post_install_script_exit_code")
        run.status = status_from(payload)
        run.updated_at = timezone.now()
        run.save()
        record(
            run.user,
            c.INSTALLED_SOFTWARE,
            {
                "host_id": host.pk,
                "host_display_name": host.display_name,
                "software_title": run.software_title,
                "software_package": run.software_package,
                "self_service": run.self_service,
                "install_uuid": run.install_uuid,
                "status": "installed" if run.status == InstallStatus.INSTALLED else "failed",
                "policy_id": run.policy_id,
            },
            host=host,
            team=host.team,
        )
    return True

"""gitops' software batch: a team's installers become exactly the given list of package URLs.

Fleet downloads the packages in the background and fleetctl polls `GET /software/batch/{uuid}`;
here the work is done within the POST and its outcome kept (cache, a day) for that poll, in
Fleet's status shape (`processing`, `completed`, `failed`).
"""

from __future__ import annotations

import tempfile
import uuid
from typing import IO, Any

import httpx
from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from accounts.models import Team, User
from fleetsite.api.errors import FleetAPIError, bad_request
from software_installers import service, storage
from software_installers.models import SoftwareInstaller

STATUS_KEY = "swinstaller-batch:{}"
STATUS_TTL = 24 * 3600
_CHUNK = 1024 * 1024
_TEXT_KEYS = ("install_script", "uninstall_script", "pre_install_query", "post_install_script")


def fetch(url: str) -> tuple[IO[bytes], str]:
    """Download `url` into a temporary file: (file, file name). Tests replace this."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, closed when collected
    limit = settings.FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES
    with httpx.stream("GET", url, follow_redirects=True, timeout=60.0) as response:
        if response.status_code != 200:
            raise bad_request(f"Couldn't edit software. URL ({url}) returned {response.status_code}.")
        size = 0
        for chunk in response.iter_bytes(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise bad_request(f"Couldn't edit software. URL ({url}): the package is too large.")
            handle.write(chunk)
        disposition = response.headers.get("content-disposition", "")
    name = ""
    if "filename=" in disposition:
        name = disposition.split("filename=", 1)[1].strip().strip('"')
    handle.seek(0)
    return handle, name or str(response.url).rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]


def _validate(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise FleetAPIError(422, "Validation Failed", "software must be a list", name="software")
    cleaned = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        field = f"software[{index}]"
        if not isinstance(item, dict):
            raise FleetAPIError(422, "Validation Failed", "each package must be an object", name=field)
        url, sha = item.get("url") or "", (item.get("hash_sha256") or "").lower()
        if not isinstance(url, str) or not isinstance(sha, str) or not (url or sha):
            raise FleetAPIError(422, "Validation Failed", "each package needs a url or a hash_sha256", name=field)
        if len(url) > 4000:
            raise FleetAPIError(422, "Validation Failed", "software URL is too long", name=field)
        key = url or f"sha256:{sha}"
        if key in seen:
            raise FleetAPIError(422, "Validation Failed", f"duplicate package: {url or sha}", name=field)
        seen.add(key)
        fields: dict[str, Any] = {key: item.get(key) for key in _TEXT_KEYS}
        if any(value is not None and not isinstance(value, str) for value in fields.values()):
            raise FleetAPIError(422, "Validation Failed", "scripts and queries must be strings", name=field)
        fields["self_service"] = bool(item.get("self_service"))
        fields["url"], fields["hash_sha256"] = url, sha
        for key in ("labels_include_any", "labels_exclude_any"):
            labels = item.get(key) or []
            if not isinstance(labels, list) or not all(isinstance(name, str) for name in labels):
                raise FleetAPIError(422, "Validation Failed", f"{key} must be a list of label names", name=field)
            fields[key] = labels
        cleaned.append(fields)
    return cleaned


def apply(user: User, team: Team | None, items: Any, dry_run: bool) -> str:
    """Validate, then (unless a dry run) download and set the team's installers; the request uuid to poll."""
    wanted = _validate(items)
    request_uuid = str(uuid.uuid4())
    packages: list[dict[str, Any]] = []
    status, message = "completed", ""
    if not dry_run:
        try:
            packages = _apply(user, team, wanted)
        except FleetAPIError as exc:
            status, message = "failed", exc.reason
    cache.set(
        STATUS_KEY.format(request_uuid),
        {"team_id": team.pk if team else None, "status": status, "message": message, "packages": packages},
        STATUS_TTL,
    )
    return request_uuid


def _matches(installer: SoftwareInstaller, fields: dict[str, Any]) -> bool:
    """A package is the same one when its URL is (or, given only a hash, its bytes are)."""
    if fields["url"]:
        return installer.url == fields["url"]
    return installer.storage_id == fields["hash_sha256"]


def _source(fields: dict[str, Any]) -> tuple[IO[bytes], str]:
    """The bytes of a new package: downloaded from its URL, or an already stored package with that hash."""
    if fields["url"]:
        return fetch(fields["url"])
    stored = SoftwareInstaller.objects.filter(storage_id=fields["hash_sha256"]).first()
    if stored is None:
        raise bad_request(f"Couldn't edit software. No package with hash_sha256 {fields['hash_sha256']} was uploaded.")
    return storage.open_installer(stored.storage_id), stored.filename


def _apply(user: User, team: Team | None, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    team_id = team.pk if team else None
    existing = list(SoftwareInstaller.objects.select_related("title", "team").filter(team_key=team_id or 0))
    matched = {index: next((i for i in existing if _matches(i, fields)), None) for index, fields in enumerate(wanted)}
    sources = {index: _source(wanted[index]) for index, installer in matched.items() if installer is None}
    kept: list[SoftwareInstaller] = []
    with transaction.atomic():
        keep_ids = {installer.pk for installer in matched.values() if installer is not None}
        for installer in existing:
            if installer.pk not in keep_ids:
                service.delete(user, installer)
        for index, fields in enumerate(wanted):
            installer = matched[index]
            if installer is None:
                handle, name = sources[index]
                kept.append(service.upload(user, team_id, handle, name, fields))
            else:
                kept.append(service.update(user, installer, fields))
    return [{"team_id": team_id, "title_id": i.title_id, "url": i.url, "hash_sha256": i.storage_id} for i in kept]


def status(request_uuid: str) -> dict[str, Any] | None:
    return cache.get(STATUS_KEY.format(request_uuid)) if len(request_uuid) <= 64 else None

"""rpm through Debian's `rpmbuild` (packaging.md §8.2, the documented fallback to nfpm).

The payload tree is staged on disk and copied into the build root by `%install`; nothing of the
host's rpm configuration is used (HOME is the work directory), scripts never run at build time,
and the payload is gzip so old rpm versions (CentOS 7) can read it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from packaging import constants as C
from packaging.builders import linux
from packaging.exceptions import PackagingError
from packaging.options import PackageOptions
from packaging.payload import Tree, package_version, target_set
from packaging.targets import FetchedTargets

RPM_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
OWNED_DIRS = ("/var/log/orbit", "/var/log/osquery")


def stage(tree: Tree, root: Path) -> None:
    """Materialise `tree` under `root` (files, symlinks, directories with their modes)."""
    for entry in tree.sorted():
        path = root / entry.path.lstrip("/")
        if entry.kind == "dir":
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, entry.mode)
        elif entry.kind == "link":
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(entry.link, path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            if entry.source is not None:
                shutil.copyfile(entry.source, path)
            else:
                path.write_bytes(entry.data or b"")
            os.chmod(path, entry.mode)
    for entry in tree.sorted():  # fixed mtimes: rpm and msi record them
        os.utime(root / entry.path.lstrip("/"), (0, 0), follow_symlinks=False)


def _quote(path: str) -> str:
    if any(char in path for char in '"%*?[]{}\n'):
        raise PackagingError(f"path {path!r} cannot be listed in an rpm")
    return f'"{path}"'


def files_section(tree: Tree) -> str:
    lines = ["%defattr(-,root,root,-)"]
    for entry in tree.sorted():
        if entry.kind == "dir":
            if entry.path == C.ORBIT_ROOT or entry.path.startswith(f"{C.ORBIT_ROOT}/") or entry.path in OWNED_DIRS:
                lines.append(f"%dir %attr({entry.mode:04o},root,root) {_quote(entry.path)}")
        elif entry.kind == "link":
            lines.append(_quote(entry.path))
        else:
            lines.append(f"%attr({entry.mode:04o},root,root) {_quote(entry.path)}")
    return "\n".join(lines)


def spec(options: PackageOptions, tree: Tree, version: str) -> str:
    return f"""Name: {C.PACKAGE_NAME}
Version: {version}
Release: 1
Summary: {C.DESCRIPTION}
License: {C.LICENSE}
URL: {C.HOMEPAGE}
Vendor: {C.VENDOR}
Packager: {C.MAINTAINER}
Group: default
AutoReqProv: no

%description
{C.DESCRIPTION}

%install
cp -a "%{{_sourcedir}}/root/." "%{{buildroot}}/"

%post
{linux.postinstall(options).split(chr(10), 1)[1]}
%preun
{linux.preremove("0").split(chr(10), 1)[1]}
%postun
{linux.postremove("0").split(chr(10), 1)[1]}
%posttrans
{linux.posttrans(options).split(chr(10), 1)[1]}
%files
{files_section(tree)}
"""


def build(options: PackageOptions, fetched: FetchedTargets, work: Path) -> Path:
    """A fleet-osquery rpm in `work` (`fleet-osquery-<version>.<arch>.rpm`)."""
    if shutil.which("rpmbuild") is None:
        raise PackagingError("building rpm packages needs rpmbuild (Debian package `rpm`)")
    targets = target_set(options)
    version = package_version(options, fetched, targets)
    tree = linux.linux_tree(options, fetched, targets)
    sources, top = work / "sources", work / "rpmbuild"
    stage(tree, sources / "root")
    spec_path = work / "fleet-osquery.spec"
    spec_path.write_text(spec(options, tree, version))
    arch = RPM_ARCH[options.arch]
    defines = {
        "_topdir": str(top),
        "_sourcedir": str(sources),
        "_rpmdir": str(work),
        "_build_name_fmt": "%%{NAME}-%%{VERSION}.%%{ARCH}.rpm",
        "_binary_payload": "w1.gzdio",
        "_binary_filedigest_algorithm": "8",
        "_build_id_links": "none",
        "debug_package": "%{nil}",
        "__os_install_post": "%{nil}",
        "_buildhost": "fleetsite",
        "use_source_date_epoch_as_buildtime": "1",
    }
    command = ["rpmbuild", "-bb", "--quiet", "--target", f"{arch}-linux", str(spec_path)]
    for name, value in defines.items():
        command[1:1] = ["--define", f"{name} {value}"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "SOURCE_DATE_EPOCH": "0", "LC_ALL": "C"}
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False, timeout=600)
    out = work / f"{C.PACKAGE_NAME}-{version}.{arch}.rpm"
    if result.returncode != 0 or not out.is_file():
        raise PackagingError(f"rpmbuild failed: {(result.stderr or result.stdout).strip()[-2000:]}")
    return out

"""Fleet's rules for script text: size, plain text, interpreters, file types, platforms.

Each check raises `ScriptInvalid` with Fleet's message; callers choose the field name and status.
"""

from __future__ import annotations

import os
import re
from enum import Enum

from hosts.detail_queries import UNIX, WINDOWS
from scripts import constants as c


class ScriptInvalid(ValueError):
    """A script Fleet would refuse; the message is Fleet's, for the user."""


class Shebang(Enum):
    NONE = "none"
    SHELL = "shell"
    PYTHON = "python"


_SHELLS = frozenset({"sh", "bash", "zsh"})
# Fleet's older rule, kept for shells at other paths such as /usr/bin/zsh with arguments.
_LEGACY_SHELL = re.compile(r"^#!\s*(:?/usr)?/bin/(ba|z)?sh(?:\s*|\s+.*)$")


def _is_python(command: str) -> bool:
    return command in ("python", "python3") or command.startswith("python3.")


def shebang(contents: str) -> Shebang:
    """The interpreter a script's first line names; no `#!` means /bin/sh (Fleet keeps that working)."""
    if not contents.startswith("#!"):
        return Shebang.NONE
    line = contents.splitlines()[0].strip()
    fields = line[2:].split()
    if not fields:
        raise ScriptInvalid(c.BAD_INTERPRETER)
    interpreter = fields[0]
    base = interpreter.rsplit("/", 1)[-1]
    in_bin = interpreter.startswith(("/bin/", "/usr/bin/"))
    if base == "env":
        commands = [field for field in fields[1:] if not field.startswith("-")]
        if not in_bin or not commands:
            raise ScriptInvalid(c.BAD_INTERPRETER)
        if commands[0] in _SHELLS:
            return Shebang.SHELL
        if _is_python(commands[0]):
            return Shebang.PYTHON
        raise ScriptInvalid(c.BAD_INTERPRETER)
    if not interpreter.startswith("/"):
        raise ScriptInvalid(c.BAD_INTERPRETER)
    if base in _SHELLS:
        if not in_bin:
            raise ScriptInvalid(c.BAD_INTERPRETER)
        return Shebang.SHELL
    if _is_python(base):
        return Shebang.PYTHON
    if _LEGACY_SHELL.match(line):
        return Shebang.SHELL
    raise ScriptInvalid(c.BAD_INTERPRETER)


def validate_contents(contents: str, saved: bool) -> None:
    """Fleet's ValidateHostScriptContents: not empty, within the limit, plain text, a known interpreter."""
    if contents == "":
        raise ScriptInvalid(c.EMPTY)
    limit, message = (
        (c.SAVED_SCRIPT_MAX_CHARS, c.SAVED_TOO_LARGE) if saved else (c.UNSAVED_SCRIPT_MAX_CHARS, c.UNSAVED_TOO_LARGE)
    )
    if len(contents) > limit:
        raise ScriptInvalid(message)
    # Fleet only asks for valid UTF-8 (our text already is); a NUL byte marks a binary file too.
    if "\x00" in contents:
        raise ScriptInvalid(c.NOT_TEXT)
    shebang(contents)


def decode_upload(raw: bytes) -> str:
    """An uploaded file as text with Unix newlines, as Fleet stores it; binary files are refused."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptInvalid(c.NOT_TEXT) from exc
    return text.replace("\r\n", "\n")


def extension(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def validate_new_script(name: str, contents: str) -> None:
    """Fleet's ValidateNewScript: a .sh, .py or .ps1 file whose first line fits its type."""
    if not name:
        raise ScriptInvalid(c.EMPTY_NAME)
    ext = extension(name)
    if ext not in c.SCRIPT_EXTENSIONS:
        raise ScriptInvalid(c.BAD_EXTENSION)
    validate_contents(contents, saved=True)
    kind = shebang(contents)
    if ext == ".sh" and kind not in (Shebang.NONE, Shebang.SHELL):
        raise ScriptInvalid(c.SHELL_SHEBANG)
    if ext == ".py" and kind != Shebang.PYTHON:
        raise ScriptInvalid(c.PYTHON_SHEBANG)
    if ext == ".ps1" and kind != Shebang.NONE:
        raise ScriptInvalid(c.POWERSHELL_SHEBANG)


def runs_on(name: str, platform: str) -> bool:
    """Fleet's ValidateScriptPlatform: shell and Python on macOS and Linux, PowerShell on Windows."""
    ext = extension(name)
    if ext in (".sh", ".py"):
        return platform in UNIX
    return ext == ".ps1" and platform in WINDOWS


def names_for_platform(platform: str) -> tuple[str, ...]:
    """File endings of saved scripts a host of `platform` can run."""
    if platform in WINDOWS:
        return (".ps1",)
    if platform in UNIX:
        return (".sh", ".py")
    return ()

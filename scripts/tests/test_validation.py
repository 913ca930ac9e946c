"""Fleet's script rules, one function at a time."""

from __future__ import annotations

import pytest

from scripts.validation import ScriptInvalid, Shebang, runs_on, shebang, validate_contents, validate_new_script


@pytest.mark.parametrize(
    ("first_line", "kind"),
    [
        ("echo no shebang", Shebang.NONE),
        ("#!/bin/sh", Shebang.SHELL),
        ("#!/bin/bash -e", Shebang.SHELL),
        ("#!/usr/bin/zsh", Shebang.SHELL),
        ("#!/usr/bin/env bash", Shebang.SHELL),
        ("#!/usr/bin/env -S python3 -u", Shebang.PYTHON),
        ("#!/opt/homebrew/bin/python3.12", Shebang.PYTHON),
    ],
)
def test_supported_interpreters(first_line, kind):
    assert shebang(f"{first_line}\necho\n") == kind


@pytest.mark.parametrize("first_line", ["#!/usr/bin/perl", "#!bash", "#!", "#!/usr/local/bin/bash", "#!/usr/bin/env"])
def test_unsupported_interpreters(first_line):
    with pytest.raises(ScriptInvalid, match="Interpreter not supported"):
        shebang(f"{first_line}\n")


def test_limits_differ_for_saved_and_ad_hoc_scripts():
    validate_contents("é" * 10_000, saved=False)  # characters, not bytes
    with pytest.raises(ScriptInvalid, match="10,000"):
        validate_contents("x" * 10_001, saved=False)
    validate_contents("x" * 10_001, saved=True)


def test_new_script_names():
    validate_new_script("A.SH", "echo")
    with pytest.raises(ScriptInvalid, match="must not be empty"):
        validate_new_script("", "echo")


@pytest.mark.parametrize(
    ("name", "platform", "ok"),
    [("a.sh", "darwin", True), ("a.py", "ubuntu", True), ("a.sh", "windows", False), ("a.ps1", "windows", True)],
)
def test_platforms(name, platform, ok):
    assert runs_on(name, platform) is ok

"""One error type for everything a build or the update repository refuses.

Its message names the problem and is safe to show to the person who asked (never the secret).
"""

from __future__ import annotations


class PackagingError(Exception):
    """Bad input or a failed build step; `field` names the option at fault when there is one."""

    def __init__(self, message: str, field: str = "base") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class RepositoryError(PackagingError):
    """The local TUF repository is missing, locked by a passphrase, or inconsistent."""

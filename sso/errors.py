"""The one error type of a failed sign-in: a Fleet status code and a message a person can act on."""

from __future__ import annotations

from sso import constants


class SSOError(Exception):
    """A refused single sign-on; `status` is Fleet's /login?status= code, `email` who tried, if known."""

    def __init__(self, message: str, status: str = constants.STATUS_ERROR, email: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.email = email

"""Account emails (password reset); invites are sent by `services.create_invite`."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from fleetsite.lib.publicurl import public_base_url


def reset_path(user: User) -> str:
    """The password reset page for `user`, valid until they log in or change their password."""
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    return f"/password/reset/{uidb64}/{default_token_generator.make_token(user)}/"


def send_password_reset(user: User, base_url: str) -> None:
    send_mail(
        "Reset your Fleetsite password",
        "Someone asked to reset the password of your Fleetsite account.\n\n"
        f"Set a new one here: {public_base_url(base_url)}{reset_path(user)}\n\n"
        "If it was not you, ignore this email; your password stays as it is.",
        None,
        [user.email],
    )

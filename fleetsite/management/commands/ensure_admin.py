"""`manage.py ensure_admin`: the first admin for `make run`, with a random password printed once."""

from __future__ import annotations

import secrets
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.choices import Role
from accounts.models import User


class Command(BaseCommand):
    help = "Create an admin user with a random password if no admin exists yet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", default="admin@fleetsite.local")

    def handle(self, *args: Any, **options: Any) -> None:
        if User.objects.filter(global_role=Role.ADMIN, is_active=True).exists():
            self.stdout.write("An admin user exists already.")
            return
        password = secrets.token_urlsafe(18)
        User.objects.create_superuser(options["email"], password, name="Admin")
        self.stdout.write(self.style.SUCCESS(f"Created admin {options['email']} with password: {password}"))
        self.stdout.write("This password is shown only once.")

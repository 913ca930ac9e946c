"""`manage.py enroll_secret list|add|rotate|delete [--team NAME]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import Team
from enrollment import secrets
from enrollment.models import EnrollSecret
from fleetsite.lib.tokens import digest


class Command(BaseCommand):
    help = "Manage enroll secrets, globally or for one team."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["list", "add", "rotate", "delete"])
        parser.add_argument("--team", help="team name; without it, the global secrets")
        parser.add_argument("--secret", help="add: use this value; delete: the secret to delete")

    def handle(self, *args: Any, **options: Any) -> None:
        team = self._team(options["team"])
        action = options["action"]
        scope = EnrollSecret.objects.filter(team=team)
        try:
            if action == "list":
                for row in scope:
                    self.stdout.write(f"{row.secret}\t{row.created_at.isoformat()}")
            elif action == "add":
                self.stdout.write(secrets.add(team, options["secret"]).secret)
            elif action == "rotate":
                # Old installers stop enrolling new hosts; enrolled hosts keep their node keys.
                with transaction.atomic():
                    scope.delete()
                    self.stdout.write(secrets.add(team).secret)
            elif action == "delete":
                self._delete(scope, options["secret"])
        except secrets.SecretError as exc:
            raise CommandError(str(exc)) from exc

    def _team(self, name: str | None) -> Team | None:
        if not name:
            return None
        team = Team.objects.filter(name=name).first()
        if team is None:
            raise CommandError(f"no team named {name!r}")
        return team

    def _delete(self, scope: Any, secret: str | None) -> None:
        if not secret:
            raise CommandError("delete needs --secret VALUE (see `enroll_secret list`)")
        deleted, _ = scope.filter(secret_digest=digest(secret)).delete()
        if not deleted:
            raise CommandError("no such secret in this scope")
        self.stdout.write("deleted")

from django.apps import AppConfig


class HostsConfig(AppConfig):
    """Hosts, labels, detail-query ingestion, host REST and UI."""

    name = "hosts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import pre_delete

        from accounts.models import Team

        # A deleted team's hosts lose it by cascade (SET_NULL), an UPDATE no Host queryset makes.
        pre_delete.connect(_team_deleted, sender=Team, dispatch_uid="hosts.checkin_cache.team_deleted")


def _team_deleted(sender: type, **kwargs: object) -> None:
    from hosts import checkin_cache

    checkin_cache.forget_all()

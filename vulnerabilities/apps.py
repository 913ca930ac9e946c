from django.apps import AppConfig


class VulnerabilitiesConfig(AppConfig):
    """Vulnerabilities: CVE feeds (NVD, OSV, EPSS, KEV) matched to software and OS versions off the check-in path."""

    name = "vulnerabilities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from hosts.signals import software_installs_changed
        from vulnerabilities import changes

        software_installs_changed.connect(changes.record, dispatch_uid="vulnerabilities.changes.record")

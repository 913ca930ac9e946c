"""The software installer upload form: every field `POST /software/package` takes, with the
service's refusals shown on the field they concern."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q

from fleetsite.api.errors import FleetAPIError
from hosts.models import Label
from queries.forms import SQL_CHECK_ATTRS, SQL_CHECK_SLOT
from software_installers import constants as c

TARGETS = [
    ("all", "All hosts"),
    ("include_any", "Hosts with any of the labels ticked"),
    ("exclude_any", "Hosts with none of the labels ticked"),
]
SCRIPT_ROWS = {"rows": 4, "class": "sql", "spellcheck": "false"}


class InstallerUploadForm(forms.Form):
    """A package (.pkg, .msi, .exe, .deb, .rpm) with the options `POST /software/package` takes.

    Its metadata is read by the service, streaming; the service's refusals come back on the field
    they concern (`add_service_error`).
    """

    software = forms.FileField(label="Package", help_text="A .pkg, .msi, .exe, .deb or .rpm file.")
    # Not required: a form posted without it targets all hosts, as the API does.
    target = forms.ChoiceField(
        choices=TARGETS, initial="all", required=False, widget=forms.RadioSelect, label="Install on"
    )
    labels = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Global labels and this team's. Hosts outside the target do not see the package.",
    )
    pre_install_query = forms.CharField(
        label="Pre-install condition (osquery SQL)",
        required=False,
        strip=False,
        # Only this field goes to the check: never the package the form also holds.
        widget=forms.Textarea(attrs={**SQL_CHECK_ATTRS, "rows": 3, "hx-params": "pre_install_query"}),
        help_text="Install only when this query returns a row. " + SQL_CHECK_SLOT,
    )
    install_script = forms.CharField(
        label="Install script",
        required=False,
        strip=False,
        widget=forms.Textarea(SCRIPT_ROWS),
        help_text="Empty: Fleet's default for the package type (.exe packages need one). "
        "<code>$INSTALLER_PATH</code> is the downloaded package.",
    )
    post_install_script = forms.CharField(
        label="Post-install script",
        required=False,
        strip=False,
        widget=forms.Textarea(SCRIPT_ROWS),
        help_text="Runs after a successful install; if it fails, the software is uninstalled.",
    )
    uninstall_script = forms.CharField(
        label="Uninstall script",
        required=False,
        strip=False,
        widget=forms.Textarea(SCRIPT_ROWS),
        help_text="Empty: Fleet's default for the package type (.exe packages need one). "
        "<code>$PACKAGE_ID</code> and <code>$UPGRADE_CODE</code> are read from the package.",
    )
    self_service = forms.BooleanField(label="Self-service (end users install it from My Device)", required=False)

    def __init__(self, *args: Any, team_id: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = Label.objects.filter(Q(team__isnull=True) | Q(team_id=team_id)).order_by("name")
        self.fields["labels"].choices = [(name, name) for name in labels.values_list("name", flat=True)]

    def clean_software(self) -> Any:
        upload = self.cleaned_data["software"]
        limit = settings.FLEETSITE_SOFTWARE_INSTALLER_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(f"The maximum file size is {limit} bytes.")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["target"] = data.get("target") or "all"
        if data["target"] != "all" and not data.get("labels"):
            self.add_error("labels", "Tick at least one label, or install on all hosts.")
        return data

    def fields_for_service(self) -> dict[str, Any]:
        """The cleaned form as the REST API's fields: empty scripts mean "the default" (None)."""
        data = self.cleaned_data
        fields: dict[str, Any] = {
            key: data[key] or None
            for key in ("install_script", "uninstall_script", "pre_install_query", "post_install_script")
        }
        fields["self_service"] = data["self_service"]
        target = data["target"]
        for scope in ("labels_include_any", "labels_exclude_any"):
            fields[scope] = list(data["labels"]) if scope == f"labels_{target}" else None
        return fields

    def add_service_error(self, exc: FleetAPIError) -> None:
        """A refusal of the service, on the field the user changes to fix it (else on the package)."""
        reason = str(exc.reason)
        field = next((name for marker, name in _ERROR_FIELDS if marker in reason), "software")
        self.add_error(field, reason)


# Service messages and the form field each belongs to (first match wins).
_ERROR_FIELDS = (
    (c.EXE_NEEDS_SCRIPTS, "install_script"),
    (c.EXE_NEEDS_UNINSTALL, "uninstall_script"),
    ("Label ", "labels"),
    ("contains invalid characters", "uninstall_script"),
    (c.NO_UPGRADE_CODE, "uninstall_script"),
)

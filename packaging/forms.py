"""The UI's build form: the packager API's options, with the enroll secret picked from this server."""

from __future__ import annotations

from django import forms

from packaging import constants as C


class BuildForm(forms.Form):
    type = forms.ChoiceField(choices=[(value, value) for value in C.PACKAGE_TYPES])
    arch = forms.ChoiceField(choices=[(value, value) for value in C.ARCHES], initial="amd64")
    secret = forms.ChoiceField(label="Enroll secret")
    fleet_url = forms.CharField(label="Fleet URL", max_length=500)
    fleet_desktop = forms.BooleanField(required=False, label="Include Fleet Desktop")
    service = forms.BooleanField(required=False, initial=True, label="Start the service")
    insecure = forms.BooleanField(required=False, label="Skip TLS verification (--insecure)")
    debug = forms.BooleanField(required=False)
    enable_scripts = forms.BooleanField(required=False, label="Enable scripts")
    disable_updates = forms.BooleanField(required=False, label="Disable updates")
    orbit_channel = forms.CharField(initial=C.DEFAULT_CHANNEL, max_length=64)
    osqueryd_channel = forms.CharField(initial=C.DEFAULT_CHANNEL, max_length=64)
    desktop_channel = forms.CharField(initial=C.DEFAULT_CHANNEL, max_length=64)
    update_interval = forms.CharField(initial=C.DEFAULT_UPDATE_INTERVAL, max_length=32)
    retry = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, secrets: list[tuple[str, str]], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["secret"].choices = secrets

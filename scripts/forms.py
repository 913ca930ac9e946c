"""Forms of the scripts pages: upload a script file, edit a script's text, pick hosts for a batch run."""

from __future__ import annotations

from django import forms

from scripts import constants as c
from scripts.validation import ScriptInvalid, decode_upload


class ScriptUploadForm(forms.Form):
    """A `.sh`, `.py` or `.ps1` file; Fleet's checks (scripts.validation) run in the service."""

    script = forms.FileField(
        label="Script file", allow_empty_file=True, help_text="A .sh, .py or .ps1 file, up to 500,000 characters."
    )

    def clean_script(self) -> tuple[str, str]:
        upload = self.cleaned_data["script"]
        # Four bytes a character at most: anything longer is too large whatever it holds.
        raw = upload.read(4 * c.SAVED_SCRIPT_MAX_CHARS + 1)
        if len(raw) > 4 * c.SAVED_SCRIPT_MAX_CHARS:
            raise forms.ValidationError(c.SAVED_TOO_LARGE)
        try:
            text = decode_upload(raw)
        except ScriptInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload.name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], text


class ScriptEditForm(forms.Form):
    contents = forms.CharField(
        label="Contents",
        strip=False,
        required=False,
        widget=forms.Textarea(attrs={"rows": 18, "class": "code", "spellcheck": "false"}),
    )

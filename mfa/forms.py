"""Forms of the second step, enrolment, removal and the MFA setting."""

from __future__ import annotations

from django import forms


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Code",
        help_text="The 6-digit code your authenticator app shows now, or one of your recovery codes.",
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "text"}),
    )


class ConfirmDeviceForm(forms.Form):
    code = forms.CharField(
        max_length=16,
        label="Code from the app",
        help_text="After scanning, enter the 6-digit code the app shows to turn the second factor on.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PasswordCheckForm(forms.Form):
    password = forms.CharField(
        strip=False,
        label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class MFASettingsForm(forms.Form):
    require_mfa = forms.BooleanField(
        required=False,
        label="Require a second factor for password logins",
        help_text="People without an authenticator set one up at their next password login. Single sign-on "
        "logins are exempt (the identity provider handles MFA), and so are API-only users.",
    )

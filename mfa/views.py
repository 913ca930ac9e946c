"""Web UI: the login's code step, enrolment during login, the account's MFA and sessions pages, the setting."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.permissions import Action, Kind
from activities import types
from activities.record import record
from fleetsite.ui import login_required, require
from mfa import challenge, constants, factors, passkeys, policy, sessions
from mfa.forms import CodeForm, ConfirmDeviceForm, MFASettingsForm, PasswordCheckForm
from mfa.models import MFASettings, Passkey
from mfa.types import EDITED_MFA_SETTINGS

# Recovery codes made with a first passkey, shown once by the account page, and where to go then.
SESSION_NEW_CODES = "mfa_new_recovery_codes"
SESSION_CODES_NEXT = "mfa_new_recovery_codes_next"

# --- The login's second step ---------------------------------------------------------------------


def begin(request: HttpRequest, user: User, need: str, next_url: str) -> HttpResponse:
    """Called by the login page once the password passed: park the login and ask for the code (or a set-up)."""
    purpose = constants.PURPOSE_ENROL if need == policy.ENROL_FIRST else constants.PURPOSE_UI
    challenge.discard(request.session.get(constants.SESSION_CHALLENGE, ""))
    request.session[constants.SESSION_CHALLENGE] = challenge.start(user, purpose)
    request.session[constants.SESSION_NEXT] = next_url
    return redirect("ui-login-setup" if purpose == constants.PURPOSE_ENROL else "ui-login-code")


def _safe_next(request: HttpRequest) -> str:
    next_url = request.session.get(constants.SESSION_NEXT) or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        return "/"
    return next_url


def _finish(request: HttpRequest, user: User, method: str) -> str:
    """Log the browser in after the second step; returns where to go."""
    next_url = _safe_next(request)
    request.session.pop(constants.SESSION_CHALLENGE, None)
    request.session.pop(constants.SESSION_NEXT, None)
    request.session[constants.SESSION_METHOD] = f"password+{method}"
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    record(user, types.USER_LOGGED_IN, {"public_ip": getattr(request, "client_ip", ""), "mfa": method})
    return next_url


def _record_failure(request: HttpRequest, user: User | None, reason: str) -> None:
    record(
        user,
        types.USER_FAILED_LOGIN,
        {
            "email": user.email if user else "",
            "public_ip": getattr(request, "client_ip", ""),
            "reason": f"second factor: {reason}",
        },
    )


def _start_over(request: HttpRequest, message: str = challenge.EXPIRED) -> HttpResponse:
    request.session.pop(constants.SESSION_CHALLENGE, None)
    messages.error(request, message)
    return redirect("ui-login")


def login_code(request: HttpRequest) -> HttpResponse:
    """Step two of a password login: the authenticator's code or a recovery code."""
    key = request.session.get(constants.SESSION_CHALLENGE, "")
    pending = challenge.peek(key, constants.PURPOSE_UI)
    if pending is None:
        return _start_over(request)
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            passed = challenge.complete(key, form.cleaned_data["code"], constants.PURPOSE_UI)
        except challenge.ChallengeFailed as exc:
            _record_failure(request, exc.user, exc.message)
            if exc.ended:
                return _start_over(request)
            form.add_error("code", exc.message)
            status = 401
        else:
            return redirect(_finish(request, passed.user, passed.method))
    context = {
        "form": form,
        "title": "Two-step sign-in",
        "email": pending.user.email,
        "has_passkeys": passkeys.has_passkeys(pending.user),
        "has_totp": factors.has_totp(pending.user),
    }
    return render(request, "mfa/login_code.html", context, status=status)


def login_setup(request: HttpRequest) -> HttpResponse:
    """A second factor is required and this user has none: set one up, then the login completes."""
    key = request.session.get(constants.SESSION_CHALLENGE, "")
    pending = challenge.peek(key, constants.PURPOSE_ENROL)
    if pending is None:
        return _start_over(request)
    user = pending.user
    form = ConfirmDeviceForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            codes = factors.confirm(user, form.cleaned_data["code"])
        except factors.CodeRefused as exc:
            form.add_error("code", str(exc))
            status = 422
        else:
            challenge.discard(key)
            next_url = _finish(request, user, "totp")
            context = {"title": "Save your recovery codes", "codes": codes, "continue_url": next_url}
            return render(request, "mfa/recovery_codes.html", context)
    device = factors.pending_device(user)
    context = {
        "title": "Set up a second factor",
        "form": form,
        "qr": factors.qr_svg(device),
        "secret": factors.secret_base32(device),
        "during_login": True,
        "email": user.email,
    }
    return render(request, "mfa/setup.html", context, status=status)


# --- Your account ---------------------------------------------------------------------------------


def _password_ok(request: HttpRequest, form: PasswordCheckForm) -> bool:
    if form.is_valid() and request.user.check_password(form.cleaned_data["password"]):
        return True
    if form.is_bound and not form.errors:
        form.add_error("password", "That is not your password.")
    return False


@login_required
def account_mfa(request: HttpRequest) -> HttpResponse:
    """Set up or turn off your authenticator app, list your passkeys, and replace your recovery codes."""
    user = request.user
    new_codes = request.session.pop(SESSION_NEW_CODES, None)
    continue_url = request.session.pop(SESSION_CODES_NEXT, None) or reverse("ui-account-mfa")
    if new_codes:  # a first passkey made them (the passkey was added by a script request, not this page)
        context = {"title": "Save your recovery codes", "codes": new_codes, "continue_url": continue_url}
        return render(request, "mfa/recovery_codes.html", context)
    enrolled = factors.has_mfa(user)
    totp_on = factors.has_totp(user)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    confirm_form = ConfirmDeviceForm(request.POST if action == "confirm" else None)
    password_form = PasswordCheckForm(request.POST if action in ("remove", "regenerate") else None)
    status = 200
    if action == "confirm" and not totp_on and confirm_form.is_valid():
        try:
            codes = factors.confirm(user, confirm_form.cleaned_data["code"])
        except factors.CodeRefused as exc:
            confirm_form.add_error("code", str(exc))
            status = 422
        else:
            messages.success(request, "Your second factor is on: password logins now ask for a code.")
            context = {"title": "Save your recovery codes", "codes": codes, "continue_url": reverse("ui-account-mfa")}
            return render(request, "mfa/recovery_codes.html", context)
    elif action == "regenerate" and enrolled:
        if _password_ok(request, password_form):
            codes = factors.regenerate_recovery_codes(user)
            context = {"title": "Save your recovery codes", "codes": codes, "continue_url": reverse("ui-account-mfa")}
            return render(request, "mfa/recovery_codes.html", context)
        status = 422
    elif action == "remove" and enrolled:
        if _password_ok(request, password_form):
            if policy.required() and not user.api_only:
                messages.error(request, "This organization requires a second factor: it cannot be turned off.")
                return redirect("ui-account-mfa")
            factors.remove(user, user)
            messages.success(request, "Your second factor is off: password logins no longer ask for a code.")
            return redirect("ui-account-mfa")
        status = 422
    context = {
        "title": "Second factor",
        "enrolled": enrolled,
        "totp_on": totp_on,
        "confirm_form": confirm_form,
        "password_form": password_form,
        "required": policy.required(),
        "passkeys": list(Passkey.objects.filter(user=user)),
    }
    if enrolled:
        context["recovery_left"] = factors.recovery_codes_left(user)
    if not totp_on:
        device = factors.pending_device(user)
        context["qr"] = factors.qr_svg(device)
        context["secret"] = factors.secret_base32(device)
    return render(request, "mfa/account_mfa.html", context, status=status)


# --- Passkeys ------------------------------------------------------------------------------------------


def _json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@login_required
@require_POST
def passkey_register_options(request: HttpRequest) -> HttpResponse:
    """Creation options for navigator.credentials.create (static/passkeys.js asks for them)."""
    try:
        options = passkeys.registration_options(request, request.user)
    except passkeys.PasskeyRefused as exc:
        return _json_error(str(exc), 422)
    return HttpResponse(options, content_type="application/json")


@login_required
@require_POST
def passkey_register(request: HttpRequest) -> HttpResponse:
    """Keep a new passkey once its attestation verifies; the first factor also makes recovery codes."""
    data = passkeys.parse_json(request.body)
    user = request.user
    try:
        row, first = passkeys.register(request, user, data.get("name", ""), data.get("credential"))
    except passkeys.PasskeyRefused as exc:
        return _json_error(str(exc), 422)
    if first or not factors.recovery_codes_left(user):
        with transaction.atomic():
            request.session[SESSION_NEW_CODES] = factors.new_recovery_codes(user)
    messages.success(request, f"Passkey “{row.name}” added: password logins can now finish with it.")
    return JsonResponse({"redirect": reverse("ui-account-mfa")})


@login_required
def passkey_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm (with the password) and remove one passkey."""
    user = request.user
    row = get_object_or_404(Passkey, user=user, pk=pk)
    form = PasswordCheckForm(request.POST or None)
    last = Passkey.objects.filter(user=user).count() == 1 and not factors.has_totp(user)
    status = 200
    if request.method == "POST":
        if _password_ok(request, form):
            if last and policy.required() and not user.api_only:
                messages.error(request, "This organization requires a second factor: add another one first.")
                return redirect("ui-account-mfa")
            passkeys.remove(user, user, row.pk)
            messages.success(request, f"Passkey “{row.name}” removed.")
            return redirect("ui-account-mfa")
        status = 422
    context = {"title": "Remove a passkey", "passkey": row, "form": form, "last": last}
    return render(request, "mfa/passkey_remove.html", context, status=status)


def login_setup_passkey_options(request: HttpRequest) -> HttpResponse:
    """Creation options for a passkey set up during a login that requires a second factor."""
    if request.method != "POST":
        return _json_error("Use POST.", 405)
    pending = challenge.peek(request.session.get(constants.SESSION_CHALLENGE, ""), constants.PURPOSE_ENROL)
    if pending is None:
        return _json_error(challenge.EXPIRED, 401)
    try:
        options = passkeys.registration_options(request, pending.user)
    except passkeys.PasskeyRefused as exc:
        return _json_error(str(exc), 422)
    return HttpResponse(options, content_type="application/json")


def login_setup_passkey(request: HttpRequest) -> HttpResponse:
    """Keep the passkey, finish the login, and show the new recovery codes before going on."""
    if request.method != "POST":
        return _json_error("Use POST.", 405)
    key = request.session.get(constants.SESSION_CHALLENGE, "")
    pending = challenge.peek(key, constants.PURPOSE_ENROL)
    if pending is None:
        return _json_error(challenge.EXPIRED, 401)
    user = pending.user
    data = passkeys.parse_json(request.body)
    try:
        passkeys.register(request, user, data.get("name", ""), data.get("credential"))
    except passkeys.PasskeyRefused as exc:
        return _json_error(str(exc), 422)
    challenge.discard(key)
    with transaction.atomic():
        codes = factors.new_recovery_codes(user)
    next_url = _finish(request, user, "passkey")
    request.session[SESSION_NEW_CODES] = codes
    request.session[SESSION_CODES_NEXT] = next_url
    return JsonResponse({"redirect": reverse("ui-account-mfa")})


def login_passkey_options(request: HttpRequest) -> HttpResponse:
    """Request options for the pending login's passkey step; a new challenge each time."""
    if request.method != "POST":
        return _json_error("Use POST.", 405)
    pending = challenge.peek(request.session.get(constants.SESSION_CHALLENGE, ""), constants.PURPOSE_UI)
    if pending is None:
        return _json_error(challenge.EXPIRED, 401)
    if not passkeys.has_passkeys(pending.user):
        return _json_error("This account has no passkey: enter a code instead.", 422)
    try:
        options = passkeys.authentication_options(request, pending)
    except passkeys.PasskeyRefused as exc:
        return _json_error(str(exc), 422)
    return HttpResponse(options, content_type="application/json")


def login_passkey(request: HttpRequest) -> HttpResponse:
    """Finish the password login with a passkey assertion (JSON in, JSON out: where to go, or why not)."""
    if request.method != "POST":
        return _json_error("Use POST.", 405)
    key = request.session.get(constants.SESSION_CHALLENGE, "")
    data = passkeys.parse_json(request.body)
    try:
        rp = passkeys.relying_party(request)
        passed = challenge.complete_passkey(key, data.get("credential"), constants.PURPOSE_UI, rp)
    except passkeys.PasskeyRefused as exc:
        return _json_error(str(exc), 422)
    except challenge.ChallengeFailed as exc:
        _record_failure(request, exc.user, f"passkey: {exc.message}")
        if exc.ended:
            request.session.pop(constants.SESSION_CHALLENGE, None)
            messages.error(request, exc.message)
            return JsonResponse({"error": exc.message, "redirect": reverse("ui-login")}, status=401)
        return _json_error(exc.message, 401)
    return JsonResponse({"redirect": _finish(request, passed.user, passed.method)})


@login_required
def account_sessions(request: HttpRequest) -> HttpResponse:
    """Your web logins and REST login tokens, each of which you can end (API tokens are on the account page)."""
    user = request.user
    if request.method == "POST":
        action = request.POST.get("action", "")
        try:
            session_id = int(request.POST.get("session_id", ""))
        except ValueError:
            session_id = 0
        if action == "end_browser" and session_id:
            ended = sessions.end_browser_session(user, session_id)
        elif action == "end_api" and session_id:
            ended = sessions.end_api_session(user, session_id)
        elif action == "end_others":
            ended = bool(sessions.end_all(user, user, keep_session_key=request.session.session_key or ""))
        else:
            ended = False
        if ended:
            messages.success(request, "Ended." if action != "end_others" else "Your other sessions have ended.")
        else:
            messages.error(request, "That session has already ended.")
        return redirect("ui-account-sessions")
    browser_sessions = list(sessions.browser_sessions(user))
    api_sessions = list(sessions.api_sessions(user))
    current = request.session.session_key
    context = {
        "title": "Your sessions",
        "browser_sessions": browser_sessions,
        "api_sessions": api_sessions,
        "current_key": current,
        # What "End all my other sessions" asks about: every login but this browser's.
        "other_sessions": len(api_sessions) + sum(1 for s in browser_sessions if s.session_key != current),
    }
    return render(request, "mfa/sessions.html", context)


# --- Admins ------------------------------------------------------------------------------------------


@login_required
def mfa_settings(request: HttpRequest) -> HttpResponse:
    require(request, Action.WRITE, Kind.CONFIG)
    row = MFASettings.load()
    form = MFASettingsForm(request.POST or None, initial={"require_mfa": row.require_mfa})
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            row = MFASettings.objects.select_for_update().get(pk=row.pk)
            if row.require_mfa != form.cleaned_data["require_mfa"]:
                row.require_mfa = form.cleaned_data["require_mfa"]
                row.save()
                record(request.user, EDITED_MFA_SETTINGS, {"require_mfa": row.require_mfa})
        messages.success(request, "Second-factor settings saved.")
        return redirect("ui-mfa-settings")
    return render(request, "mfa/settings.html", {"title": "Second factor", "form": form})


@login_required
@require_POST
def user_end_sessions(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin logs a user out everywhere (web and REST logins; API tokens stay)."""
    require(request, Action.WRITE, Kind.USER)
    user = get_object_or_404(User, pk=pk)
    keep = (request.session.session_key or "") if user.pk == request.user.pk else ""
    ended = sessions.end_all(request.user, user, keep_session_key=keep)
    messages.success(request, f"{ended} session{'' if ended == 1 else 's'} of {user.email} ended.")
    return redirect("ui-user-edit", pk=user.pk)


@login_required
@require_POST
def user_remove_mfa(request: HttpRequest, pk: int) -> HttpResponse:
    """An admin turns off a user's second factor (a lost phone); with MFA required, they set a new one up at login."""
    require(request, Action.WRITE, Kind.USER)
    user = get_object_or_404(User, pk=pk)
    if factors.remove(request.user, user):
        messages.success(request, f"The second factor of {user.email} is off.")
    else:
        messages.info(request, f"{user.email} had no second factor.")
    return redirect("ui-user-edit", pk=user.pk)

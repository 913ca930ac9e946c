"""Log in, log out, password reset, invite sign-up and the account page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts import lockout, services, tokens
from accounts.choices import TokenKind
from accounts.emails import reset_path, send_password_reset
from accounts.forms import AcceptInviteForm, ApiTokenForm, LoginForm, ProfileForm
from accounts.models import AuthToken, User
from activities import types
from activities.record import record
from fleetsite.ui import field_errors_from, login_required
from mfa import policy as mfa_policy
from mfa import views as mfa_views
from sso import flow as sso_flow
from sso import policy as sso_policy


def login_view(request: HttpRequest) -> HttpResponse:
    """Email and password; failures are recorded and answered with one message that tells nothing.

    A `next` on another site is an open-redirect attempt: shown as such and dropped when the page
    is opened, and a login posted with one is refused (and recorded) before the password is tried.
    """
    next_url = request.POST.get("next") or request.GET.get("next") or "/"
    offsite = not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure())
    refused_next = next_url if offsite else ""
    if offsite:
        next_url = "/"
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "GET" and refused_next:
        messages.warning(
            request,
            f"The link you followed would have sent you on to {refused_next[:200]!r} after logging in. "
            "That is not a page of this server, so you will go to the dashboard instead.",
        )
    if request.method == "POST" and refused_next and form.is_valid():
        reason = sso_flow.refused_redirect_message(refused_next)
        email = form.cleaned_data["email"].strip().lower()
        record(
            User.objects.filter(email=email).first(),
            types.USER_FAILED_LOGIN,
            {"email": email, "public_ip": getattr(request, "client_ip", ""), "reason": reason},
        )
        form.add_error(None, reason)
    elif request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        user = authenticate(request, username=email, password=form.cleaned_data["password"])
        if user is not None and user.is_active and not user.api_only and user.force_password_reset:
            # An admin required a new password (Fleet's require_password_reset): set it before anything else.
            messages.info(request, "An admin asked you to choose a new password before you continue.")
            return redirect(reset_path(user))
        refusal = sso_policy.password_refusal(user) if user is not None else None
        if user is not None and refusal is None and user.is_active and not user.api_only:
            need = mfa_policy.password_login_needs(user)
            if need is not None:
                return mfa_views.begin(request, user, need, next_url)  # the code step, or a set-up first
            login(request, user)
            record(user, types.USER_LOGGED_IN, {"public_ip": getattr(request, "client_ip", "")})
            return redirect(next_url)
        known = User.objects.filter(email=email).first()
        record(known, types.USER_FAILED_LOGIN, {"email": email, "public_ip": getattr(request, "client_ip", "")})
        if refusal is not None:
            form.add_error(None, refusal)
        elif lockout.is_locked_out(request):  # the page must say so: AxesMiddleware replaces others
            form.add_error(None, lockout.lockout_message(request))
            status = 429
        else:
            form.add_error(None, "Wrong email or password, or this account cannot use the web UI.")
    response = render(
        request, "accounts/login.html", {"form": form, "next": next_url, "title": "Log in"}, status=status
    )
    if status == 429:
        response["Retry-After"] = str(lockout.retry_after(request))
    return response


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect("ui-login")


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset flow, with our email text and no hint whether the address exists."""

    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("ui-password-reset-done")
    extra_context = {"title": "Reset your password"}

    def form_valid(self, form: object) -> HttpResponse:
        email = form.cleaned_data["email"].strip().lower()  # type: ignore[attr-defined]
        if not lockout.check_reset_request(self.request, email):
            form.add_error(None, lockout.lockout_message(self.request))  # type: ignore[attr-defined]
            response = self.render_to_response(self.get_context_data(form=form), status=429)
            response["Retry-After"] = str(lockout.retry_after(self.request))
            return response
        user = User.objects.filter(email=email, is_active=True, api_only=False).first()
        if user is not None:
            send_password_reset(user, self.request.build_absolute_uri("/"))
        return redirect(self.success_url)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("ui-login")
    extra_context = {"title": "Choose a new password"}

    def form_valid(self, form: object) -> HttpResponse:
        response = super().form_valid(form)
        if self.user.force_password_reset:
            self.user.force_password_reset = False
            self.user.save(update_fields=["force_password_reset", "updated_at"])
        tokens.revoke_sessions(self.user)
        record(self.user, types.RESET_PASSWORD, {"user_id": self.user.pk, "user_email": self.user.email})
        messages.success(self.request, "Your password is changed. Log in with the new one.")
        return response


def password_reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/password_reset_done.html", {"title": "Check your email"})


def accept_invite(request: HttpRequest, token: str) -> HttpResponse:
    """The invite link: choose a name and password, then you are logged in."""
    invite = services.find_invite(token)
    if invite is None:
        return render(request, "accounts/invite_invalid.html", {"title": "Invite not valid"}, status=404)
    form = AcceptInviteForm(request.POST or None, initial={"name": invite.name})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.accept_invite(invite, form.cleaned_data["name"], form.cleaned_data["password"])
        except services.InvalidInput as exc:
            field_errors_from(form, exc)
        else:
            login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
            messages.success(request, "Welcome to Fleetsite.")
            return redirect("/")
    return render(
        request, "accounts/accept_invite.html", {"form": form, "invite": invite, "title": "Create your account"}
    )


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Your name, your password and your API tokens."""
    user = request.user
    profile = ProfileForm(initial={"name": user.name}, prefix="profile")
    password = PasswordChangeForm(user, prefix="password")
    token_form = ApiTokenForm(prefix="token")
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "profile":
            profile = ProfileForm(request.POST, prefix="profile")
            if profile.is_valid():
                services.update_user(user, user, {"name": profile.cleaned_data["name"]})
                messages.success(request, "Your name is saved.")
                return redirect("ui-account")
        elif action == "password":
            password = PasswordChangeForm(user, request.POST, prefix="password")
            if password.is_valid():
                password.save()
                update_session_auth_hash(request, user)
                tokens.revoke_sessions(user)
                record(user, types.CHANGED_PASSWORD, {"user_id": user.pk, "user_email": user.email})
                messages.success(request, "Your password is changed; your other sessions have ended.")
                return redirect("ui-account")
        elif action == "token":
            token_form = ApiTokenForm(request.POST, prefix="token")
            if token_form.is_valid():
                data = token_form.cleaned_data
                try:
                    token, new_key = tokens.issue_api_token(user, data["name"], data["role"], data["expires_in_days"])
                except tokens.TokenRoleTooHigh as exc:
                    token_form.add_error("role", str(exc))
                else:
                    record(
                        user, types.CREATED_API_TOKEN, {"token_id": token.pk, "name": token.name, "role": token.role}
                    )
                    token_form = ApiTokenForm(prefix="token")
        elif action == "revoke":
            token = AuthToken.objects.filter(pk=request.POST.get("token_id"), user=user, kind=TokenKind.API).first()
            if token is not None:
                record(user, types.REVOKED_API_TOKEN, {"token_id": token.pk, "name": token.name})
                token.delete()
                messages.success(request, f"API token “{token.name}” is revoked.")
            return redirect("ui-account")
    context = {
        "title": "Your account",
        "profile": profile,
        "password_form": password,
        "token_form": token_form,
        "new_key": new_key,
        "api_tokens": AuthToken.objects.filter(user=user, kind=TokenKind.API).order_by("-created_at"),
        "session_timeout_hours": settings.SESSION_COOKIE_AGE / 3600,
    }
    return render(request, "accounts/account.html", context)

"""Web UI routes of the second factor and the sessions pages."""

from django.urls import path

from mfa import views

urlpatterns = [
    path("login/code/", views.login_code, name="ui-login-code"),
    path("login/setup/", views.login_setup, name="ui-login-setup"),
    path("login/setup/passkey/options/", views.login_setup_passkey_options, name="ui-login-setup-passkey-options"),
    path("login/setup/passkey/", views.login_setup_passkey, name="ui-login-setup-passkey"),
    path("login/passkey/options/", views.login_passkey_options, name="ui-login-passkey-options"),
    path("login/passkey/", views.login_passkey, name="ui-login-passkey"),
    path("account/mfa/", views.account_mfa, name="ui-account-mfa"),
    path("account/mfa/passkeys/options/", views.passkey_register_options, name="ui-passkey-register-options"),
    path("account/mfa/passkeys/", views.passkey_register, name="ui-passkey-register"),
    path("account/mfa/passkeys/<int:pk>/remove/", views.passkey_remove, name="ui-passkey-remove"),
    path("account/sessions/", views.account_sessions, name="ui-account-sessions"),
    path("settings/mfa/", views.mfa_settings, name="ui-mfa-settings"),
    path("users/<int:pk>/sessions/end/", views.user_end_sessions, name="ui-user-end-sessions"),
    path("users/<int:pk>/mfa/remove/", views.user_remove_mfa, name="ui-user-remove-mfa"),
]

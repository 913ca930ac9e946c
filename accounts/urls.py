"""Admin UI routes for sign-in, account, users and teams."""

from django.urls import path

from accounts.views import auth, teams, users

urlpatterns = [
    path("login/", auth.login_view, name="ui-login"),
    path("logout/", auth.logout_view, name="ui-logout"),
    path("account/", auth.account, name="ui-account"),
    path("password/reset/", auth.PasswordResetView.as_view(), name="ui-password-reset"),
    path("password/reset/sent/", auth.password_reset_done, name="ui-password-reset-done"),
    path("password/reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(), name="ui-password-reset-confirm"),
    path("invites/<str:token>/", auth.accept_invite, name="ui-accept-invite"),
    path("users/", users.user_list, name="ui-users"),
    path("users/new/", users.user_create, name="ui-user-create"),
    path("users/invite/", users.invite_create, name="ui-invite-create"),
    path("users/invites/<int:pk>/delete/", users.invite_delete, name="ui-invite-delete"),
    path("users/<int:pk>/", users.user_edit, name="ui-user-edit"),
    path("users/<int:pk>/delete/", users.user_delete, name="ui-user-delete"),
    path("teams/", teams.team_list, name="ui-teams"),
    path("teams/new/", teams.team_create, name="ui-team-create"),
    path("teams/<int:pk>/", teams.team_detail, name="ui-team"),
    path("teams/<int:pk>/edit/", teams.team_edit, name="ui-team-edit"),
    path("teams/<int:pk>/delete/", teams.team_delete, name="ui-team-delete"),
]

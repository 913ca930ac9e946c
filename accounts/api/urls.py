from django.urls import path

from accounts.api import sessions, specs, teams, users, views

urlpatterns = [
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("me", views.MeView.as_view(), name="me"),
    path("change_password", users.ChangePasswordView.as_view(), name="change-password"),
    path("forgot_password", users.ForgotPasswordView.as_view(), name="forgot-password"),
    path("reset_password", users.ResetPasswordView.as_view(), name="reset-password"),
    path("users", users.UserListView.as_view(), name="users"),
    path("users/admin", users.AdminUserCreateView.as_view(), name="users-admin"),
    path("users/roles/spec", specs.UserRoleSpecView.as_view(), name="user-roles-spec"),
    path("users/<int:user_id>", users.UserDetailView.as_view(), name="user"),
    path("users/<int:user_id>/sessions", sessions.UserSessionsView.as_view(), name="user-sessions"),
    path(
        "users/<int:user_id>/require_password_reset",
        sessions.RequirePasswordResetView.as_view(),
        name="user-require-password-reset",
    ),
    path(
        "perform_required_password_reset",
        sessions.PerformRequiredPasswordResetView.as_view(),
        name="perform-required-password-reset",
    ),
    path("sessions", sessions.SessionCreateView.as_view(), name="sessions"),
    path("sessions/<int:session_id>", sessions.SessionDetailView.as_view(), name="session"),
    path("email/change/<str:token>", sessions.EmailChangeConfirmView.as_view(), name="email-change"),
    path("invites", users.InviteListView.as_view(), name="invites"),
    path("invites/<str:key>", users.InviteView.as_view(), name="invite"),
    path("api_tokens", users.ApiTokenListView.as_view(), name="api-tokens"),
    path("api_tokens/<int:token_id>", users.ApiTokenDetailView.as_view(), name="api-token"),
    path("teams", teams.TeamListView.as_view(), name="teams"),
    path("teams/<int:team_id>", teams.TeamDetailView.as_view(), name="team"),
    path("teams/<int:team_id>/agent_options", teams.TeamAgentOptionsView.as_view(), name="team-agent-options"),
    path("teams/<int:team_id>/users", teams.TeamUsersView.as_view(), name="team-users"),
    path("spec/teams", specs.TeamSpecsView.as_view(), name="team-specs"),
]

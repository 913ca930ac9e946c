from django.urls import path

from enrollment.api import views

urlpatterns = [
    path("spec/enroll_secret", views.GlobalSecretsView.as_view(), name="global-secrets"),
    path("teams/<int:team_id>/secrets", views.TeamSecretsView.as_view(), name="team-secrets"),
]

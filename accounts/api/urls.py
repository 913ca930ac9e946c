from django.urls import path

from accounts.api import views

urlpatterns = [
    path("login", views.LoginView.as_view(), name="login"),
    path("logout", views.LogoutView.as_view(), name="logout"),
    path("me", views.MeView.as_view(), name="me"),
    path("teams", views.TeamListView.as_view(), name="teams"),
    path("fleets", views.TeamListView.as_view()),
]

from django.urls import path

from variables.api import views

urlpatterns = [
    path("spec/secret_variables", views.SecretVariablesSpecView.as_view(), name="secret-variables-spec"),
    path("custom_variables", views.CustomVariablesView.as_view(), name="custom-variables"),
    path("custom_variables/<int:variable_id>", views.CustomVariableDetailView.as_view(), name="custom-variable"),
]

from django.urls import path

from software_installers.api import batch, views

urlpatterns = [
    path("software/package", views.PackageUploadView.as_view(), name="software-package"),
    path("software/batch", batch.BatchView.as_view(), name="software-batch"),
    path("software/batch/<str:request_uuid>", batch.BatchStatusView.as_view()),
    path("software/install/<str:install_uuid>/results", views.InstallResultView.as_view()),
    path("software/titles/<int:title_id>/package", views.TitlePackageView.as_view(), name="title-package"),
    path("software/titles/<int:title_id>/package/token", views.PackageTokenView.as_view()),
    path("software/titles/<int:title_id>/package/token/<str:token>", views.PackageTokenDownloadView.as_view()),
    path("software/titles/<int:title_id>/available_for_install", views.AvailableForInstallView.as_view()),
    path("software/titles/<int:title_id>/name", views.TitleNameView.as_view()),
    path("software/titles/<int:title_id>/icon", views.TitleIconView.as_view()),
    path("hosts/<int:host_id>/software", views.HostSoftwareView.as_view()),
    path("hosts/<int:host_id>/software/<int:title_id>/install", views.HostInstallView.as_view()),
    path("hosts/<int:host_id>/software/<int:title_id>/uninstall", views.HostUninstallView.as_view()),
]

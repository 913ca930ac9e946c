from django.urls import path

from carves.api import views

urlpatterns = [
    path("carves", views.CarveListView.as_view(), name="carves"),
    path("carves/<int:carve_id>", views.CarveDetailView.as_view(), name="carve"),
    path("carves/<int:carve_id>/block/<int:block_id>", views.CarveBlockView.as_view(), name="carve-block"),
    path("carves/<int:carve_id>/download", views.CarveDownloadView.as_view(), name="carve-download"),
]

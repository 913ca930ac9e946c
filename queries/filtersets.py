"""Fleet's `/queries` list filters, once for the REST API and the UI list (STYLE 2.1)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from fleetsite.api.filtersets import LeanFilterSet
from queries.models import Query

PLATFORMS = ("darwin", "windows", "linux", "chrome")
ORDER_KEYS = {
    "id": "id",
    "name": "name",
    "created_at": "created_at",
    "updated_at": "updated_at",
    "interval": "interval",
    "platform": "platform",
    "team_id": "team_key",
    "author_name": "author__name",
}


class QueryFilterSet(LeanFilterSet):
    query = filters.CharFilter(method="filter_query")
    platform = filters.ChoiceFilter(choices=[(p, p) for p in PLATFORMS], method="filter_platform")
    order_key = filters.ChoiceFilter(choices=[(key, key) for key in ORDER_KEYS], method="filter_noop")
    order_direction = filters.ChoiceFilter(choices=[("asc", "asc"), ("desc", "desc")], method="filter_noop")

    class Meta:
        model = Query
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        text = value.strip()
        return queryset.filter(Q(name__icontains=text) | Q(description__icontains=text)) if text else queryset

    def filter_platform(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # An empty platform means "every platform", so those queries run on `value` too.
        return queryset.filter(Q(platform="") | Q(platform__contains=value))

    def filter_noop(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    @property
    def qs(self) -> QuerySet:
        queryset = super().qs
        data = self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}
        column = ORDER_KEYS[data.get("order_key") or "name"]
        prefix = "-" if data.get("order_direction") == "desc" else ""
        return queryset.order_by(f"{prefix}{column}", f"{prefix}id")

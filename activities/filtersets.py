"""Activity feed filters, one FilterSet for the UI page and `GET /activities` (STYLE 2.1)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django_filters import rest_framework as filters

from activities.models import Activity
from fleetsite.api.filtersets import LeanFilterSet

ORDER_KEYS = {"created_at": "created_at", "id": "id", "type": "type", "actor_email": "actor_email"}


class ActivityFilterSet(LeanFilterSet):
    query = filters.CharFilter(method="filter_query", label="Actor or details")
    activity_type = filters.CharFilter(field_name="type", label="Type")
    actor_id = filters.NumberFilter(field_name="actor_id", label="Actor id")
    host_id = filters.NumberFilter(field_name="host_id", label="Host id")
    team_id = filters.NumberFilter(field_name="team_id", label="Team id")
    start_created_at = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label="From")
    end_created_at = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lte", label="Until")
    order_key = filters.ChoiceFilter(choices=[(k, k) for k in ORDER_KEYS], method="filter_noop")
    order_direction = filters.ChoiceFilter(choices=[("asc", "asc"), ("desc", "desc")], method="filter_noop")

    class Meta:
        model = Activity
        fields: list[str] = []

    def filter_query(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        text = value.strip()
        if not text:
            return queryset
        return queryset.filter(
            Q(actor_full_name__icontains=text) | Q(actor_email__icontains=text) | Q(type__icontains=text)
        )

    def filter_noop(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset

    @property
    def qs(self) -> QuerySet:
        queryset = super().qs
        data = self.form.cleaned_data if self.is_bound and self.form.is_valid() else {}
        column = ORDER_KEYS[data.get("order_key") or "created_at"]
        # Newest first unless asked otherwise: a feed is read from the top.
        prefix = "" if data.get("order_direction") == "asc" else "-"
        return queryset.order_by(f"{prefix}{column}", f"{prefix}id")

"""Filters of the repositories list: part of the name, and the order."""

import django_filters
from django.db.models import QuerySet

from triage.models import Repository
from triage.selectors.repositories import REPOSITORY_SORTS


class RepositoryFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(label="Name contains", lookup_expr="icontains", max_length=300)
    sort = django_filters.ChoiceFilter(
        label="Sort by",
        choices=[(key, label) for key, (label, _) in REPOSITORY_SORTS.items()],
        empty_label=None,
        method="filter_sort",
    )

    class Meta:
        model = Repository
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.auto_id = "repositories-%s"

    def filter_sort(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Rows are sorted by their counts once counted (`repository_rows`).
        return queryset

    @property
    def order(self) -> str:
        """The chosen order, or by name."""
        if not self.is_bound:
            return "name"
        self.is_valid()
        return self.form.cleaned_data.get("sort") or "name"

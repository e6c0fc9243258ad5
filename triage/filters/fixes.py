"""Filters of the fixes list."""

import django_filters

from triage.models import Fix
from triage.selectors.fixes import FIX_STATUS_FILTERS


class FixFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[(status.value, status.label) for status in FIX_STATUS_FILTERS],
        empty_label="Any",
        method="filter_status",
    )

    class Meta:
        model = Fix
        fields = ["status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.form.auto_id = "fix-%s"

    def filter_status(self, queryset, name, value):
        # Kolega's statuses arrive in either case.
        return queryset.filter(status__iexact=value) if value else queryset

"""Filters of the approvals inbox: which requests it lists, by their status tab."""

import django_filters

from triage.models import FixApproval


class ApprovalInboxFilter(django_filters.FilterSet):
    """The inbox's tab as a filter, so an unknown ``?status=`` is refused in the words of the
    page. The rows are read by the view from both queues (fix approvals and dismissals)."""

    status = django_filters.ChoiceFilter(label="Status", choices=(), method="filter_tab")

    class Meta:
        model = FixApproval
        fields: list[str] = []

    def __init__(self, *args, tabs: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["status"].extra["choices"] = tabs
        self.form.fields["status"].choices = [("", "Waiting"), *tabs]

    def filter_tab(self, queryset, name, value):
        # The view reads each tab's rows from both queues itself.
        return queryset

    @property
    def tab(self) -> str:
        """The tab to show: the one asked for, else the first."""
        chosen = None
        if self.is_bound:
            self.is_valid()  # cleans the form; a refused tab is left out of cleaned_data
            chosen = self.form.cleaned_data.get("status")
        return chosen or self.filters["status"].extra["choices"][0][0]

"""Filters of the pull-requests list: repository, merge status and when it was opened."""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from triage.models import PullRequest, Repository, Team


def _start_of_day(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class PullRequestFilter(django_filters.FilterSet):
    repository = django_filters.ModelChoiceFilter(
        field_name="fix__repository",
        queryset=Repository.objects.none(),
        label="Repository",
        empty_label="Any repository",
    )
    merge_status = django_filters.ChoiceFilter(
        choices=PullRequest.MergeStatus.choices,
        label="Merge status",
        empty_label="Any status",
        method="filter_merge_status",
    )
    opened_after = django_filters.DateFilter(
        label="Opened from",
        method="filter_opened_after",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    opened_before = django_filters.DateFilter(
        label="Opened until",
        method="filter_opened_before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = PullRequest
        fields: list[str] = []

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["repository"].queryset = Repository.objects.filter(team=team).only(
            "id", "name"
        )
        self.form.auto_id = "pr-%s"

    def filter_merge_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # Kolega's statuses arrive in either case.
        return queryset.filter(merge_status__iexact=value) if value else queryset

    def filter_opened_after(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        if value <= date.min + timedelta(days=1):  # the first day there is: everything
            return queryset
        return queryset.filter(created_at__gte=_start_of_day(value))

    def filter_opened_before(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        if value >= date.max:  # the last day there is: nothing opens after it
            return queryset
        return queryset.filter(created_at__lt=_start_of_day(value + timedelta(days=1)))

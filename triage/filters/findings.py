"""Filters of the findings triage table; parameter names are part of the portal's URLs
(the dashboard and scan pages link here with ``?batch=`` and ``?repository=``)."""

from datetime import datetime, time, timedelta

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from triage.filters.choices import FrozenChoices
from triage.filters.dates import BoundedDateFilter
from triage.models import (
    Finding,
    FindingStatus,
    ScanBatch,
    ScanBatchFinding,
    ScanType,
    Severity,
    Team,
)
from triage.selectors import json_list_contains
from triage.selectors.findings import filter_choices, mine

# Parameters of the page that are not filters; a saved view keeps only the filters and sort.
NON_FILTER_PARAMETERS = ("cursor",)


# Whose findings: a person's own, theirs and their squads', nobody's in person, nobody's at all.
ASSIGNED_CHOICES = [
    ("me", "Assigned to me"),
    ("mine", "Mine and my squads'"),
    ("unassigned", "Assigned to nobody"),
    ("unowned", "No owner (no member, no squad)"),
]


def _start_of_day(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class FindingFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_text", label="Search")
    # The team's repositories, squads and members are read once (``filter_choices``) and offered
    # as choices: a chosen one is checked against them, not looked up with a query of its own.
    repository = django_filters.TypedChoiceFilter(
        coerce=int, field_name="repository_id", label="Repository"
    )
    batch = django_filters.ModelChoiceFilter(
        queryset=ScanBatch.objects.none(),
        method="filter_batch",
        label="Scan batch",
        widget=forms.HiddenInput,
    )
    # Plain IN filters on the row itself: no DISTINCT (which would sort every matching row).
    severity = django_filters.MultipleChoiceFilter(
        choices=FrozenChoices(Severity.choices), label="Severity", distinct=False
    )
    status = django_filters.MultipleChoiceFilter(
        choices=FrozenChoices(FindingStatus.choices), label="Status", distinct=False
    )
    scan_type = django_filters.ChoiceFilter(
        choices=FrozenChoices(ScanType.choices), label="Scan type", empty_label="Any scan type"
    )
    check_id = django_filters.CharFilter(field_name="check_id", label="Check id")
    path = django_filters.CharFilter(
        field_name="file_path", lookup_expr="contains", label="File path contains"
    )
    cwe = django_filters.CharFilter(method="filter_cwe", label="CWE")
    owner = django_filters.TypedChoiceFilter(
        coerce=int, field_name="owner_member_id", label="Owner"
    )
    squad = django_filters.TypedChoiceFilter(coerce=int, field_name="owner_squad_id", label="Squad")
    assigned = django_filters.ChoiceFilter(
        choices=FrozenChoices(ASSIGNED_CHOICES),
        method="filter_assigned",
        label="Assigned",
        empty_label="Anyone",
    )
    first_detected_after = BoundedDateFilter(
        method="filter_on_or_after", field_name="first_detected_at", label="First seen from"
    )
    first_detected_before = BoundedDateFilter(
        method="filter_before_end_of", field_name="first_detected_at", label="First seen until"
    )
    last_detected_after = BoundedDateFilter(
        method="filter_on_or_after", field_name="last_detected_at", label="Last seen from"
    )
    last_detected_before = BoundedDateFilter(
        method="filter_before_end_of", field_name="last_detected_at", label="Last seen until"
    )
    age_min_days = django_filters.NumberFilter(
        method="filter_age_min", label="Age at least (days)", min_value=0, max_value=36500
    )
    age_max_days = django_filters.NumberFilter(
        method="filter_age_max", label="Age at most (days)", min_value=0, max_value=36500
    )

    class Meta:
        model = Finding
        fields: list[str] = []

    def __init__(self, data=None, *args, team: Team, user=None, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.team = team
        self.user = user
        self.choices = filter_choices(team_id=team.pk, user=user)
        self.filters["repository"].extra["choices"] = FrozenChoices(self.choices.repositories)
        self.filters["squad"].extra["choices"] = FrozenChoices(self.choices.squads)
        self.filters["owner"].extra["choices"] = FrozenChoices(self.choices.owners)
        self.filters["batch"].queryset = ScanBatch.objects.filter(team=team)

    def filter_text(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The search text is lower-cased and trigram-indexed: a contains here is index-backed.
        value = value.strip().lower()
        return queryset.filter(search__text__contains=value) if value else queryset

    def filter_batch(self, queryset: QuerySet, name: str, value: ScanBatch) -> QuerySet:
        links = ScanBatchFinding.objects.filter(scan_batch=value, finding=OuterRef("pk"))
        return queryset.filter(Exists(links))

    def filter_assigned(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "unassigned":
            return queryset.filter(owner_member__isnull=True)
        if value == "unowned":
            return queryset.filter(owner_member__isnull=True, owner_squad__isnull=True)
        user = self.user
        if user is None or not user.is_authenticated:
            return queryset.none()
        if value == "me":
            return queryset.filter(owner_member=user)
        return mine(queryset, team=self.team, user=user, squad_ids=self.choices.user_squad_ids)

    def filter_cwe(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        value = value.strip().upper()
        if not value:
            return queryset
        if not value.startswith("CWE-"):
            value = f"CWE-{value}"
        return queryset.filter(json_list_contains("cwe", value))

    def filter_on_or_after(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(**{f"{name}__gte": _start_of_day(value)})

    def filter_before_end_of(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(**{f"{name}__lt": _start_of_day(value + timedelta(days=1))})

    def filter_age_min(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(first_detected_at__lte=timezone.now() - timedelta(days=int(value)))

    def filter_age_max(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(first_detected_at__gte=timezone.now() - timedelta(days=int(value)))

    @property
    def active_filters(self) -> dict[str, object]:
        """Filters that narrow the list, by name, with their cleaned values (a filter whose
        value the form refused narrows nothing)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {
            name: value
            for name, value in self.form.cleaned_data.items()
            if value not in (None, "", [])
        }

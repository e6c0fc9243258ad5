import django_filters
from django import forms

from triage.forms.ids import pk_of
from triage.models import Repository, ScanBatch, ScanBatchStatus, ScanType, Team
from triage.selectors.scans import repositories_for_team


class RepositoryChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Repository) -> str:
        return obj.name

    def _check_values(self, value):
        # Refused before Django looks each value up (see `triage.forms.ids`).
        for pk in value:
            try:
                pk_of(pk)
            except (TypeError, ValueError):
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                ) from None
        return super()._check_values(value)


class ScanStartForm(forms.Form):
    """Repositories (some, or all of the team's) × scan types: one batch per pair."""

    all_repositories = forms.BooleanField(
        label="All repositories", required=False, help_text="Every repository of the team."
    )
    repositories = RepositoryChoiceField(
        queryset=Repository.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    scan_types = forms.MultipleChoiceField(
        label="Scan types", choices=ScanType.choices, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.team = team
        self.fields["repositories"].queryset = repositories_for_team(team=team)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("all_repositories"):
            cleaned["repositories"] = list(self.fields["repositories"].queryset)
        if not cleaned.get("repositories"):
            self.add_error("repositories", "Choose at least one repository, or all of them.")
        return cleaned

    def chosen(self) -> tuple[list[Repository], list[str]]:
        """What is chosen so far, valid or not: for the quota preview while the form is
        being filled in."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return list(data.get("repositories") or []), list(data.get("scan_types") or [])


class ScanBatchFilter(django_filters.FilterSet):
    repository = django_filters.ModelChoiceFilter(
        queryset=Repository.objects.none(), empty_label="All repositories"
    )
    scan_type = django_filters.ChoiceFilter(
        label="Scan type", choices=ScanType.choices, empty_label="All types"
    )
    status = django_filters.ChoiceFilter(
        choices=[("active", "Active (not finished)"), *ScanBatchStatus.choices],
        empty_label="Any status",
        method="filter_status",
    )

    class Meta:
        model = ScanBatch
        fields = ["repository", "scan_type", "status"]

    def __init__(self, *args, team: Team, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["repository"].queryset = Repository.objects.filter(team=team).order_by("name")

    def filter_status(self, queryset, name, value):
        if value == "active":
            return queryset.active()
        return queryset.filter(status=value)

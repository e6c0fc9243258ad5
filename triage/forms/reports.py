from datetime import date, timedelta

from django import forms

from triage.forms.dates import BoundedDateField
from triage.models import Repository, Team
from triage.models.reports import SEVERITIES
from triage.selectors.reports.owners import team_owners
from triage.selectors.reports.scope import ReportOwner

PERIOD_CHOICES = [("7", "Last 7 days"), ("30", "Last 30 days"), ("90", "Last 90 days")]
PERIOD_CHOICES_WITH_CUSTOM = [*PERIOD_CHOICES, ("custom", "Custom range")]
DEFAULT_PERIOD_DAYS = 30
DEFAULT_COVERAGE_DAYS = 30
MAX_RANGE_DAYS = 366


OWNER_NONE = "none"
OWNER_INVALID = (
    "That owner is not one of this team's squads or members, so the owner filter was ignored."
)


class ReportFilterForm(forms.Form):
    """The reports page's URL: period, optional repository and owner, coverage window.

    The owner is `squad:<squad id>`, `member:<user id>` or `none` (findings with no owner);
    only the team's own squads and members are accepted.
    """

    period = forms.ChoiceField(choices=PERIOD_CHOICES_WITH_CUSTOM, required=False)
    start = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = BoundedDateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    repository = forms.ModelChoiceField(
        queryset=Repository.objects.none(), required=False, empty_label="All repositories"
    )
    coverage_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=365,
        label="Not scanned within (days)",
        widget=forms.NumberInput(attrs={"min": 1, "max": 365}),
    )
    owner = forms.ChoiceField(required=False, error_messages={"invalid_choice": OWNER_INVALID})

    def __init__(self, data, *, team: Team, today: date):
        super().__init__(data)
        self.today = today
        self.fields["repository"].queryset = Repository.objects.filter(team=team).order_by(
            "name", "id"
        )
        self.owners = team_owners(team)
        self.fields["owner"].choices = [
            ("", "All owners"),
            *((value, owner.label) for value, owner in self.owners.items()),
        ]

    def clean_owner(self) -> ReportOwner | None:
        value = self.cleaned_data.get("owner")
        return self.owners[value] if value else None

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period") or ""
        start, end = cleaned.get("start"), cleaned.get("end")
        if period == "custom" or (not period and (start or end)):
            cleaned["period"] = "custom"
            if not start or not end:
                raise forms.ValidationError("A custom range needs both a start and an end date.")
            if start > end:
                self.add_error("end", "The end date is before the start date.")
            elif end > self.today:
                self.add_error("end", "The end date is in the future.")
            elif (end - start).days + 1 > MAX_RANGE_DAYS:
                self.add_error("start", f"Choose at most {MAX_RANGE_DAYS} days.")
        else:
            days = int(period or DEFAULT_PERIOD_DAYS)
            cleaned["period"] = str(days)
            cleaned["start"] = self.today - timedelta(days=days - 1)
            cleaned["end"] = self.today
        if cleaned.get("coverage_days") is None:
            cleaned["coverage_days"] = DEFAULT_COVERAGE_DAYS
        return cleaned

    def defaults(self) -> dict:
        """What the page shows when the URL holds values it cannot use."""
        return {
            "period": str(DEFAULT_PERIOD_DAYS),
            "start": self.today - timedelta(days=DEFAULT_PERIOD_DAYS - 1),
            "end": self.today,
            "repository": None,
            "owner": None,
            "coverage_days": DEFAULT_COVERAGE_DAYS,
        }


class SlaListForm(forms.Form):
    kind = forms.ChoiceField(choices=[("breached", "breached"), ("due", "due")])
    severity = forms.ChoiceField(choices=[(s.value, s.label) for s in SEVERITIES], required=False)

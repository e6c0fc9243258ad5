import re

from django import forms
from django.contrib.auth import get_user_model

from triage.forms.dates import BoundedDateField
from triage.forms.fixes import INSTRUCTION_TEMPLATES
from triage.models import Severity

# Rules and CWEs typed one per line or separated by commas.
LIST_SEPARATOR = re.compile(r"[\s,]+")
MAX_LISTED = 50
CWE = re.compile(r"(?:CWE-)?([0-9]{1,6})", re.IGNORECASE)


def _listed(value: str) -> list[str]:
    return list(dict.fromkeys(part for part in LIST_SEPARATOR.split(value or "") if part))


class CampaignForm(forms.Form):
    """A new campaign: what it is, who owns it, by when, how to fix, and what it covers (the
    findings page's filters it was started from, narrowed by rules, CWEs and severities)."""

    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="Me"
    )
    due_date = BoundedDateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Due date"
    )
    instructions = forms.CharField(
        label="Fix instructions",
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=8000,
        help_text="Every fix of the campaign gets these; a fix can be refined on its own.",
    )
    follow_new = forms.BooleanField(
        required=False,
        label="Take in new matching findings",
        help_text="Findings that match after launch (a rescan) join the campaign.",
    )
    filter_query = forms.CharField(widget=forms.HiddenInput, required=False, max_length=4000)
    check_ids = forms.CharField(
        label="Rules",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Check ids, one per line.",
        max_length=20000,
    )
    cwes = forms.CharField(
        label="CWEs", required=False, help_text="For example CWE-798, CWE-89.", max_length=2000
    )
    severities = forms.MultipleChoiceField(
        choices=Severity.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, members, **kwargs):
        kwargs.setdefault("initial", {}).setdefault(
            "instructions", INSTRUCTION_TEMPLATES["minimal"][1]
        )
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = members

    def clean_check_ids(self) -> list[str]:
        values = _listed(self.cleaned_data.get("check_ids", ""))
        if len(values) > MAX_LISTED:
            raise forms.ValidationError(f"Pick at most {MAX_LISTED} rules.")
        if any(len(value) > 300 or "\x00" in value for value in values):
            raise forms.ValidationError("A rule id is at most 300 characters.")
        return values

    def clean_cwes(self) -> list[str]:
        values = []
        for part in _listed(self.cleaned_data.get("cwes", "")):
            match = CWE.fullmatch(part)
            if match is None:
                raise forms.ValidationError(f"“{part[:40]}” is not a CWE (for example CWE-798).")
            values.append(f"CWE-{int(match.group(1))}")
        if len(values) > MAX_LISTED:
            raise forms.ValidationError(f"Pick at most {MAX_LISTED} CWEs.")
        return list(dict.fromkeys(values))

    def clean_filter_query(self) -> str:
        value = self.cleaned_data.get("filter_query", "")
        if "\x00" in value:
            raise forms.ValidationError("The filters are not valid.")
        return value.lstrip("?")

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not (
            cleaned.get("filter_query")
            or cleaned.get("check_ids")
            or cleaned.get("cwes")
            or cleaned.get("severities")
        ):
            raise forms.ValidationError(
                "Choose what the campaign fixes: start from the findings page's filters or a "
                "rule, or pick rules, CWEs or severities."
            )
        return cleaned


class CampaignActionForm(forms.Form):
    """A campaign-wide action of the campaign page."""

    action = forms.ChoiceField(
        choices=[
            ("launch", "Launch"),
            ("retry_failed", "Retry the failed"),
            ("cancel_running", "Cancel all running"),
            ("open_pull_requests", "Open pull requests for every approved fix"),
            ("cancel", "Cancel the campaign"),
        ]
    )

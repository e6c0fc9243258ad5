from django import forms

from triage.forms.dates import BoundedDateField
from triage.forms.ids import pk_of
from triage.models import FindingComment, FindingStatus


class DismissalFieldsMixin(forms.Form):
    """The reason and optional expiry a dismissal needs while the team requires approval."""

    reason = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Reason for the approver",
        help_text="Needed to set Ignored or False positive: a second person approves it.",
    )
    expires_on = BoundedDateField(
        required=False,
        label="Ignore until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Ignored only, optional: the finding is reopened on this day.",
    )


class FindingStatusForm(DismissalFieldsMixin):
    status = forms.ChoiceField(choices=FindingStatus.choices)
    comment = forms.CharField(
        required=False,
        max_length=2000,
        label="Why (optional)",
        help_text="Shown with the change in the finding's timeline.",
    )


class FindingCommentForm(forms.Form):
    """A comment in a finding's thread; the service says what a comment may hold."""

    body = forms.CharField(
        required=False,
        strip=False,
        label="Comment",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "maxlength": FindingComment.MAX_LENGTH,
                "aria-describedby": "comment-help",
            }
        ),
    )


class FindingSelectionForm(forms.Form):
    """The selection form of the findings table: ticked rows, or every finding matching the
    filters the page was showing (``filter_query``). Each action on the selection adds its
    own fields."""

    finding = forms.TypedMultipleChoiceField(coerce=pk_of, required=False, choices=())
    all_matching = forms.BooleanField(required=False)
    filter_query = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the service keeps only the team's own findings.
        self.fields["finding"].valid_value = lambda value: True

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all_matching") and not cleaned.get("finding"):
            raise forms.ValidationError("Select findings, or all findings matching the filters.")
        return cleaned


class BulkStatusForm(FindingSelectionForm, DismissalFieldsMixin):
    """A status change of the selection."""

    status = forms.ChoiceField(choices=[("", "Choose a status"), *FindingStatus.choices])
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept in the portal's audit log with each change.",
    )


class AssignSelectionForm(FindingSelectionForm):
    """Assigning the selection: ``action`` assign (to ``assignee``, a member's user id, or
    ``me``), claim (to oneself) or unassign (back to the ownership rules' owner)."""

    ACTIONS = ("assign", "claim", "unassign")

    action = forms.ChoiceField(choices=[(action, action) for action in ACTIONS], required=False)
    assignee = forms.CharField(required=False, max_length=20)

    def clean(self):
        cleaned = super().clean()
        action = cleaned.get("action") or "assign"
        assignee = (cleaned.get("assignee") or "").strip()
        cleaned["action"] = action
        if action == "claim" or (action == "assign" and assignee == "me"):
            cleaned["assignee"] = "me"
        elif action == "unassign":
            cleaned["assignee"] = None
        else:
            try:
                cleaned["assignee"] = pk_of(assignee)
            except (TypeError, ValueError):
                raise forms.ValidationError("Choose whom to assign the findings to.") from None
        return cleaned


class SavedViewForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name this view")
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

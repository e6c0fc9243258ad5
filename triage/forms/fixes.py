from django import forms

from triage.forms.ids import pk_of

# The largest value a 32-bit integer column holds on every database.
MAX_STORED_INTEGER = 2**31 - 1

INSTRUCTION_TEMPLATES = {
    "minimal": (
        "Minimal change",
        "Fix only the reported problems with the smallest change that works. Keep the "
        "existing style and public interfaces; do not refactor unrelated code.",
    ),
    "with-tests": (
        "Fix and add tests",
        "Fix the reported problems and add or update unit tests that fail without the fix. "
        "Run the existing test suite and keep it passing.",
    ),
    "library": (
        "Use the framework's safe API",
        "Replace the unsafe pattern with the framework's or standard library's safe API "
        "(parameterized queries, escaping helpers, secrets from configuration) rather than "
        "hand-written sanitizing.",
    ),
}


class FixStartForm(forms.Form):
    """The findings chosen and the instructions every fix of the start gets."""

    finding = forms.TypedMultipleChoiceField(coerce=pk_of, widget=forms.MultipleHiddenInput)
    instructions = forms.CharField(widget=forms.Textarea(attrs={"rows": 6}), max_length=8000)

    def __init__(self, *args, finding_choices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["finding"].choices = finding_choices


class FixRepositoryForm(forms.Form):
    """What one repository's fix is called and where Kolega works on it. With findings of
    several repositories, each repository's form has its own prefix."""

    title = forms.CharField(max_length=200)
    source_repo = forms.ChoiceField(label="Source repository")
    branch = forms.CharField(max_length=200, required=False, help_text="Empty: the default.")

    def __init__(self, *args, source_repos, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source_repo"].choices = [(r, r) for r in source_repos]


class RefineForm(forms.Form):
    instructions = forms.CharField(
        label="Follow-up instructions", widget=forms.Textarea(attrs={"rows": 3}), max_length=8000
    )


class ApprovalRequestForm(forms.Form):
    note = forms.CharField(
        label="Note for the approver", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    pr_title = forms.CharField(
        label="Pull request title", max_length=300, required=False, help_text="Empty: Kolega's."
    )
    pr_body = forms.CharField(
        label="Pull request description",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Empty: Kolega writes it.",
    )
    pr_branch = forms.CharField(
        label="Branch name", max_length=200, required=False, help_text="Empty: Kolega names it."
    )


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


class CommentForm(forms.Form):
    diff_sha256 = forms.CharField(max_length=64, widget=forms.HiddenInput)
    file_path = forms.CharField(max_length=1000, widget=forms.HiddenInput)
    side = forms.ChoiceField(choices=[("new", "new"), ("old", "old")])
    # Both are stored in (or looked up by) integer columns: bounded to fit them.
    line = forms.IntegerField(min_value=1, max_value=MAX_STORED_INTEGER)
    parent = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_STORED_INTEGER, widget=forms.HiddenInput
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)

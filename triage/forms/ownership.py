"""The forms of Settings → Ownership and of assigning a finding.

Choices are the team's own squads, members and repositories, given by the view; a value
outside them is refused by the form, so another team's ids are never accepted.
"""

from django import forms
from django.core.validators import RegexValidator

from triage.models import OwnershipRule
from triage.models.ownership import SQUAD_NAME_PATTERN

MAX_CODEOWNERS_CHARACTERS = 200_000
EVERY_REPOSITORY = ("", "Every repository")


class SquadForm(forms.Form):
    name = forms.CharField(
        label="Squad name",
        max_length=100,
        validators=[
            RegexValidator(
                rf"\A{SQUAD_NAME_PATTERN}\Z",
                "Use letters, digits, dots, dashes and underscores, starting with a letter or "
                "digit: CODEOWNERS names the squad as @name.",
            )
        ],
        help_text="Named in CODEOWNERS as @name.",
    )


class SquadMemberForm(forms.Form):
    membership = forms.ChoiceField(label="Member")

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["membership"].choices = [("", "Choose a member…"), *members]


class RuleForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind", choices=OwnershipRule.Kind.choices, initial=OwnershipRule.Kind.PATH
    )
    pattern = forms.CharField(
        label="Path pattern",
        max_length=500,
        required=False,
        help_text="CODEOWNERS syntax, such as /api/ or *.tf or docs/**/*.md.",
    )
    repository_name = forms.ChoiceField(
        label="Repository",
        required=False,
        help_text="For a path pattern, leave “Every repository” or narrow it to one.",
    )
    owner = forms.ChoiceField(label="Owner", required=False)

    def __init__(self, *args, repositories=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["repository_name"].choices = [EVERY_REPOSITORY, *repositories]
        self.fields["owner"].choices = [("", "No owner"), *owners]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind == OwnershipRule.Kind.PATH and not cleaned.get("pattern", "").strip():
            self.add_error("pattern", "Write the path pattern this rule covers.")
        if kind == OwnershipRule.Kind.REPOSITORY and not cleaned.get("repository_name"):
            self.add_error("repository_name", "Choose the repository this rule covers.")
        return cleaned

    def owner_ids(self) -> tuple[int | None, int | None]:
        """(squad id, membership id) of the chosen owner."""
        kind, _, pk = (self.cleaned_data.get("owner") or "").partition(":")
        return (int(pk) if kind == "squad" else None, int(pk) if kind == "member" else None)


class CodeownersImportForm(forms.Form):
    text = forms.CharField(
        label="CODEOWNERS file",
        max_length=MAX_CODEOWNERS_CHARACTERS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12, "class": "mono", "spellcheck": "false"}),
        help_text="One pattern and one owner per line (@squad-name, @username or an email "
        "address). The last matching line wins.",
    )
    repository_name = forms.ChoiceField(label="Applies to", required=False)
    replace = forms.BooleanField(
        label="Replace the path rules already there for the same repositories",
        required=False,
    )

    def __init__(self, *args, repositories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["repository_name"].choices = [EVERY_REPOSITORY, *repositories]


class AssignForm(forms.Form):
    """Whom to assign; the service says why a member cannot own the finding."""

    assignee = forms.CharField(label="Assign to", max_length=20)

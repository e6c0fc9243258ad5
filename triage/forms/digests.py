"""The member's email preferences: per event kind immediate, daily digest or off, and which
report digests they get; and "Send me one now"."""

from __future__ import annotations

from django import forms

from triage.models import Cadence, EmailChoice, EventKind

DIGEST_CHOICES = [
    ("none", "No digest"),
    ("daily", "Daily"),
    ("weekly", "Weekly"),
    ("both", "Daily and weekly"),
]


def kind_field_name(kind: str) -> str:
    return "kind_" + kind.replace(".", "_")


class EmailPreferencesForm(forms.Form):
    digests = forms.ChoiceField(
        choices=DIGEST_CHOICES,
        label="Report digests",
        help_text="The report's headline figures of the day (sent each morning, UTC) or of the "
        "week (Mondays), compared with the period before.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for kind, label in EventKind.choices:
            self.fields[kind_field_name(kind)] = forms.ChoiceField(
                choices=EmailChoice.choices, label=label, initial=EmailChoice.IMMEDIATE
            )

    @classmethod
    def initial_of(cls, *, choices: dict[str, str], cadences: list[str]) -> dict[str, str]:
        both = {Cadence.DAILY, Cadence.WEEKLY} <= set(cadences)
        digests = "both" if both else (cadences[0] if cadences else "none")
        return {"digests": digests, **{kind_field_name(k): v for k, v in choices.items()}}

    def kind_fields(self):
        return [self[kind_field_name(kind)] for kind in EventKind.values]

    @property
    def chosen(self) -> dict[str, str]:
        return {kind: self.cleaned_data[kind_field_name(kind)] for kind in EventKind.values}

    @property
    def daily(self) -> bool:
        return self.cleaned_data["digests"] in ("daily", "both")

    @property
    def weekly(self) -> bool:
        return self.cleaned_data["digests"] in ("weekly", "both")


class SendDigestNowForm(forms.Form):
    cadence = forms.ChoiceField(choices=Cadence.choices, label="Digest")

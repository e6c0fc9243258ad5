"""The forms of Settings → Notifications: a channel, and a rule routing events to one.

A rule's channel is chosen among the team's own channels (given by the view), so another
team's channel id is refused by the form.
"""

from django import forms

from triage.models import EventKind, NotificationChannel, ScanType, Severity
from triage.models.notifications import (
    DEFAULT_RULE_DAYS,
    DEFAULT_RULE_THRESHOLD_PERCENT,
    MAX_RULE_DAYS,
    RULE_FILTERS_OF_KIND,
)

MAX_URL_CHARACTERS = 2000
ANY_SEVERITY = ("", "Any severity")


class ChannelForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    kind = forms.ChoiceField(label="Kind", choices=NotificationChannel.Kind.choices)
    url = forms.CharField(
        label="Webhook address",
        max_length=MAX_URL_CHARACTERS,
        required=False,
        help_text="For a webhook, Slack or Teams channel. Stored encrypted; only its host and "
        "last characters are shown again.",
        widget=forms.PasswordInput(render_value=False),
    )
    secret = forms.CharField(
        label="Signing secret",
        max_length=200,
        required=False,
        help_text="For a signed webhook: at least 16 characters. The receiver checks the "
        "X-Portal-Signature header with it (see the README).",
        widget=forms.PasswordInput(render_value=False),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the channel a name.")
        return name

    def clean(self):
        cleaned = super().clean()
        for name in ("url", "secret"):
            if "\x00" in (cleaned.get(name) or ""):
                self.add_error(name, "This must not contain a NUL character.")
        return cleaned


class NotificationRuleForm(forms.Form):
    channel = forms.ChoiceField(label="Channel")
    event_kind = forms.ChoiceField(label="Event", choices=EventKind.choices)
    min_severity = forms.ChoiceField(
        label="Minimum severity",
        required=False,
        choices=[ANY_SEVERITY, *Severity.choices],
        help_text="Only for events about findings (new findings, SLA, dismissals); other events "
        "have no severity and must leave it at “Any”. New findings: the sync's summary is sent "
        "when it brings at least one finding this severe; SLA: only findings this severe count.",
    )
    repositories = forms.MultipleChoiceField(
        label="Repositories",
        required=False,
        help_text="None chosen: all. Summaries (new findings, SLA) count only these "
        "repositories' findings. Not for sync, key or quota events.",
    )
    scan_type = forms.ChoiceField(
        label="Scan type",
        required=False,
        choices=[("", "Any scan type"), *ScanType.choices],
        help_text="For scans and events about findings.",
    )
    owner = forms.ChoiceField(
        label="Owner",
        required=False,
        help_text="For events about findings: only findings this squad or member owns.",
    )
    days = forms.IntegerField(
        label="Days ahead", required=False, min_value=1, max_value=MAX_RULE_DAYS
    )
    days.help_text = (
        f"For “SLA due within N days” and “dismissal about to expire”; {DEFAULT_RULE_DAYS} "
        "when left empty."
    )
    threshold_percent = forms.IntegerField(
        label="Quota threshold (%)", required=False, min_value=1, max_value=99
    )
    threshold_percent.help_text = (
        "For “quota below a threshold”: told once a period when a counter's remaining share "
        f"falls below it; {DEFAULT_RULE_THRESHOLD_PERCENT} when left empty."
    )

    def __init__(self, *args, channels=(), repositories=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", "Choose a channel…"), *channels]
        self.fields["repositories"].choices = list(repositories)
        self.fields["owner"].choices = [("", "Any owner"), *owners]

    def clean(self):
        """Refuse a filter the chosen event does not carry, on the filter's field; turn the
        owner ("squad:<id>" or "member:<id>") into the service's keys."""
        cleaned = super().clean()
        event_kind = cleaned.get("event_kind")
        if event_kind:
            applies = RULE_FILTERS_OF_KIND.get(event_kind, frozenset())
            label = EventKind(event_kind).label
            for name in ("min_severity", "repositories", "scan_type", "owner", "days"):
                if cleaned.get(name) not in (None, "", []) and name not in applies:
                    self.add_error(name, f"“{label}” events cannot be filtered this way.")
            if cleaned.get("threshold_percent") is not None and event_kind != EventKind.QUOTA_LOW:
                self.add_error("threshold_percent", "Only for “Quota below a threshold”.")
        return cleaned

    def service_values(self) -> dict:
        """The cleaned data as `rule_create` takes it."""
        data = dict(self.cleaned_data)
        kind, _, pk = (data.pop("owner") or "").partition(":")
        data["owner_squad_id"] = int(pk) if kind == "squad" else None
        data["owner_membership_id"] = int(pk) if kind == "member" else None
        data["repository_ids"] = [int(pk) for pk in data.pop("repositories") or []]
        data["channel_id"] = int(data.pop("channel"))
        return data

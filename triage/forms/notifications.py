"""The forms of Settings → Notifications: a channel, and a rule routing events to one.

A rule's channel is chosen among the team's own channels (given by the view), so another
team's channel id is refused by the form.
"""

from django import forms

from triage.models import EventKind, NotificationChannel, Severity

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
        help_text="For new findings: the sync's summary is sent when it brings at least one "
        "finding of this severity or worse.",
    )

    def __init__(self, *args, channels=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", "Choose a channel…"), *channels]

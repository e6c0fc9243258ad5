"""What each member wants by email: per event kind immediate, in the daily digest, or not at
all, and which report digests (daily, weekly); and the digests sent, one per member and period.

Preferences are the member's own, across their teams; a kind a member never chose is
`EmailChoice.IMMEDIATE`. A `DigestSend` is claimed before its email is sent (unique per member,
cadence and period), so a retried or duplicated task sends a scheduled digest once.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from triage.models.notifications import ClaimedSend, EventKind


class EmailChoice(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    DAILY = "daily", "In the daily digest"
    OFF = "off", "Off"


class Cadence(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class EmailPreference(models.Model):
    """How one member wants emails of one event kind."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    choice = models.CharField(
        max_length=16, choices=EmailChoice.choices, default=EmailChoice.IMMEDIATE
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "event_kind"], name="email_pref_user_kind")
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.event_kind} {self.choice}"


class DigestSubscription(models.Model):
    """Which report digests a member gets; none while there is no row."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_subscription"
    )
    daily = models.BooleanField(default=False)
    weekly = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user}: daily={self.daily} weekly={self.weekly}"

    @property
    def cadences(self) -> list[str]:
        return [c for c, on in ((Cadence.DAILY, self.daily), (Cadence.WEEKLY, self.weekly)) if on]


class DigestSend(ClaimedSend):
    """One digest email to one member for one period: claimed, then sent."""

    class State(models.TextChoices):
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    cadence = models.CharField(max_length=16, choices=Cadence.choices)
    # The period's first and last UTC days.
    first_day = models.DateField()
    last_day = models.DateField()
    # "Send me one now": not the scheduled one, so it neither counts as nor blocks it.
    on_request = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.SENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "cadence", "first_day"],
                condition=models.Q(on_request=False),
                name="digest_send_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.cadence} digest {self.first_day} to {self.user}"

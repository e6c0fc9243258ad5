"""Reporting: a team's SLA policy and the daily snapshot rows trends are drawn from.

Snapshots are derived data: `triage/services/reports.py` rebuilds them from the mirrored
finding events (the source of truth), so rebuilding never changes a past day's numbers unless
Kolega's event history itself changed.
"""

from django.conf import settings
from django.db import models

from triage.models.mirror import Severity
from triage.models.teams import Team

# The severities reports count and an SLA policy gives days to; `info` findings are not risk.
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)


class SlaPolicy(models.Model):
    """Days a finding of each severity may stay open after its first detection."""

    DEFAULT_DAYS = {Severity.CRITICAL: 7, Severity.HIGH: 30, Severity.MEDIUM: 90, Severity.LOW: 180}

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="sla_policy")
    critical_days = models.PositiveIntegerField(default=DEFAULT_DAYS["critical"])
    high_days = models.PositiveIntegerField(default=DEFAULT_DAYS["high"])
    medium_days = models.PositiveIntegerField(default=DEFAULT_DAYS["medium"])
    low_days = models.PositiveIntegerField(default=DEFAULT_DAYS["low"])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return f"SLA policy of {self.team}"

    @property
    def days(self) -> dict[str, int]:
        return {severity: getattr(self, f"{severity}_days") for severity in SEVERITIES}


class DailyFindingSnapshot(models.Model):
    """A team's findings of one severity at the end of one UTC day.

    A missing row means zero for all counts, so only non-zero rows are stored. The history
    of a single repository is replayed from its events on request instead (a few thousand
    events), which keeps these rows few and their rebuild cheap.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    severity = models.CharField(max_length=20)
    open_count = models.IntegerField(default=0)
    new_count = models.IntegerField(default=0)
    reopened_count = models.IntegerField(default=0)
    resolved_count = models.IntegerField(default=0)

    class Meta:
        ordering = ["day", "severity"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "severity"], name="report_snapshot_team_day_severity"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.severity}: {self.open_count} open"


class ReportSnapshotState(models.Model):
    """When a team's snapshots were last rebuilt, and up to which synced event."""

    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="report_state")
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    # `synced_at` of the newest event the last rebuild read: newer ones mean a rebuild is due.
    events_synced_through = models.DateTimeField(null=True, blank=True)
    rebuild_seconds = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"report snapshots of {self.team}"

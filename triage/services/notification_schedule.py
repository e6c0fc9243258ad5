"""The notifications nobody's change causes but the calendar does: findings whose SLA falls
due within a rule's days or has passed, and dismissals about to expire; and the dismissal
that expired, told by the expiry itself.

A beat task (`notify_scheduled_events`) runs `scheduled_events_record` every hour. SLA events
are summaries, never one message per finding: one per team, day, kind and set of rule
filters ("14 findings are past their SLA…", the first few listed, a link to the findings page
sorted by SLA due), under a dedupe key holding the date, so the runs of one day after the
first record nothing. A dismissal about to expire is told once per dismissal and number of
days; an expired one once per dismissal, in the transaction that expires it.
"""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db.models import Count
from django.utils import timezone

from triage.models import (
    DismissalRequest,
    EventKind,
    Finding,
    FindingStatus,
    NotificationRule,
    Team,
)
from triage.models.notifications import (
    SEVERITY_ORDER,
    notification_record,
    rule_filter_key,
    rule_findings_q,
    rule_matches,
    rules_of,
)
from triage.selectors.findings import sla_due
from triage.selectors.reports.scope import sla_policy_of
from triage.sync.notifications import rule_filters_data

# How many findings a summary lists by name.
SUMMARY_LISTED = 5
SLA_KINDS = (EventKind.SLA_DUE_SOON, EventKind.SLA_BREACHED)


def scheduled_events_record(*, now: datetime.datetime | None = None) -> int:
    """Record the day's SLA summaries and dismissals about to expire; answer how many
    notifications were recorded (none on a second run of the same day)."""
    now = now or timezone.now()
    return sla_summaries_record(now=now) + dismissals_expiring_record(on=now.date())


def _teams_with_rules(kinds) -> list[int]:
    return sorted(
        set(NotificationRule.objects.filter(event_kind__in=kinds).values_list("team_id", flat=True))
    )


def sla_summaries_record(*, now: datetime.datetime) -> int:
    recorded = 0
    for team_id in _teams_with_rules(SLA_KINDS):
        team = Team.objects.get(pk=team_id)
        days = sla_policy_of(team).days
        open_findings = (
            Finding.objects.filter(team_id=team_id)
            .unresolved()
            .filter(severity__in=list(days))
            .annotate(sla_due_at=sla_due(days))
        )
        for kind in SLA_KINDS:
            groups: dict[str, list[NotificationRule]] = defaultdict(list)
            for rule in rules_of(team_id=team_id, event_kind=kind):
                groups[rule_filter_key(rule)].append(rule)
            for key, rules in groups.items():
                recorded += _sla_summary_record(
                    team=team, kind=kind, key=key, rules=rules, findings=open_findings, now=now
                )
    return recorded


def _sla_summary_record(*, team: Team, kind: str, key: str, rules, findings, now) -> int:
    rule = rules[0]
    if kind == EventKind.SLA_BREACHED:
        window = findings.filter(sla_due_at__lt=now)
    else:
        window = findings.filter(
            sla_due_at__gte=now, sla_due_at__lt=now + datetime.timedelta(days=rule.days)
        )
    window = window.filter(rule_findings_q(rule))
    by_severity = {
        str(severity).lower(): count
        for severity, count in window.order_by().values_list("severity").annotate(count=Count("pk"))
        if count
    }
    total = sum(by_severity.values())
    if not total:
        return 0
    first = [
        {
            "pk": finding.pk,
            "title": finding.title,
            "severity": finding.severity,
            "repository": finding.repository.name,
            "sla_due_at": finding.sla_due_at.isoformat(),
        }
        for finding in window.select_related("repository")
        .only("pk", "title", "severity", "first_detected_at", "repository__name")
        .order_by("sla_due_at", "pk")[:SUMMARY_LISTED]
    ]
    worst = next((str(level) for level in SEVERITY_ORDER if by_severity.get(str(level))), "")
    day = now.date().isoformat()
    notification = notification_record(
        team_id=team.pk,
        event_kind=kind,
        dedupe_key=f"{kind}:{day}" + (f":{key}" if key else ""),
        severity=worst,
        data={
            "day": day,
            "total": total,
            "by_severity": by_severity,
            "days": rule.days if kind == EventKind.SLA_DUE_SOON else None,
            "first": first,
            "filters": rule_filters_data(rule),
        },
        rules=rules,
    )
    return int(notification is not None)


def dismissal_scope(request: DismissalRequest) -> tuple[str, dict]:
    """The most severe finding of a dismissal and what rules' filters match it on."""
    rows = list(
        Finding.objects.filter(pk__in=request.items.values("finding_id"))
        .order_by()
        .values_list("severity", "repository_id", "scan_type", "owner_squad_id", "owner_member_id")
        .distinct()
    )
    severities = {str(row[0]).lower() for row in rows}
    worst = next((str(level) for level in SEVERITY_ORDER if str(level) in severities), "")
    return worst, {
        "repository_ids": {row[1] for row in rows},
        "scan_types": {row[2] for row in rows},
        "squad_ids": {row[3] for row in rows if row[3]},
        "member_ids": {row[4] for row in rows if row[4]},
    }


def _dismissal_data(request: DismissalRequest) -> dict:
    return {
        "dismissal": {
            "pk": request.pk,
            "status": request.requested_status,
            "reason": request.reason[:300],
            "findings_count": request.total,
            "expires_on": request.expires_on.isoformat() if request.expires_on else None,
            "requested_by": request.requested_by.get_username(),
        }
    }


def dismissals_expiring_record(*, on: datetime.date) -> int:
    """Record "dismissal about to expire" for applied dismissals whose expiry date comes
    within a rule's days: once per dismissal and number of days."""
    recorded = 0
    for team_id in _teams_with_rules([EventKind.DISMISSAL_EXPIRING]):
        by_days: dict[int, list[NotificationRule]] = defaultdict(list)
        for rule in rules_of(team_id=team_id, event_kind=EventKind.DISMISSAL_EXPIRING):
            by_days[rule.days].append(rule)
        longest = max(by_days)
        expiring = DismissalRequest.objects.filter(
            team_id=team_id,
            status=DismissalRequest.Status.APPLIED,
            requested_status=FindingStatus.IGNORED,
            expires_on__gt=on,
            expires_on__lte=on + datetime.timedelta(days=longest),
        ).select_related("requested_by")
        for request in expiring:
            severity, scope = dismissal_scope(request)
            for days, rules in by_days.items():
                if request.expires_on > on + datetime.timedelta(days=days):
                    continue
                wanted = [
                    rule
                    for rule in rules
                    if rule_matches(
                        rule,
                        event_kind=EventKind.DISMISSAL_EXPIRING,
                        severity=severity,
                        scope=scope,
                    )
                ]
                if not wanted:
                    continue
                data = _dismissal_data(request)
                data["days_left"] = (request.expires_on - on).days
                notification = notification_record(
                    team_id=team_id,
                    event_kind=EventKind.DISMISSAL_EXPIRING,
                    dedupe_key=f"dismissal:{request.pk}:expiring:{days}d",
                    severity=severity,
                    data=data,
                    rules=wanted,
                )
                recorded += int(notification is not None)
    return recorded


def dismissal_expired_tell(request: DismissalRequest, *, reopening: int) -> None:
    """Record "dismissal expired" in the transaction that expires it: once per dismissal."""
    severity, scope = dismissal_scope(request)
    data = _dismissal_data(request)
    data["reopening"] = reopening
    notification_record(
        team_id=request.team_id,
        event_kind=EventKind.DISMISSAL_EXPIRED,
        dedupe_key=f"dismissal:{request.pk}:expired",
        severity=severity,
        data=data,
        scope=scope,
    )

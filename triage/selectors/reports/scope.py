"""Whose findings a report covers, over which UTC days, seen from which moment; the team's
SLA policy and repositories every section starts from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Q, QuerySet

from triage.models import Finding, Repository, SlaPolicy, Team
from triage.models.reports import SEVERITIES


@dataclass(frozen=True)
class ReportOwner:
    """The owner a report is narrowed to: a squad, a member (by user id), or no owner at all
    ("none": findings with neither a squad nor a member)."""

    kind: str  # "squad", "member" or "none"
    pk: int | None = None
    label: str = "Unowned"

    @property
    def value(self) -> str:
        """As the report's URL writes it (`owner=squad:3`, `member:7`, `none`)."""
        return "none" if self.kind == "none" else f"{self.kind}:{self.pk}"

    @property
    def findings_filter(self) -> dict[str, str]:
        """The same owner as the findings page's filter writes it, for links and exports."""
        if self.kind == "squad":
            return {"squad": str(self.pk)}
        if self.kind == "member":
            return {"owner": str(self.pk)}
        return {"assigned": "unowned"}

    def condition(self) -> Q:
        if self.kind == "squad":
            return Q(owner_squad_id=self.pk)
        if self.kind == "member":
            return Q(owner_member_id=self.pk)
        return Q(owner_squad__isnull=True, owner_member__isnull=True)


@dataclass(frozen=True)
class ReportScope:
    """Whose findings, over which UTC days, seen from which moment."""

    team: Team
    first_day: date
    last_day: date
    now: datetime
    repository: Repository | None = None
    owner: ReportOwner | None = None

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Exclusive end: the end of the last day, or now when the period runs until today."""
        day_end = datetime.combine(self.last_day + timedelta(days=1), time.min, UTC)
        return min(day_end, self.now)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def findings(self) -> QuerySet[Finding]:
        findings = Finding.objects.filter(team=self.team)
        if self.repository is not None:
            findings = findings.filter(repository=self.repository)
        if self.owner is not None:
            findings = findings.filter(self.owner.condition())
        return findings


def utc_today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def sla_policy_of(team: Team) -> SlaPolicy:
    """The team's policy, or the default one (unsaved) while an admin has not set it. A team
    a team view resolved comes with it (no query)."""
    try:
        return team.sla_policy
    except SlaPolicy.DoesNotExist:
        return SlaPolicy(team=team)


def team_repositories(team: Team) -> QuerySet[Repository]:
    return Repository.objects.filter(team=team).order_by("name", "id")


def report_repositories(
    scope: ReportScope, *, of_team: list[Repository] | None = None
) -> list[Repository]:
    """The repositories a report covers, with only the columns it shows; `of_team` are all
    of the team's, when the caller has them already."""
    if of_team is not None:
        return [r for r in of_team if scope.repository is None or r.pk == scope.repository.pk]
    repositories = team_repositories(scope.team).only("id", "name", "archived")
    if scope.repository is not None:
        repositories = repositories.filter(pk=scope.repository.pk)
    return list(repositories)


class OpenBySeverity:
    """For report rows holding `open_by_severity`: the total open and the counts per severity,
    most severe first."""

    open_by_severity: dict[str, int]

    @property
    def open_total(self) -> int:
        return sum(self.open_by_severity.values())

    @property
    def open_counts(self) -> list[int]:
        return [self.open_by_severity.get(s, 0) for s in SEVERITIES]

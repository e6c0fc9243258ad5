"""Reads of fix campaigns: the list, a campaign's fixes with their progress, the review queue.

Progress is derived, never stored: a finding is resolved when the mirror says so; otherwise
it is where the fix covering it is (running, in review, pull request open, merged), from the
mirrored fix and its pull requests (kept current by the sync and the finding-events feed).
Each page reads a fixed number of queries whatever the number of fixes.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Prefetch, QuerySet
from django.db.models.functions import TruncDate
from django.http import QueryDict
from django.utils import timezone

from triage.filters.findings import FindingFilter
from triage.models import (
    Campaign,
    CampaignFinding,
    CampaignRepository,
    CampaignStage,
    Finding,
    FindingStatus,
    FixApproval,
    PullRequest,
    Team,
)
from triage.selectors import json_list_contains

UNRESOLVED = (FindingStatus.OPEN, FindingStatus.NEEDS_MANUAL_REVIEW)
RUNNING_FIX = ("pending", "running")
ROW_FIELDS = (
    *(f.name for f in CampaignRepository._meta.concrete_fields),
    "repository__name",
    "fix__status",
    "fix__upstream_id",
    "fix__duration_seconds",
    "fix__agent_steps_completed",
    "fix__latest_activity_at",
)
REVIEWABLE_FIX = ("completed", "succeeded")


# Parameters of the findings page's URL that are not filters of its findings.
NOT_FILTERS = ("cursor", "page", "group", "sort", "scope")


class SelectionInvalid(ValueError):
    """A campaign's saved findings-page filters that the page's FilterSet refuses."""


@dataclass(frozen=True)
class CampaignSelection:
    """What defines a campaign's findings: the findings page's query string, narrowed by the
    rules (check ids), CWEs and severities picked."""

    filter_query: str = ""
    check_ids: list[str] = field(default_factory=list)
    cwes: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.filters or self.check_ids or self.cwes or self.severities)

    @property
    def filters(self) -> QueryDict:
        params = QueryDict(self.filter_query, mutable=True)
        for name in NOT_FILTERS:
            params.pop(name, None)
        return params

    @classmethod
    def of(cls, campaign: Campaign) -> CampaignSelection:
        return cls(
            filter_query=campaign.filter_query,
            check_ids=list(campaign.check_ids),
            cwes=list(campaign.cwes),
            severities=list(campaign.severities),
        )


def campaign_findings_matching(*, team: Team, user, selection: CampaignSelection) -> QuerySet:
    """The team's unresolved findings the selection covers, filtered as the findings page
    filters them (its FilterSet reads the saved query string); ``SelectionInvalid`` when the
    saved filters no longer validate."""
    filterset = FindingFilter(
        selection.filters, queryset=Finding.objects.filter(team=team), team=team, user=user
    )
    if not filterset.is_valid():
        raise SelectionInvalid(
            "The findings page's filters this campaign was started from are not valid."
        )
    queryset = filterset.qs.unresolved()
    if selection.check_ids:
        queryset = queryset.filter(check_id__in=selection.check_ids)
    if selection.severities:
        queryset = queryset.filter(severity__in=selection.severities)
    if selection.cwes:
        any_cwe = json_list_contains("cwe", selection.cwes[0])
        for cwe in selection.cwes[1:]:
            any_cwe |= json_list_contains("cwe", cwe)
        queryset = queryset.filter(any_cwe)
    return queryset.order_by("repository_id", "pk")


def campaigns_list(*, team: Team) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(team=team)
        .select_related("owner")
        .annotate(finding_count=Count("findings", distinct=False))
        .order_by("-created_at", "-id")
    )


def campaign_for_team(*, team: Team, campaign_id: int) -> Campaign | None:
    return (
        Campaign.objects.filter(team=team, pk=campaign_id)
        .select_related("team", "owner", "created_by", "launched_by")
        .first()
    )


def campaign_members(*, team: Team) -> QuerySet:
    """The people a campaign may be owned by."""
    return get_user_model().objects.filter(memberships__team=team).order_by("username")


def fix_stage(row: CampaignRepository) -> str:
    """Where the fix of a campaign repository is: open (none, or it failed), running, in
    review (a completed diff), pull request open, merged."""
    fix = row.fix
    if fix is None:
        return CampaignStage.OPEN
    status = fix.status.lower()
    if status in RUNNING_FIX:
        return CampaignStage.FIX_RUNNING
    merges = {pr.merge_status for pr in fix.pull_requests.all()}
    if PullRequest.MergeStatus.MERGED in merges:
        return CampaignStage.MERGED
    if PullRequest.MergeStatus.OPEN in merges:
        return CampaignStage.PR_OPEN
    if status in REVIEWABLE_FIX:
        return CampaignStage.IN_REVIEW
    return CampaignStage.OPEN


def pull_requests_all_closed(row: CampaignRepository) -> bool:
    """The fix's pull requests were all closed without merging: a dead end to look at."""
    if row.fix is None:
        return False
    merges = {pr.merge_status for pr in row.fix.pull_requests.all()}
    return merges == {PullRequest.MergeStatus.CLOSED}


@dataclass
class CampaignRow:
    """One fix of the campaign, as its page shows it."""

    row: CampaignRepository
    stage: str
    findings: int
    unresolved: int
    approval: FixApproval | None = None
    behind: bool = False

    @property
    def merged_at(self):
        """When the fix's first pull request was merged, or None."""
        if self.row.fix is None:
            return None
        merged = [
            pr.merged_at
            for pr in self.row.fix.pull_requests.all()
            if pr.merge_status == PullRequest.MergeStatus.MERGED and pr.merged_at
        ]
        return min(merged, default=None)

    @property
    def hours_to_merge(self) -> float | None:
        """Hours from the campaign's launch to the fix's first merge."""
        launched, merged = self.row.campaign.launched_at, self.merged_at
        if launched is None or merged is None:
            return None
        return max(0.0, (merged - launched).total_seconds() / 3600)

    @property
    def stage_label(self) -> str:
        return CampaignStage(self.stage).label

    @property
    def reached(self) -> int:
        """How far the fix got, whatever happened since: 0 none started, 1 started, 2 a diff
        to review, 3 a pull request opened (closed since or not), 4 merged."""
        fix = self.row.fix
        if fix is None:
            return 0
        merges = {pr.merge_status for pr in fix.pull_requests.all()}
        if PullRequest.MergeStatus.MERGED in merges:
            return 4
        if merges:
            return 3
        if fix.status.lower() in REVIEWABLE_FIX:
            return 2
        return 1

    @property
    def polling(self) -> bool:
        if self.stage == CampaignStage.FIX_RUNNING:
            return True
        waiting = (CampaignRepository.State.PLANNED, CampaignRepository.State.STARTING)
        return self.row.state in waiting and self.row.campaign.state == Campaign.State.LAUNCHED


# The funnel of a campaign's findings: each step counts those whose fix got at least that far.
FUNNEL_STEPS = (
    "Findings selected",
    "In a started fix",
    "In review or approved",
    "PR opened",
    "Merged",
)


@dataclass
class CampaignOverview:
    rows: list[CampaignRow]
    progress: list[tuple[str, str, int]]  # (stage, label, findings)
    states: Counter = field(default_factory=Counter)
    campaign: Campaign | None = None
    # Every finding counted, planned into a fix or not.
    selected: int = 0

    @property
    def resolved(self) -> int:
        return {stage: n for stage, _, n in self.progress}.get(CampaignStage.RESOLVED, 0)

    @property
    def funnel(self) -> list[tuple[str, int]]:
        """(step, findings) from selected to merged, then the findings resolved (by the fix
        or otherwise)."""
        reached = [
            sum(row.findings for row in self.rows if row.reached >= step)
            for step in range(1, len(FUNNEL_STEPS))
        ]
        return [
            *zip(FUNNEL_STEPS, [self.selected, *reached], strict=True),
            ("Resolved", self.resolved),
        ]

    @property
    def first_hours_to_merge(self) -> float | None:
        """The time from launch to the campaign's first merge."""
        return min(
            (h for h in (r.hours_to_merge for r in self.rows) if h is not None), default=None
        )

    @property
    def total(self) -> int:
        return sum(count for _, _, count in self.progress)

    @property
    def behind(self) -> list[CampaignRow]:
        return [row for row in self.rows if row.behind]

    @property
    def polling(self) -> bool:
        return any(row.polling for row in self.rows)

    @property
    def failed(self) -> int:
        return self.states[CampaignRepository.State.FAILED]

    @property
    def median_hours_to_merge(self) -> float | None:
        """The median time from launch to merge of the campaign's merged fixes."""
        hours = sorted(h for h in (row.hours_to_merge for row in self.rows) if h is not None)
        if not hours:
            return None
        middle = len(hours) // 2
        return hours[middle] if len(hours) % 2 else (hours[middle - 1] + hours[middle]) / 2

    @property
    def running(self) -> int:
        return sum(1 for row in self.rows if row.stage == CampaignStage.FIX_RUNNING)

    @property
    def approved(self) -> int:
        return sum(
            1
            for row in self.rows
            if row.approval is not None and row.approval.status == FixApproval.Status.APPROVED
        )


def campaign_overview(*, campaign: Campaign) -> CampaignOverview:
    """The campaign's fixes with their stage, heartbeat and approval, and the progress of its
    findings per stage: four queries."""
    return campaign_overviews([campaign])[campaign.pk]


def campaign_overviews(
    campaigns: list[Campaign], *, findings: QuerySet[Finding] | None = None
) -> dict[int, CampaignOverview]:
    """`campaign_overview` of each of ``campaigns``, by id, in the same four queries whatever
    their number. ``findings``: count only these of each campaign's findings, and leave out
    the fixes that cover none of them (a report narrowed to a repository or an owner)."""
    by_id = {campaign.pk: campaign for campaign in campaigns}
    if not by_id:
        return {}
    rows = list(
        CampaignRepository.objects.filter(campaign_id__in=list(by_id))
        .select_related("repository", "fix")
        # What the page shows of the repository and the fix: it renders on every poll.
        .only(*ROW_FIELDS)
        .prefetch_related(
            Prefetch("fix__pull_requests", queryset=PullRequest.objects.order_by("pr_number"))
        )
        .order_by("campaign_id", "round", "repository__name", "source_repo", "pk")
    )
    for row in rows:
        row.campaign = by_id[row.campaign_id]
    taken = CampaignFinding.objects.filter(campaign_id__in=list(by_id))
    if findings is not None:
        taken = taken.filter(finding__in=findings)
    counts: dict[tuple[int, int | None], Counter] = defaultdict(Counter)
    for entry in (
        taken.values("campaign_id", "campaign_repository_id", "finding__status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        key = (entry["campaign_id"], entry["campaign_repository_id"])
        counts[key][entry["finding__status"]] += entry["n"]
    if findings is not None:
        rows = [row for row in rows if (row.campaign_id, row.pk) in counts]
    approvals = {}
    fix_ids = [row.fix_id for row in rows if row.fix_id]
    if fix_ids:
        for approval in FixApproval.objects.filter(
            fix_id__in=fix_ids, status__in=FixApproval.OPEN_STATUSES
        ):
            approvals[approval.fix_id] = approval
    rows_of: dict[int, list[CampaignRepository]] = defaultdict(list)
    for row in rows:
        rows_of[row.campaign_id].append(row)
    return {
        pk: _overview(campaign, rows_of[pk], counts, approvals) for pk, campaign in by_id.items()
    }


def _overview(
    campaign: Campaign,
    rows: list[CampaignRepository],
    counts: dict[tuple[int, int | None], Counter],
    approvals: dict[int, FixApproval],
) -> CampaignOverview:
    overdue = campaign.due_date is not None and campaign.due_date < timezone.localdate()
    progress: Counter = Counter()
    shown = []
    for row in rows:
        by_status = counts.get((campaign.pk, row.pk), Counter())
        unresolved = sum(by_status[status] for status in UNRESOLVED)
        total = sum(by_status.values())
        stage = fix_stage(row)
        progress[stage] += unresolved
        progress[CampaignStage.RESOLVED] += total - unresolved
        problem = (
            row.state in (CampaignRepository.State.FAILED, CampaignRepository.State.SKIPPED)
            or (row.fix is not None and row.fix.status.lower() in ("failed", "cancelled"))
            or pull_requests_all_closed(row)
        )
        shown.append(
            CampaignRow(
                row=row,
                stage=stage,
                findings=total,
                unresolved=unresolved,
                approval=approvals.get(row.fix_id),
                behind=unresolved > 0 and (problem or (overdue and stage != CampaignStage.MERGED)),
            )
        )
    # Findings taken in but not yet planned into a fix count as open.
    loose = counts.get((campaign.pk, None), Counter())
    loose_unresolved = sum(loose[status] for status in UNRESOLVED)
    progress[CampaignStage.OPEN] += loose_unresolved
    progress[CampaignStage.RESOLVED] += sum(loose.values()) - loose_unresolved
    return CampaignOverview(
        rows=shown,
        progress=[(stage, label, progress[stage]) for stage, label in CampaignStage.choices],
        states=Counter(row.state for row in rows),
        campaign=campaign,
        selected=sum(row.findings for row in shown) + sum(loose.values()),
    )


def campaign_list_progress(campaigns: list[Campaign]) -> None:
    """Per campaign of a list page: its fixes by state and its resolved findings (two
    queries for the page)."""
    ids = [campaign.pk for campaign in campaigns]
    states: dict[int, Counter] = defaultdict(Counter)
    for entry in (
        CampaignRepository.objects.filter(campaign_id__in=ids)
        .values("campaign_id", "state")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        states[entry["campaign_id"]][entry["state"]] = entry["n"]
    resolved: Counter = Counter()
    for entry in (
        CampaignFinding.objects.filter(campaign_id__in=ids)
        .exclude(finding__status__in=UNRESOLVED)
        .values("campaign_id")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        resolved[entry["campaign_id"]] = entry["n"]
    for campaign in campaigns:
        campaign.fix_states = states[campaign.pk]
        campaign.fixes_planned = sum(states[campaign.pk].values())
        campaign.fixes_started = states[campaign.pk][CampaignRepository.State.STARTED]
        campaign.fixes_failed = states[campaign.pk][CampaignRepository.State.FAILED]
        campaign.resolved_count = resolved[campaign.pk]


def campaign_review_queue(*, campaign: Campaign) -> list[int]:
    """The ids of the campaign's fixes with a completed diff that is not approved yet, in the
    campaign's order: what its reviewers work through."""
    rows = (
        CampaignRepository.objects.filter(
            campaign=campaign,
            fix__isnull=False,
            fix__status__in=REVIEWABLE_FIX,
        )
        .exclude(fix__diff_sha256="")
        .exclude(fix__approvals__status=FixApproval.Status.APPROVED)
        .order_by("round", "repository__name", "source_repo", "pk")
        .values_list("fix_id", flat=True)
    )
    return list(dict.fromkeys(rows))


def campaign_review_next(*, campaign: Campaign, after_fix_id: int | None) -> int | None:
    """The fix to review after ``after_fix_id`` (the first when None), wrapping round."""
    queue = campaign_review_queue(campaign=campaign)
    if not queue:
        return None
    if after_fix_id in queue:
        rest = queue[queue.index(after_fix_id) + 1 :]
        return rest[0] if rest else (queue[0] if queue[0] != after_fix_id else None)
    return queue[0]


def campaign_of_fix(*, team: Team, fix_id: int, campaign_id: int | None = None):
    """The team's campaign that covers the fix (``campaign_id`` when given and it does; else
    the newest that does), for the fix page's link to the campaign's next diff."""
    campaigns = Campaign.objects.filter(team=team, repositories__fix_id=fix_id)
    if campaign_id is not None:
        chosen = campaigns.filter(pk=campaign_id).first()
        if chosen is not None:
            return chosen
    return campaigns.order_by("-created_at", "-id").first()


# The burndown's window: from launch (or creation), at most this many days back, and its
# forecast at most this many days ahead.
BURNDOWN_DAYS = 90
FORECAST_DAYS = 60


@dataclass
class Burndown:
    """Open findings per day since launch, and the forecast at the current pace."""

    days: list[tuple[date, int, bool]]  # (day, open findings, forecast)
    open_now: int
    per_day: float
    forecast_done: date | None
    due_date: date | None

    @property
    def on_track(self) -> bool | None:
        if self.due_date is None:
            return None
        if self.open_now == 0:
            return True
        return self.forecast_done is not None and self.forecast_done <= self.due_date


def campaign_burndown(*, campaign: Campaign, today: date | None = None) -> Burndown:
    """Per day from launch: the campaign's findings taken in by then and not resolved by its
    end (one query); then the days ahead at the pace so far, until none is left, the due date
    or `FORECAST_DAYS`."""
    today = today or timezone.localdate()
    start_at = campaign.launched_at or campaign.created_at
    start = max(timezone.localdate(start_at), today - timedelta(days=BURNDOWN_DAYS))
    # Counted per day taken in, status and day resolved: a few rows whatever the findings.
    grouped = (
        CampaignFinding.objects.filter(campaign=campaign)
        .values(
            added=TruncDate("added_at"),
            status=F("finding__status"),
            resolved=TruncDate("finding__resolved_at"),
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    # Open at the end of a day: taken in by then, less resolved by then (counted from the
    # window's first day for what came before it).
    changes: Counter = Counter()
    for entry in grouped:
        added = max(entry["added"], start)
        changes[added] += entry["n"]
        if entry["status"] not in UNRESOLVED:
            changes[max(entry["resolved"] or added, added)] -= entry["n"]
    days: list[tuple[date, int, bool]] = []
    still_open, day = 0, start
    while day <= today:
        still_open += changes[day]
        days.append((day, still_open, False))
        day += timedelta(days=1)
    first, open_now = days[0][1], days[-1][1]
    elapsed = max(1, (today - start).days)
    per_day = max(0.0, (first - open_now) / elapsed)
    forecast_done = None
    if open_now == 0:
        forecast_done = today
    elif per_day > 0:
        forecast_done = today + timedelta(days=math.ceil(open_now / per_day))
    horizon = today + timedelta(days=FORECAST_DAYS)
    # Without a pace the line stays flat, to the due date.
    end = min(horizon, max(forecast_done or today, campaign.due_date or today))
    ahead = 1
    while today + timedelta(days=ahead) <= end:
        left = max(0, round(open_now - per_day * ahead))
        days.append((today + timedelta(days=ahead), left, True))
        ahead += 1
    return Burndown(
        days=days,
        open_now=open_now,
        per_day=per_day,
        forecast_done=forecast_done,
        due_date=campaign.due_date,
    )

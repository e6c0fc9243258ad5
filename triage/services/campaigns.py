"""Writes on fix campaigns: create from a selection, launch with a quota check, start one fix
per repository and source repository, retry the failed, cancel the running, open the pull
requests of every approved fix, take in new matching findings.

Each fix is started, cancelled and opened through the single-fix services
(`triage.services.fixes`, `triage.services.approvals`), so every one follows their rules
(roles, quota, approvals bound to the diff, pull requests opened once). What the campaign adds
is the fan-out and its bookkeeping: a campaign repository is claimed by a conditional update
before its fix is asked for, so a retried or duplicated launch never starts it twice, and a
claim whose worker died is looked up in Kolega before anything is sent again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from triage import kolega
from triage.clients import kolega_client_for
from triage.models import (
    Campaign,
    CampaignFinding,
    CampaignRepository,
    Finding,
    FixApproval,
    KolegaConnection,
    Membership,
    Repository,
    Role,
    Team,
)
from triage.selectors.campaigns import (
    CampaignSelection,
    SelectionInvalid,
)
from triage.selectors.campaigns import (
    campaign_findings_matching as _findings_matching,
)
from triage.services.approvals import pull_requests_open
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.fixes import CANCELLABLE_STATUSES, fix_cancel, fix_start, fix_title_proposed
from triage.services.kolega_errors import describe_kolega_error
from triage.services.scans import ConnectionQuota, quota_check
from triage.services.teams import SYSTEM, require_role
from triage.sync.tracking import fix_mirror
from triage.task_queue import TaskName, task_send

# The most findings one campaign takes in: each repository's share becomes one fix's list.
MAX_CAMPAIGN_FINDINGS = 5000
# A claim older than this lost its worker: the client's own deadline ended long before
# (``PORTAL_CAMPAIGN_CLAIM_SECONDS`` overrides it).
STARTING_STALE_AFTER = timedelta(minutes=3)
# A fix Kolega created is matched to a lost start when created from a little before the claim.
CLOCK_SKEW = timedelta(seconds=60)
PRS_COUNTER = "prs"


def _audit(campaign: Campaign, actor, action: str, details: dict) -> None:
    """Record a write on the campaign (inside its transaction)."""
    audit_log(team=campaign.team, actor=actor, action=action, target=campaign, details=details)


def starting_stale_after() -> timedelta:
    seconds = getattr(settings, "PORTAL_CAMPAIGN_CLAIM_SECONDS", None)
    return STARTING_STALE_AFTER if seconds is None else timedelta(seconds=int(seconds))


def launch_concurrency() -> int:
    return max(1, int(getattr(settings, "PORTAL_CAMPAIGN_LAUNCH_CONCURRENCY", 4)))


def campaign_findings_matching(*, team: Team, user, selection: CampaignSelection) -> QuerySet:
    """The team's unresolved findings the selection covers (`selectors.campaigns`); saved
    filters the findings page no longer accepts are refused as the field's error."""
    try:
        return _findings_matching(team=team, user=user, selection=selection)
    except SelectionInvalid as exc:
        raise ServiceError(str(exc), field="filter_query") from exc


def source_repo_of(finding: Finding, repository: Repository) -> str:
    """The source repository a finding is in: the repository's only one, or the one whose web
    address its ``source_url`` starts with (the first when none says)."""
    repos = [r for r in repository.source_repos if r.get("full_name")]
    if not repos:
        return ""
    if len(repos) > 1 and finding.source_url:
        for repo in repos:
            html = (repo.get("html_url") or "").rstrip("/")
            if html and finding.source_url.startswith(html + "/"):
                return repo["full_name"]
    return repos[0]["full_name"]


def _member_or_refuse(*, team: Team, user_id: int | None):
    if user_id is None:
        return None
    membership = Membership.objects.filter(team=team, user_id=user_id).select_related("user")
    member = membership.first()
    if member is None:
        raise ServiceError("The owner must be a member of this team.", field="owner")
    return member.user


def campaign_create(
    *,
    team: Team,
    actor,
    name: str,
    instructions: str,
    selection: CampaignSelection,
    description: str = "",
    owner_id: int | None = None,
    due_date: date | None = None,
    follow_new: bool = False,
) -> Campaign:
    """A draft campaign of the selection's unresolved findings, planned as one fix per
    repository and source repository. Nothing is sent to Kolega before launch."""
    require_role(team=team, user=actor, role=Role.TRIAGER)
    name, instructions = name.strip(), instructions.strip()
    if not name:
        raise ServiceError("A campaign needs a name.", field="name")
    if not instructions:
        raise ServiceError("Say how the findings should be fixed.", field="instructions")
    if selection.is_empty:
        raise ServiceError(
            "Choose what the campaign fixes: filters, rules, CWEs or severities.",
            field="check_ids",
        )
    owner = _member_or_refuse(team=team, user_id=owner_id)
    findings = list(
        campaign_findings_matching(team=team, user=actor, selection=selection).select_related(
            "repository"
        )[: MAX_CAMPAIGN_FINDINGS + 1]
    )
    if not findings:
        raise ServiceError("No unresolved findings match this selection.", field="check_ids")
    if len(findings) > MAX_CAMPAIGN_FINDINGS:
        raise ServiceError(
            f"More than {MAX_CAMPAIGN_FINDINGS} findings match; narrow the selection.",
            field="check_ids",
        )
    with transaction.atomic():
        campaign = Campaign.objects.create(
            team=team,
            name=name,
            description=description.strip(),
            owner=owner or actor,
            due_date=due_date,
            instructions=instructions,
            created_by=actor,
            follow_new=follow_new,
            filter_query=selection.filters.urlencode(),
            check_ids=selection.check_ids,
            cwes=selection.cwes,
            severities=selection.severities,
        )
        taken = CampaignFinding.objects.bulk_create(
            [CampaignFinding(campaign=campaign, finding=finding) for finding in findings],
            batch_size=1000,
        )
        planned = _plan(campaign, list(zip(taken, findings, strict=True)), round_=1)
        _audit(
            campaign,
            actor,
            "campaign.create",
            {
                "findings": len(findings),
                "fixes_planned": planned,
                "filter_query": campaign.filter_query,
                "check_ids": campaign.check_ids,
                "cwes": campaign.cwes,
                "severities": campaign.severities,
                "follow_new": follow_new,
            },
        )
    return campaign


def _plan(campaign: Campaign, taken: list[tuple[CampaignFinding, Finding]], *, round_: int) -> int:
    """Group findings per repository and source repository into planned fixes; answer how
    many fixes were planned."""
    groups: dict[tuple[int, str], list[tuple[CampaignFinding, Finding]]] = defaultdict(list)
    for row, finding in taken:
        groups[(finding.repository_id, source_repo_of(finding, finding.repository))].append(
            (row, finding)
        )
    planned = 0
    for (repository_id, source_repo), members in sorted(
        groups.items(), key=lambda item: (item[1][0][1].repository.name, item[0])
    ):
        findings = [finding for _, finding in members]
        title = f"{campaign.name}: {fix_title_proposed(findings=findings)}"[:200]
        repository_row = CampaignRepository.objects.create(
            team_id=campaign.team_id,
            campaign=campaign,
            repository_id=repository_id,
            source_repo=source_repo,
            round=round_,
            title=title,
            state=CampaignRepository.State.PLANNED
            if source_repo
            else CampaignRepository.State.SKIPPED,
            error="" if source_repo else "This repository has no source repository to fix.",
        )
        CampaignFinding.objects.filter(pk__in=[row.pk for row, _ in members]).update(
            campaign_repository=repository_row
        )
        planned += 1
    return planned


# Launch


@dataclass(frozen=True)
class ConnectionPlan:
    """One connection's quota and the planned fixes that fit in it, and those that do not."""

    quota: ConnectionQuota
    fitting: list[CampaignRepository]
    not_fitting: list[CampaignRepository]


@dataclass(frozen=True)
class LaunchCheck:
    """The quota each connection has against the fixes the launch would start on it."""

    quotas: list[ConnectionQuota]
    planned: dict[int, list[CampaignRepository]]

    @property
    def fixes(self) -> int:
        return sum(len(rows) for rows in self.planned.values())

    @property
    def problems(self) -> list[str]:
        found = []
        for quota in self.quotas:
            name = quota.connection.name
            if quota.error:
                found.append(f"{name}: {quota.error}")
            for demand in quota.exhausted:
                found.append(
                    f"{name}: this launch needs {demand.needed} {demand.label} but only "
                    f"{demand.remaining} remain this period."
                )
        return found

    def by_connection(self) -> list[ConnectionPlan]:
        plans = []
        for quota in self.quotas:
            rows = self.planned.get(quota.connection.pk, [])
            room = quota.balance.prs.remaining if quota.balance is not None else 0
            room = max(0, room)
            plans.append(ConnectionPlan(quota=quota, fitting=rows[:room], not_fitting=rows[room:]))
        return plans


def campaign_launch_check(*, campaign: Campaign, fresh: bool = False) -> LaunchCheck:
    """The `prs` quota of each connection against one unit per planned fix."""
    planned: dict[int, list[CampaignRepository]] = defaultdict(list)
    for row in (
        CampaignRepository.objects.filter(campaign=campaign, state=CampaignRepository.State.PLANNED)
        .select_related("repository")
        .order_by("round", "repository__name", "source_repo", "pk")
    ):
        planned[row.repository.connection_id].append(row)
    demand: dict[int, Counter[str]] = {
        connection_id: Counter({PRS_COUNTER: len(rows)}) for connection_id, rows in planned.items()
    }
    connections = KolegaConnection.objects.filter(team_id=campaign.team_id, pk__in=list(planned))
    return LaunchCheck(
        quotas=quota_check(connections=connections, demand=demand, fresh=fresh),
        planned=dict(planned),
    )


def campaign_launch_refusal(campaign: Campaign) -> str | None:
    """Why the campaign cannot be launched now, or None: its page offers "Launch" by this and
    the launch refuses by it."""
    if campaign.state not in (Campaign.State.DRAFT, Campaign.State.LAUNCHED):
        return f"This campaign is {campaign.get_state_display().lower()}."
    planned_round = (
        CampaignRepository.objects.filter(campaign=campaign, state=CampaignRepository.State.PLANNED)
        .order_by("-round")
        .values_list("round", flat=True)
        .first()
    )
    if planned_round is None:
        return "This campaign has no planned fix to start."
    if planned_round <= campaign.launched_round:
        return "This campaign's fixes are already starting."
    return None


def campaign_launch(*, campaign: Campaign, actor) -> Campaign:
    """Start the campaign's planned fixes in the background, after checking that every
    connection's `prs` quota covers them all; refused before anything is sent otherwise."""
    require_role(team=campaign.team, user=actor, role=Role.TRIAGER)
    refusal = campaign_launch_refusal(campaign)
    if refusal:
        raise ServiceError(refusal)
    check = campaign_launch_check(campaign=campaign, fresh=True)
    if check.problems:
        raise ServiceError(" ".join([*check.problems, "Nothing was sent to Kolega."]))
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        refusal = campaign_launch_refusal(campaign)
        if refusal:
            raise ServiceError(refusal)
        campaign.state = Campaign.State.LAUNCHED
        campaign.launched_at = campaign.launched_at or timezone.now()
        campaign.launched_by = actor
        campaign.launched_round = (
            CampaignRepository.objects.filter(campaign=campaign)
            .order_by("-round")
            .values_list("round", flat=True)
            .first()
        )
        campaign.save(
            update_fields=["state", "launched_at", "launched_by", "launched_round", "updated_at"]
        )
        _audit(
            campaign,
            actor,
            "campaign.launch",
            {"fixes": check.fixes},
        )
        _queue_launch(campaign.pk)
    return campaign


def _queue_launch(campaign_pk: int) -> None:
    transaction.on_commit(lambda: task_send(TaskName.LAUNCH_CAMPAIGN, campaign_pk))


@dataclass
class LaunchResult:
    started: int = 0
    failed: int = 0
    adopted: int = 0


def campaign_launch_run(*, campaign_id: int, concurrency: int | None = None) -> LaunchResult:
    """Start every planned fix of a launched campaign, a few at a time. Safe to run twice: a
    fix is asked for only by the run whose conditional update claimed its row, and a claim
    left by a worker that died is looked up in Kolega first (`_claim_recover`)."""
    result = LaunchResult()
    campaign = Campaign.objects.select_related("team", "launched_by").filter(pk=campaign_id).first()
    if campaign is None or campaign.state != Campaign.State.LAUNCHED:
        return result
    stale = CampaignRepository.objects.filter(
        campaign=campaign,
        state=CampaignRepository.State.STARTING,
        claimed_at__lt=timezone.now() - starting_stale_after(),
    )
    for row in stale.select_related("repository__connection"):
        if _claim_recover(row):
            result.adopted += 1
    planned = list(
        CampaignRepository.objects.filter(
            campaign=campaign, state=CampaignRepository.State.PLANNED
        ).values_list("pk", flat=True)
    )
    actor = campaign.launched_by or SYSTEM
    workers = min(concurrency or launch_concurrency(), max(1, len(planned)))
    for outcome in _each_started(planned, campaign, actor, workers):
        if outcome == CampaignRepository.State.STARTED:
            result.started += 1
        elif outcome == CampaignRepository.State.FAILED:
            result.failed += 1
    return result


def _each_started(ids: list[int], campaign: Campaign, actor, workers: int) -> Iterable[str]:
    if workers == 1:
        # No pool: requests stay in this thread (and, in tests, in its database transaction).
        for pk in ids:
            yield _start_claimed(pk, campaign, actor)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="campaign") as pool:
        yield from pool.map(lambda pk: _in_own_connection(_start_claimed, pk, campaign, actor), ids)


def _in_own_connection(function: Callable, *args):
    """Run in a pool thread, which has its own database connection: close it when done."""
    try:
        return function(*args)
    finally:
        connection.close()


def _start_claimed(pk: int, campaign: Campaign, actor) -> str:
    """Claim one planned row and start its fix through the single-fix service."""
    claimed = CampaignRepository.objects.filter(
        pk=pk, state=CampaignRepository.State.PLANNED
    ).update(
        state=CampaignRepository.State.STARTING,
        claimed_at=timezone.now(),
        attempts=F("attempts") + 1,
        error="",
    )
    if not claimed:
        return ""  # another run has it
    row = CampaignRepository.objects.select_related("repository").get(pk=pk)
    finding_ids = list(row.findings.values_list("finding_id", flat=True))
    try:
        fix = fix_start(
            team=campaign.team,
            actor=actor,
            finding_ids=finding_ids,
            title=row.title,
            instructions=campaign.instructions,
            source_repo=row.source_repo,
        )
    except ServiceError as exc:
        _row_finish(row, error=exc.message)
        return CampaignRepository.State.FAILED
    _row_finish(row, fix=fix)
    return CampaignRepository.State.STARTED


def _row_finish(row: CampaignRepository, *, fix=None, error: str = "") -> None:
    with transaction.atomic():
        if fix is not None:
            row.state = CampaignRepository.State.STARTED
            row.fix = fix
            row.fix_upstream_id = fix.upstream_id
            row.started_at = timezone.now()
            row.error = ""
            covered = CampaignFinding.State.IN_FIX
        else:
            row.state = CampaignRepository.State.FAILED
            row.error = error
            covered = CampaignFinding.State.NOT_COVERED
        row.save(
            update_fields=["state", "fix", "fix_upstream_id", "started_at", "error", "updated_at"]
        )
        CampaignFinding.objects.filter(campaign_repository=row).update(state=covered)
        _audit(
            row.campaign,
            SYSTEM,
            "campaign.fix_started" if fix is not None else "campaign.fix_failed",
            {
                "repository": row.repository.name,
                "source_repo": row.source_repo,
                "fix": fix.pk if fix is not None else None,
                "error": error,
            },
        )


def _claim_recover(row: CampaignRepository) -> bool:
    """A row whose start may have reached Kolega (its worker died, or the answer was lost):
    adopt the fix Kolega made for it, if any; else put it back to planned (nothing was made,
    so starting it is safe). Kolega unreachable: leave it as it is, for the next run."""
    found = _fix_made_for(row)
    if found is False:
        return False
    if found is not None:
        fix = fix_mirror(connection=row.repository.connection, fix=found)
        _row_finish(row, fix=fix)
        transaction.on_commit(lambda: task_send(TaskName.TRACK_FIX, fix.pk))
        return True
    CampaignRepository.objects.filter(pk=row.pk, state=row.state).update(
        state=CampaignRepository.State.PLANNED
    )
    return False


def _fix_made_for(row: CampaignRepository):
    """The fix Kolega created for the row since it was claimed, None when there is none, or
    False when Kolega could not be asked."""
    upstream_findings = sorted(
        row.findings.values_list("finding__upstream_id", flat=True).order_by()
    )
    if not upstream_findings:
        return None
    since = (row.claimed_at or row.updated_at) - CLOCK_SKEW
    try:
        with kolega_client_for(row.repository.connection) as client:
            page = client.list_fixes(
                repository_id=row.repository.upstream_id,
                finding_id=upstream_findings[0],
                limit=50,
            )
    except kolega.KolegaError as exc:
        CampaignRepository.objects.filter(pk=row.pk).update(error=describe_kolega_error(exc))
        return False
    made = [
        fix
        for fix in page.items
        if fix.title == row.title
        and sorted(fix.finding_ids) == upstream_findings
        and fix.created_at >= since
    ]
    return max(made, key=lambda fix: fix.created_at, default=None)


def campaign_retry_failed(*, campaign: Campaign, actor) -> int:
    """Plan the failed fixes again and launch them; a failure whose start may have reached
    Kolega is looked up first, so a retry never makes a second fix. Answers how many."""
    require_role(team=campaign.team, user=actor, role=Role.TRIAGER)
    campaign.refresh_from_db(fields=["state"])
    if campaign.state != Campaign.State.LAUNCHED:
        raise ServiceError("Only a launched campaign's fixes can be retried.")
    failed = list(
        CampaignRepository.objects.filter(
            campaign=campaign, state=CampaignRepository.State.FAILED
        ).select_related("repository__connection", "campaign", "team")
    )
    if not failed:
        raise ServiceError("No fix of this campaign failed to start.")
    adopted = sum(1 for row in failed if _claim_recover(row))
    check = campaign_launch_check(campaign=campaign, fresh=True)
    if check.fixes and check.problems:
        raise ServiceError(" ".join([*check.problems, "Nothing was sent to Kolega."]))
    with transaction.atomic():
        _audit(
            campaign,
            actor,
            "campaign.retry_failed",
            {"failed": len(failed), "found_started": adopted},
        )
        _queue_launch(campaign.pk)
    return len(failed)


@dataclass(frozen=True)
class FixOutcome:
    """What one campaign fix answered to a campaign-wide action."""

    row: CampaignRepository
    done: bool
    message: str


def campaign_cancel_running(*, campaign: Campaign, actor) -> list[FixOutcome]:
    """Cancel every pending or running fix of the campaign, and skip the planned ones."""
    require_role(team=campaign.team, user=actor, role=Role.TRIAGER)
    with transaction.atomic():
        skipped = CampaignRepository.objects.filter(
            campaign=campaign, state=CampaignRepository.State.PLANNED
        ).update(state=CampaignRepository.State.SKIPPED, error="Cancelled before it started.")
    running = CampaignRepository.objects.filter(
        campaign=campaign,
        state=CampaignRepository.State.STARTED,
        fix__status__in=CANCELLABLE_STATUSES,
    ).select_related("fix__repository", "fix__connection", "fix__team", "repository")
    outcomes = _each_fix(running, lambda fix: fix_cancel(fix=fix, actor=actor) and "Cancelled.")
    with transaction.atomic():
        _audit(campaign, actor, "campaign.cancel_running", {"skipped": skipped, **_told(outcomes)})
    return outcomes


def _each_fix(rows: Iterable[CampaignRepository], act: Callable) -> list[FixOutcome]:
    """``act`` on each row's fix through its single-fix service: a refusal of one is told for
    it and the others go on. ``act`` answers what to tell of a fix it acted on."""
    outcomes = []
    for row in rows:
        try:
            told = act(row.fix)
        except ServiceError as exc:
            outcomes.append(FixOutcome(row=row, done=False, message=exc.message))
        else:
            outcomes.append(FixOutcome(row=row, done=True, message=told))
    return outcomes


def _told(outcomes: list[FixOutcome]) -> dict:
    return {
        "done": sum(1 for o in outcomes if o.done),
        "refused": [o.row.source_repo for o in outcomes if not o.done],
    }


def campaign_cancel(*, campaign: Campaign, actor) -> Campaign:
    """Cancel a campaign: its running fixes are cancelled and nothing more is started."""
    require_role(team=campaign.team, user=actor, role=Role.TRIAGER)
    if campaign.state in (Campaign.State.CANCELLED, Campaign.State.DONE):
        raise ServiceError(f"This campaign is already {campaign.get_state_display().lower()}.")
    if campaign.state == Campaign.State.LAUNCHED:
        campaign_cancel_running(campaign=campaign, actor=actor)
    with transaction.atomic():
        Campaign.objects.filter(pk=campaign.pk).update(
            state=Campaign.State.CANCELLED, updated_at=timezone.now()
        )
        _audit(campaign, actor, "campaign.cancel", {})
    campaign.refresh_from_db()
    return campaign


def campaign_pull_requests_open(*, campaign: Campaign, actor) -> list[FixOutcome]:
    """Ask for the pull requests of every approved fix of the campaign, each through the
    single-fix service: an opening already asked for is found, not sent again, whatever is
    clicked twice or retried."""
    require_role(team=campaign.team, user=actor, role=Role.TRIAGER)
    rows = list(
        CampaignRepository.objects.filter(
            campaign=campaign,
            state=CampaignRepository.State.STARTED,
            fix__approvals__status=FixApproval.Status.APPROVED,
        )
        .select_related("fix__team", "repository")
        .distinct()
        .order_by("pk")
    )
    if not rows:
        raise ServiceError("No fix of this campaign is approved yet.")
    outcomes = _each_fix(
        rows, lambda fix: pull_requests_open(fix=fix, actor=actor).get_status_display()
    )
    with transaction.atomic():
        _audit(campaign, actor, "campaign.open_pull_requests", _told(outcomes))
    return outcomes


# Keeping up with rescans


def campaign_findings_follow(*, campaign: Campaign) -> int:
    """Take in unresolved findings that match a following campaign's selection and are not in
    it yet; they are planned as fixes of a new round (launched by "Launch" again). Answers
    how many joined."""
    if not campaign.follow_new or campaign.state not in (
        Campaign.State.DRAFT,
        Campaign.State.LAUNCHED,
    ):
        return 0
    owner = campaign.created_by
    try:
        matching = campaign_findings_matching(
            team=campaign.team, user=owner, selection=CampaignSelection.of(campaign)
        )
    except ServiceError:
        return 0
    new = list(
        matching.exclude(pk__in=CampaignFinding.objects.filter(campaign=campaign).values("finding"))
        .select_related("repository")
        .order_by("repository_id", "pk")[:MAX_CAMPAIGN_FINDINGS]
    )
    if not new:
        return 0
    with transaction.atomic():
        taken = CampaignFinding.objects.bulk_create(
            [CampaignFinding(campaign=campaign, finding=f, followed=True) for f in new],
            batch_size=1000,
        )
        pairs = list(zip(taken, new, strict=True))
        if campaign.state == Campaign.State.DRAFT:
            # Not launched yet: they join the planned fixes of their repository.
            planned = {
                (row.repository_id, row.source_repo): row
                for row in CampaignRepository.objects.filter(
                    campaign=campaign, state=CampaignRepository.State.PLANNED
                )
            }
            rest = []
            for row, finding in pairs:
                target = planned.get(
                    (finding.repository_id, source_repo_of(finding, finding.repository))
                )
                if target is not None:
                    row.campaign_repository = target
                    row.save(update_fields=["campaign_repository"])
                else:
                    rest.append((row, finding))
            pairs = rest
        if pairs:
            last = (
                CampaignRepository.objects.filter(campaign=campaign)
                .order_by("-round")
                .values_list("round", flat=True)
                .first()
            ) or 0
            next_round = last + 1 if campaign.state == Campaign.State.LAUNCHED else max(last, 1)
            _plan(campaign, pairs, round_=next_round)
        _audit(campaign, SYSTEM, "campaign.findings_followed", {"findings": len(new)})
    return len(new)


def campaigns_follow(*, team_id: int) -> int:
    """Take in new matching findings for every following campaign of a team (after a sync)."""
    total = 0
    for campaign in Campaign.objects.filter(
        team_id=team_id,
        follow_new=True,
        state__in=[Campaign.State.DRAFT, Campaign.State.LAUNCHED],
    ).select_related("team", "created_by"):
        total += campaign_findings_follow(campaign=campaign)
    return total

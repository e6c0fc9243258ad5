"""Writes of findings triage: one finding's status, bulk status jobs (create, run, retry,
undo) and saved views. Kolega first, then the mirror, then the audit log."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from triage import kolega
from triage.clients import kolega_client_for
from triage.models import (
    DismissalRequest,
    Finding,
    FindingStatus,
    FindingStatusJob,
    FindingStatusJobItem,
    KolegaConnection,
    Repository,
    Role,
    SavedView,
    Team,
    label_of,
)
from triage.services.audit import audit_log
from triage.services.dismissal_notes import dismissal_status_job_finished
from triage.services.errors import ServiceError
from triage.services.four_eyes import status_needs_approval
from triage.services.kolega_errors import describe_kolega_error, kolega_interactive
from triage.services.teams import SYSTEM, require_role
from triage.sync.rows import findings_write
from triage.task_queue import TaskName, task_send

logger = logging.getLogger("triage.findings")

Outcome = FindingStatusJobItem.Outcome
# A dismissal request whose approval this job carries out.
DISMISSAL_APPLYING = (
    DismissalRequest.Status.APPROVED,
    DismissalRequest.Status.APPLIED,
    DismissalRequest.Status.FAILED,
)
# One job may not outgrow what a person can review afterwards, nor hold a worker for hours.
MAX_JOB_ITEMS = 20_000
# A worker never blocks longer than this on one Retry-After; a longer wait fails the item,
# and "Retry failed" sends it again later.
MAX_RETRY_AFTER_SECONDS = 60.0
RATE_LIMIT_ROUNDS = 5
# Outcomes are written in small batches: progress stays live without one transaction per item.
RECORD_EVERY_ITEMS = 25
RECORD_EVERY_SECONDS = 0.5


def job_concurrency() -> int:
    return max(1, int(getattr(settings, "PORTAL_STATUS_JOB_CONCURRENCY", 8)))


def _check_status(status: str) -> None:
    if status not in FindingStatus.values:
        raise ServiceError(f"“{status}” is not a finding status.", field="status")


def _refuse_unapproved_dismissal(team: Team, status: str) -> None:
    """While the team's policy asks for it, dismissing goes through a `DismissalRequest`."""
    if status_needs_approval(team, status):
        raise ServiceError(
            "Dismissing findings needs approval in this team: give a reason and send it for "
            "approval.",
            field="status",
        )


# One finding


def finding_status_set(
    *, team: Team, actor, finding: Finding, status: str, comment: str = ""
) -> Finding:
    """Set one finding's status while the user waits; a refusal changes nothing locally.
    ``comment`` (why) is kept with the change in the audit log and the finding's timeline."""
    require_role(team=team, user=actor, role=Role.TRIAGER)
    _check_status(status)
    if finding.team_id != team.pk:
        raise ServiceError("No such finding.")
    _refuse_unapproved_dismissal(team, status)
    previous = finding.status
    with kolega_interactive(finding.connection) as client:
        answer = client.update_finding_status(
            repository_id=finding.repository.upstream_id,
            finding_id=finding.upstream_id,
            status=status,
        )
    with transaction.atomic():
        findings_write(
            connection=finding.connection,
            findings=[answer],
            repository_pks={answer.repository_id: finding.repository_id},
        )
        if previous != answer.status:
            audit_log(
                team=team,
                actor=actor,
                action="finding.status_change",
                target=finding,
                details={"from": previous, "to": answer.status}
                | ({"comment": comment.strip()} if comment.strip() else {}),
            )
    finding.refresh_from_db()
    return finding


# Bulk status jobs


def finding_status_job_create(
    *,
    team: Team,
    actor,
    finding_ids: Iterable[int],
    status: str,
    comment: str = "",
    filter_query: str = "",
    dismissal_approved: bool = False,
) -> FindingStatusJob:
    """Record a job with one item per finding of the team and queue its task.

    ``dismissal_approved`` is for applying an approved `DismissalRequest` only.
    """
    require_role(team=team, user=actor, role=Role.TRIAGER)
    _check_status(status)
    if not dismissal_approved:
        _refuse_unapproved_dismissal(team, status)
    # At most one finding over the cap is ever read: the ids stay a subquery when they come
    # from a filter, and a list of ids is read no further than the cap.
    findings = list(
        Finding.objects.filter(team=team, pk__in=ids_within_cap(finding_ids))
        .order_by("pk")
        .values_list("pk", "connection_id", "upstream_id", "repository__upstream_id", "status")[
            : MAX_JOB_ITEMS + 1
        ]
    )
    if not findings:
        raise ServiceError("Select at least one finding.")
    if len(findings) > MAX_JOB_ITEMS:
        raise ServiceError(
            f"One change may cover at most {MAX_JOB_ITEMS:,} findings; narrow the filters."
        )
    with transaction.atomic():
        job = FindingStatusJob.objects.create(
            team=team,
            # The system actor (an expired dismissal reopening findings) is no user.
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            target_status=status,
            comment=comment.strip(),
            filter_query=filter_query[:2000],
            total=len(findings),
        )
        FindingStatusJobItem.objects.bulk_create(
            [
                FindingStatusJobItem(
                    job=job,
                    finding_id=pk,
                    connection_id=connection_id,
                    finding_upstream_id=upstream_id,
                    repository_upstream_id=repository_upstream_id,
                    previous_status=previous,
                    target_status=status,
                )
                for pk, connection_id, upstream_id, repository_upstream_id, previous in findings
            ],
            batch_size=1000,
        )
        audit_log(
            team=team,
            actor=actor,
            action="finding_status_job.create",
            target=job,
            details={"status": status, "findings": len(findings), "comment": job.comment},
        )
        _queue(job)
    return job


def ids_within_cap(finding_ids: Iterable[int], cap: int | None = None) -> QuerySet | list[int]:
    """The ids as a subquery when they are a queryset; else the distinct ids, read up to one
    more than ``cap`` (a job's cap unless given: enough to refuse), never the whole
    iterable."""
    cap = MAX_JOB_ITEMS if cap is None else cap
    if isinstance(finding_ids, QuerySet):
        return finding_ids
    capped: dict[int, None] = {}
    for finding_id in finding_ids:
        capped[finding_id] = None
        if len(capped) > cap:
            break
    return list(capped)


def _job_dismissal_refusal(job: FindingStatusJob, statuses: Iterable[str]) -> str | None:
    """Why the job may not send ``statuses`` now, under the team's current policy.

    A job records statuses when it is created; an admin may have turned on approval of
    dismissals since. Only a job applying an approved dismissal request may dismiss then.
    """
    if not any(status_needs_approval(job.team, status) for status in set(statuses)):
        return None
    if DismissalRequest.objects.filter(apply_job=job, status__in=DISMISSAL_APPLYING).exists():
        return None
    return (
        "Dismissing findings now needs approval in this team (the policy changed after this "
        "change was started): give a reason and send it for approval."
    )


def _finished_job_locked(job: FindingStatusJob, *, refusal: str) -> FindingStatusJob:
    """The job again under its row lock, once it has finished; else ``refusal``."""
    job = FindingStatusJob.objects.select_for_update().get(pk=job.pk)
    if job.state != FindingStatusJob.State.FINISHED:
        raise ServiceError(refusal)
    return job


def finding_status_job_retry_failed(*, job: FindingStatusJob, actor) -> FindingStatusJob:
    """Send the failed items of a finished job again, in the same job."""
    require_role(team=job.team, user=actor, role=Role.TRIAGER)
    with transaction.atomic():
        job = _finished_job_locked(job, refusal="This job is still running.")
        refusal = _job_dismissal_refusal(
            job, job.items.filter(outcome=Outcome.FAILED).values_list("target_status", flat=True)
        )
        if refusal:
            raise ServiceError(refusal)
        retried = job.items.filter(outcome=Outcome.FAILED).update(
            outcome=Outcome.PENDING, finished_at=None
        )
        if not retried:
            raise ServiceError("Nothing failed in this job.")
        job.state = FindingStatusJob.State.QUEUED
        job.finished_at = None
        job.save(update_fields=["state", "finished_at"])
        _recount(job)
        audit_log(
            team=job.team,
            actor=actor,
            action="finding_status_job.retry",
            target=job,
            details={"findings": retried},
        )
        _queue(job)
    return job


def finding_status_job_undo(*, job: FindingStatusJob, actor) -> FindingStatusJob:
    """A new job setting every finding ``job`` changed back to its previous status."""
    require_role(team=job.team, user=actor, role=Role.TRIAGER)
    with transaction.atomic():
        job = _finished_job_locked(job, refusal="A job can be undone once it has finished.")
        if FindingStatusJob.objects.filter(undo_of=job).exists():
            raise ServiceError("This job has already been undone.")
        changed = list(job.items.filter(outcome=Outcome.CHANGED).select_related("finding"))
        if not changed:
            raise ServiceError("This job changed nothing, so there is nothing to undo.")
        for status in {item.previous_status for item in changed}:
            _refuse_unapproved_dismissal(job.team, status)
        undo = FindingStatusJob.objects.create(
            team=job.team,
            created_by=actor,
            target_status="",
            comment=f"Undo of job {job.pk}",
            undo_of=job,
            filter_query=job.filter_query,
            total=len(changed),
        )
        FindingStatusJobItem.objects.bulk_create(
            [
                FindingStatusJobItem(
                    job=undo,
                    finding_id=item.finding_id,
                    connection_id=item.connection_id,
                    finding_upstream_id=item.finding_upstream_id,
                    repository_upstream_id=item.repository_upstream_id,
                    previous_status=item.finding.status if item.finding else item.target_status,
                    target_status=item.previous_status,
                )
                for item in changed
            ],
            batch_size=1000,
        )
        audit_log(
            team=job.team,
            actor=actor,
            action="finding_status_job.undo",
            target=undo,
            details={"undoes": job.pk, "findings": len(changed)},
        )
        _queue(undo)
    return undo


def _queue(job: FindingStatusJob) -> None:
    transaction.on_commit(lambda: task_send(TaskName.RUN_FINDING_STATUS_JOB, job.pk))


@dataclass
class _Answer:
    item: FindingStatusJobItem
    finding: kolega.Finding | None = None
    reason: str = ""
    attempts: int = 0


def _patch(client: kolega.KolegaClient, item: FindingStatusJobItem, sleep) -> _Answer:
    """One PATCH, waiting out rate limits the client could not absorb; runs in a pool thread
    and touches no database."""
    attempts = 0
    for _ in range(RATE_LIMIT_ROUNDS):
        attempts += 1
        try:
            finding = client.update_finding_status(
                repository_id=item.repository_upstream_id,
                finding_id=item.finding_upstream_id,
                status=item.target_status,
            )
        except kolega.KolegaRateLimited as exc:
            wait = exc.retry_after if exc.retry_after is not None else 1.0
            if wait > MAX_RETRY_AFTER_SECONDS:
                return _Answer(item, reason=describe_kolega_error(exc), attempts=attempts)
            sleep(wait)
            continue
        except kolega.KolegaError as exc:
            return _Answer(item, reason=describe_kolega_error(exc), attempts=attempts)
        return _Answer(item, finding=finding, attempts=attempts)
    return _Answer(
        item, reason="Kolega kept rate limiting this request; retry later.", attempts=attempts
    )


def finding_status_job_run(
    *,
    job_id: int,
    client_factory: Callable[[KolegaConnection], kolega.KolegaClient] | None = None,
    concurrency: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> FindingStatusJob | None:
    """PATCH every pending item of the job with bounded concurrency and store each outcome.

    Safe to run again (a redelivered task): items already decided are not sent twice. The
    pool threads only talk HTTP; every database write happens here, in the calling thread.
    """
    with transaction.atomic():
        job = FindingStatusJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state == FindingStatusJob.State.FINISHED:
            return job
        job.state = FindingStatusJob.State.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.runs += 1
        job.save(update_fields=["state", "started_at", "runs"])
        refusal = _job_dismissal_refusal(
            job, job.items.filter(outcome=Outcome.PENDING).values_list("target_status", flat=True)
        )
        if refusal:
            # Nothing is sent: every waiting item fails with the reason, the job finishes.
            job.items.filter(outcome=Outcome.PENDING).update(
                outcome=Outcome.FAILED, reason=refusal, finished_at=timezone.now()
            )
    items = list(job.items.filter(outcome=Outcome.PENDING).select_related("connection", "finding"))
    connections = {item.connection_id: item.connection for item in items}
    make_client = client_factory or (lambda connection: kolega_client_for(connection))
    clients = {pk: make_client(connection) for pk, connection in connections.items()}
    repository_pks = {
        pk: dict(Repository.objects.filter(connection_id=pk).values_list("upstream_id", "pk"))
        for pk in connections
    }
    workers = min(concurrency or job_concurrency(), max(1, len(items)))
    try:
        answers = _answers(items, clients, workers, sleep)
        pending: list[_Answer] = []
        last_record = time.monotonic()
        for answer in answers:
            pending.append(answer)
            if (
                len(pending) >= RECORD_EVERY_ITEMS
                or time.monotonic() - last_record >= RECORD_EVERY_SECONDS
            ):
                _record(job, pending, connections, repository_pks)
                pending, last_record = [], time.monotonic()
        _record(job, pending, connections, repository_pks)
    finally:
        for client in clients.values():
            client.close()
    with transaction.atomic():
        job = FindingStatusJob.objects.select_for_update().get(pk=job_id)
        job.state = FindingStatusJob.State.FINISHED
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "finished_at"])
        _recount(job)
        audit_log(
            team=job.team,
            actor=job.created_by or SYSTEM,
            action="finding_status_job.finish",
            target=job,
            details={"changed": job.changed, "unchanged": job.unchanged, "failed": job.failed},
        )
        dismissal_status_job_finished(job=job)
    return job


def _answers(items, clients, workers: int, sleep):
    if workers == 1:
        # No pool: requests stay in this thread (and, in tests, in its database transaction).
        for item in items:
            yield _patch(clients[item.connection_id], item, sleep)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="status-job") as pool:
        futures = [pool.submit(_patch, clients[i.connection_id], i, sleep) for i in items]
        for future in as_completed(futures):
            yield future.result()


def _record(job, answers: list[_Answer], connections, repository_pks) -> None:
    """Store a batch of outcomes: the mirror rows Kolega answered, the items, the audit log."""
    if not answers:
        return
    now = timezone.now()
    accepted: dict[int, list[kolega.Finding]] = defaultdict(list)
    for answer in answers:
        item = answer.item
        item.attempts += answer.attempts
        item.finished_at = now
        if answer.finding is None:
            item.outcome, item.reason = Outcome.FAILED, answer.reason
            continue
        if answer.finding.status != item.target_status:
            item.outcome = Outcome.FAILED
            item.reason = (
                f"Kolega kept the status “{label_of(FindingStatus, answer.finding.status)}”."
            )
        else:
            item.reason = ""
            item.outcome = (
                Outcome.UNCHANGED if item.previous_status == item.target_status else Outcome.CHANGED
            )
        if answer.finding.repository_id in repository_pks[item.connection_id]:
            accepted[item.connection_id].append(answer.finding)
    with transaction.atomic():
        for connection_pk, findings in accepted.items():
            findings_write(
                connection=connections[connection_pk],
                findings=findings,
                repository_pks=repository_pks[connection_pk],
            )
        FindingStatusJobItem.objects.bulk_update(
            [answer.item for answer in answers], ["outcome", "reason", "attempts", "finished_at"]
        )
        actor = job.created_by or SYSTEM
        for answer in answers:
            item = answer.item
            if item.outcome == Outcome.CHANGED:
                audit_log(
                    team=job.team,
                    actor=actor,
                    action="finding.status_change",
                    target=item.finding,
                    target_label=item.finding_upstream_id if item.finding is None else "",
                    details={
                        "from": item.previous_status,
                        "to": item.target_status,
                        "job": job.pk,
                        "comment": job.comment,
                    },
                )
        _recount(job)


def _recount(job: FindingStatusJob) -> None:
    counts = job.items.aggregate(
        changed=Count("pk", filter=Q(outcome=Outcome.CHANGED)),
        unchanged=Count("pk", filter=Q(outcome=Outcome.UNCHANGED)),
        failed=Count("pk", filter=Q(outcome=Outcome.FAILED)),
        total=Count("pk"),
    )
    for name, value in counts.items():
        setattr(job, name, value)
    FindingStatusJob.objects.filter(pk=job.pk).update(**counts)


# Saved views


def saved_view_create(*, team: Team, user, name: str, query: str) -> SavedView:
    require_role(team=team, user=user, role=Role.VIEWER)
    name = name.strip()
    if not name:
        raise ServiceError("Give the view a name.", field="name")
    try:
        with transaction.atomic():
            view = SavedView.objects.create(team=team, user=user, name=name, query=query[:2000])
            audit_log(team=team, actor=user, action="saved_view.create", target=view)
    except IntegrityError:
        raise ServiceError(f"You already have a view named “{name}”.", field="name") from None
    return view


def saved_view_delete(*, team: Team, user, view_id: int) -> None:
    require_role(team=team, user=user, role=Role.VIEWER)
    with transaction.atomic():
        view = SavedView.objects.filter(team=team, user=user, pk=view_id).first()
        if view is None:
            raise ServiceError("No such saved view.")
        audit_log(team=team, actor=user, action="saved_view.delete", target=view)
        view.delete()

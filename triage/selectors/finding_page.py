"""Read side of a finding's page: its timeline, its comment thread, the fixes and pull
requests that cover it, and where in the code it is.

The timeline gathers what is stored about the finding in several places, newest first: the
portal's status changes (the audit log, with the comment given), dismissal requests and their
decisions, the portal's notes, Kolega's mirrored events, and the fixes and pull requests that
cover the finding. Every entry names who did it, when, what changed (in labels) and why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Prefetch

from triage.models import (
    AuditEvent,
    DismissalDecision,
    DismissalRequest,
    Finding,
    FindingComment,
    FindingEvent,
    FindingEventType,
    FindingNote,
    FindingStatus,
    Fix,
    label_of,
)
from triage.selectors.findings import finding_events, finding_fixes, source_repo_link
from triage.weblinks import web_url

TIMELINE_LIMIT = 200
COMMENTS_LIMIT = 500
# Kolega records the portal's own status change as an event of its own; one within this
# much of the portal's change, between the same statuses, is the same change.
SAME_CHANGE_WINDOW = timedelta(minutes=15)
KOLEGA_STATUS_EVENTS = (
    FindingEventType.STATUS_CHANGED,
    FindingEventType.RESOLVED_MANUAL,
    FindingEventType.REOPENED,
)
# Kolega's fix events the fix's own rows already tell, with a link, when the fix is mirrored.
KOLEGA_FIX_EVENTS_TOLD_BY_ROWS = (
    FindingEventType.FIX_CREATED,
    FindingEventType.FIX_PR_CREATED,
    FindingEventType.FIX_PR_UPDATED,
)
# The line in a code host's link: GitHub, GitLab and Gitea "#L12" (or "#L12-L20"),
# Bitbucket "#lines-12".
LINE_ANCHOR = re.compile(r"#(?:L|lines-)(\d{1,9})\b")
SYSTEM_ACTOR = "Portal (automatic)"
KOLEGA_ACTOR = "Kolega"


@dataclass(frozen=True)
class TimelineEntry:
    when: datetime
    # What happened, as a person reads it (a label of the event or of the note).
    what: str
    # Where "portal" entries were written by the portal, "kolega" ones mirrored from Kolega.
    source: str
    actor: str = ""
    # What changed, in labels ("Open → Resolved").
    change: str = ""
    comment: str = ""
    # A detail beside the change, such as the scan that detected it.
    detail: str = ""
    job_pk: int | None = None
    dismissal_pk: int | None = None
    fix_pk: int | None = None
    fix_title: str = ""
    # A pull request's page on the code host, when it is an http(s) URL.
    external_url: str | None = None
    external_label: str = ""


@dataclass(frozen=True)
class CodeLocation:
    """Where the finding is: its path, the line when Kolega's link names one, and a link to
    the code host (http and https only)."""

    path: str
    line: int | None
    url: str | None

    @property
    def text(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


def _status(value: str | None) -> str:
    return label_of(FindingStatus, value) or "—"


def _change(previous: str | None, new: str | None) -> str:
    if not previous:
        return f"as {_status(new)}"
    return f"{_status(previous)} → {_status(new)}"


def _actor(label: str) -> str:
    return SYSTEM_ACTOR if not label or label == "system" else label


def code_location(*, finding: Finding) -> CodeLocation:
    """The finding's path and line, linked to Kolega's ``source_url`` when it is a web URL,
    else to the file in its source repo's web UI at the line when one is known."""
    source = finding.source_url or ""
    match = LINE_ANCHOR.search(source)
    line = int(match.group(1)) if match and int(match.group(1)) > 0 else None
    url = web_url(source)
    if url is None:
        fallback = source_repo_link(finding=finding)
        if fallback:
            url = f"{fallback}#L{line}" if line else fallback
    return CodeLocation(path=finding.file_path, line=line, url=url)


def covering_fixes(*, finding: Finding) -> list[Fix]:
    """The fixes whose findings include this one, newest first, with their pull requests."""
    return list(finding_fixes(finding=finding).order_by("-created_at", "-id"))


def finding_comments(*, finding: Finding) -> list[FindingComment]:
    """The finding's thread, oldest first; each comment knows the names it mentions."""
    comments = list(
        FindingComment.objects.filter(
            team_id=finding.team_id,
            connection_id=finding.connection_id,
            finding_upstream_id=finding.upstream_id,
        )
        .prefetch_related("mentions")
        .order_by("-created_at", "-id")[:COMMENTS_LIMIT]
    )
    comments.reverse()
    for comment in comments:
        comment.mentioned_names = {user.get_username() for user in comment.mentions.all()}
    return comments


def finding_timeline(*, finding: Finding, fixes: list[Fix] | None = None) -> list[TimelineEntry]:
    """Everything that happened to the finding, newest first (at most ``TIMELINE_LIMIT``)."""
    fixes = covering_fixes(finding=finding) if fixes is None else fixes
    portal_changes = _portal_status_changes(finding)
    entries = [*portal_changes, *_dismissal_entries(finding), *_note_entries(finding)]
    entries += _assignment_entries(finding)
    entries += _fix_entries(finding, fixes)
    entries += _kolega_entries(finding, portal_changes, {fix.upstream_id: fix for fix in fixes})
    entries.sort(key=lambda entry: entry.when, reverse=True)
    return entries[:TIMELINE_LIMIT]


def _portal_status_changes(finding: Finding) -> list[TimelineEntry]:
    events = AuditEvent.objects.filter(
        team_id=finding.team_id,
        action="finding.status_change",
        target_type=Finding._meta.model_name,
        target_id=str(finding.pk),
    ).order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    return [
        TimelineEntry(
            when=event.created_at,
            what=FindingEventType.STATUS_CHANGED.label,
            source="portal",
            actor=_actor(event.actor_label),
            change=_change(event.details.get("from"), event.details.get("to")),
            comment=str(event.details.get("comment") or ""),
            job_pk=event.details.get("job") if isinstance(event.details.get("job"), int) else None,
        )
        for event in events
    ]


ASSIGNMENT_ACTIONS = {"finding.assign": "Assigned", "finding.unassign": "Unassigned"}


def _assignment_entries(finding: Finding) -> list[TimelineEntry]:
    """Assignments by hand, and their undoing (the owner is the rules' again)."""
    events = AuditEvent.objects.filter(
        team_id=finding.team_id,
        action__in=list(ASSIGNMENT_ACTIONS),
        target_type=Finding._meta.model_name,
        target_id=str(finding.pk),
    ).order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    entries = []
    for event in events:
        before = str(event.details.get("from") or "nobody")
        after = str(event.details.get("to") or "the rules' owner")
        entries.append(
            TimelineEntry(
                when=event.created_at,
                what=ASSIGNMENT_ACTIONS[event.action],
                source="portal",
                actor=_actor(event.actor_label),
                change=f"{before} → {after}",
            )
        )
    return entries


def _audit_actors(
    finding: Finding, model: type[models.Model], targets: list[models.Model], *, action: str
) -> dict[str, str]:
    """Who the audit log says did ``action`` to each of ``targets``, by the target's key."""
    return dict(
        AuditEvent.objects.filter(
            team_id=finding.team_id,
            action=action,
            target_type=model._meta.model_name,
            target_id__in=[str(target.pk) for target in targets],
        ).values_list("target_id", "actor_label")
    )


def _dismissal_entries(finding: Finding) -> list[TimelineEntry]:
    requests = list(
        DismissalRequest.objects.filter(team_id=finding.team_id, items__finding=finding)
        .select_related("requested_by")
        .prefetch_related(
            Prefetch("decisions", queryset=DismissalDecision.objects.select_related("approver"))
        )
        .order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    )
    cancelled_by = _audit_actors(finding, DismissalRequest, requests, action="dismissal.cancel")
    entries = []
    for request in requests:
        wanted = request.get_requested_status_display()
        until = f" until {request.expires_on:%d %b %Y}" if request.expires_on else ""
        entries.append(
            TimelineEntry(
                when=request.created_at,
                what=FindingNote.Kind.DISMISSAL_REQUESTED.label,
                source="portal",
                actor=request.requested_by.get_username(),
                change=f"To {wanted}{until}",
                comment=request.reason,
                dismissal_pk=request.pk,
            )
        )
        for decision in request.decisions.all():
            entries.append(
                TimelineEntry(
                    when=decision.created_at,
                    what=(
                        FindingNote.Kind.DISMISSAL_REJECTED.label
                        if decision.decision == DismissalDecision.Decision.REJECT
                        else "Dismissal approved"
                    ),
                    source="portal",
                    actor=decision.approver.get_username(),
                    change=f"To {wanted}{until}",
                    comment=decision.comment,
                    dismissal_pk=request.pk,
                )
            )
        if request.status == DismissalRequest.Status.CANCELLED and request.decided_at:
            entries.append(
                TimelineEntry(
                    when=request.decided_at,
                    what=FindingNote.Kind.DISMISSAL_CANCELLED.label,
                    source="portal",
                    actor=_actor(cancelled_by.get(str(request.pk), "")),
                    change=f"To {wanted}{until}",
                    dismissal_pk=request.pk,
                )
            )
    return entries


def _note_entries(finding: Finding) -> list[TimelineEntry]:
    """The notes the portal writes by itself (a dismissal applied or expired); the notes of
    requests, decisions and cancellations are told above with their actor."""
    notes = FindingNote.objects.filter(
        finding=finding,
        kind__in=[FindingNote.Kind.DISMISSAL_APPLIED, FindingNote.Kind.DISMISSAL_EXPIRED],
    ).order_by("-created_at", "-id")[:TIMELINE_LIMIT]
    return [
        TimelineEntry(
            when=note.created_at,
            what=note.get_kind_display(),
            source="portal",
            actor=SYSTEM_ACTOR,
            comment=note.body,
            dismissal_pk=note.dismissal_id,
        )
        for note in notes
    ]


def _fix_entries(finding: Finding, fixes: list[Fix]) -> list[TimelineEntry]:
    started_by = _audit_actors(finding, Fix, fixes, action="fix.create")
    entries = []
    for fix in fixes:
        entries.append(
            TimelineEntry(
                when=fix.created_at,
                what=FindingEventType.FIX_STARTED.label,
                source="portal" if str(fix.pk) in started_by else "kolega",
                actor=started_by.get(str(fix.pk)) or KOLEGA_ACTOR,
                change=f"Now {fix.status_label}",
                fix_pk=fix.pk,
                fix_title=fix.title,
            )
        )
        for pr in fix.pull_requests.all():
            label = f"{pr.repo_full_name}#{pr.pr_number}"
            link = {"external_url": web_url(pr.pr_url), "external_label": label}
            common = {"source": "kolega", "actor": KOLEGA_ACTOR, "fix_pk": fix.pk}
            entries.append(
                TimelineEntry(
                    when=pr.created_at,
                    what="Pull request opened",
                    change=f"Now {pr.get_merge_status_display()}",
                    fix_title=fix.title,
                    **link,
                    **common,
                )
            )
            if pr.merged_at:
                entries.append(
                    TimelineEntry(
                        when=pr.merged_at,
                        what="Pull request merged",
                        fix_title=fix.title,
                        **link,
                        **common,
                    )
                )
    return entries


def _kolega_entries(
    finding: Finding, portal_changes: list[TimelineEntry], fixes: dict[str, Fix]
) -> list[TimelineEntry]:
    entries = []
    for event in finding_events(finding=finding)[:TIMELINE_LIMIT]:
        metadata = event.metadata if isinstance(event.metadata, dict) else {}
        fix_id = str(metadata.get("fix_id") or "")
        fix = fixes.get(fix_id)
        if fix is not None and event.event_type in KOLEGA_FIX_EVENTS_TOLD_BY_ROWS:
            continue
        if event.event_type in KOLEGA_STATUS_EVENTS and _told_by_portal(event, portal_changes):
            continue
        fix_event = event.event_type.startswith("fix_")
        entries.append(
            TimelineEntry(
                when=event.event_timestamp,
                what=event.event_type_label,
                source="kolega",
                actor=(
                    f"{KOLEGA_ACTOR} user {event.actor_user_id}"
                    if event.actor_user_id
                    else KOLEGA_ACTOR
                ),
                change=(
                    _change(event.previous_status, event.new_status)
                    if not fix_event
                    and (event.previous_status or event.new_status)
                    and event.previous_status != event.new_status
                    else ""
                ),
                detail=event.scan_type_label if event.scan_type else "",
                fix_pk=fix.pk if fix is not None else None,
                fix_title=fix.title if fix is not None else "",
            )
        )
    return entries


def _told_by_portal(event: FindingEvent, portal_changes: list[TimelineEntry]) -> bool:
    change = _change(event.previous_status, event.new_status)
    return any(
        entry.change == change and abs(entry.when - event.event_timestamp) <= SAME_CHANGE_WINDOW
        for entry in portal_changes
    )

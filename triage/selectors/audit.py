"""The audit log as people read it: each entry's action as a label, its details as a sentence,
and its target as a link when the target still exists in the team.

The log stores what the services recorded (an action key, a dict of details); this module is
the one place that turns those into words, for the page and the CSV export alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.urls import reverse

from triage.models import (
    AuditEvent,
    DismissalRequest,
    Finding,
    FindingStatus,
    FindingStatusJob,
    Fix,
    FixApproval,
    Invitation,
    KolegaConnection,
    Membership,
    Role,
    ScanBatch,
    ScanType,
    Severity,
    Team,
    label_of,
)

ACTION_LABELS = {
    "team.create": "Team created",
    "member.add": "Member added",
    "member.role_change": "Member's role changed",
    "member.remove": "Member removed",
    "member.invite": "Member invited",
    "member.invite_revoke": "Invitation revoked",
    "member.invite_resend": "Invitation sent again",
    "member.invite_accept": "Invitation accepted",
    "member.sso_grant": "Member added from identity-provider groups",
    "member.sso_role_change": "Member's role changed by identity-provider groups",
    "member.sso_revoke": "Member removed: no identity-provider group gives the role any more",
    "user.sso_create": "User created at the first single sign-on",
    "group_mapping.create": "Identity-provider group mapped",
    "group_mapping.change": "Identity-provider group mapping changed",
    "group_mapping.delete": "Identity-provider group mapping removed",
    "connection.create": "Connection added",
    "connection.verify": "Connection key checked",
    "connection.verify_failed": "Connection key check failed",
    "connection.enable": "Connection enabled",
    "connection.disable": "Connection disabled",
    "connection.delete": "Connection deleted",
    "connection.invalidated": "Connection stopped by Kolega",
    "sync.request": "Sync asked for",
    "history.prune": "Old history deleted",
    "scan.start": "Scan started",
    "finding.status_change": "Finding status changed",
    "finding_status_job.create": "Bulk status change started",
    "finding_status_job.finish": "Bulk status change finished",
    "finding_status_job.retry": "Bulk status change retried",
    "finding_status_job.undo": "Bulk status change undone",
    "saved_view.create": "View saved",
    "saved_view.delete": "View deleted",
    "fix.create": "Started a fix",
    "fix.cancel": "Cancelled a fix",
    "fix.refine": "Fix refined",
    "fix.comment": "Review comment",
    "approval.request": "Approval asked for",
    "approval.approve": "Fix approved",
    "approval.reject": "Fix rejected",
    "approval.void": "Approval voided",
    "approval_policy.update": "Approval policy changed",
    "pull_requests.open_requested": "Pull requests asked for",
    "pull_requests.opened": "Pull requests opened",
    "pull_requests.failed": "Opening pull requests failed",
    "pull_requests.unknown": "Pull request outcome unknown",
    "dismissal.request": "Dismissal asked for",
    "dismissal.approve": "Dismissal approved",
    "dismissal.reject": "Dismissal rejected",
    "dismissal.cancel": "Dismissal cancelled",
    "dismissal.expire": "Dismissal expired",
    "dismissal.applied": "Dismissal applied",
    "dismissal.failed": "Dismissal failed",
    "dismissal.reopened": "Dismissed findings reopened",
    "reports.sla_policy.update": "SLA policy changed",
    "team_policies.update": "Team policies changed",
    "audit.export": "Audit log exported",
    "squad.create": "Squad created",
    "squad.delete": "Squad deleted",
    "squad.member_add": "Member added to a squad",
    "squad.member_remove": "Member removed from a squad",
    "ownership_rule.create": "Ownership rule added",
    "ownership_rule.delete": "Ownership rule deleted",
    "ownership_rule.import": "CODEOWNERS imported",
    "ownership.evaluate": "Ownership rules applied",
    "finding.assign": "Finding assigned",
    "finding.unassign": "Finding unassigned",
    "notification_channel.create": "Notification channel added",
    "notification_channel.delete": "Notification channel deleted",
    "notification_channel.test": "Test message sent",
    "notification_rule.create": "Notification rule added",
    "notification_rule.delete": "Notification rule deleted",
    "notification_delivery.redeliver": "Notification redelivered",
}


def action_label(action: str) -> str:
    """The label of an action; one the portal does not know yet is made readable."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    return _humanize(action.replace(".", " "))


# -- sentences ---------------------------------------------------------------------------


def _humanize(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def _quoted(text) -> str:
    text = str(text or "").strip()
    return f": “{text}”" if text else ""


def _plural(count, one: str, many: str | None = None) -> str:
    try:
        number = int(count)
    except (TypeError, ValueError):
        number = 0
    return f"{number} {one if number == 1 else (many or one + 's')}"


def _status(value) -> str:
    return label_of(FindingStatus, value) or "unknown"


def _role(value) -> str:
    return label_of(Role, value) if value else ""


def _value(value) -> str:
    if value is None or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{_humanize(str(k))} {_value(v)}" for k, v in value.items())
    return str(value)


def key_value_sentence(details: dict) -> str:
    """Details the portal has no sentence for, as a readable list of names and values."""
    if not isinstance(details, dict):
        return _value(details)
    return "; ".join(f"{_humanize(str(key))}: {_value(value)}" for key, value in details.items())


def _status_change(d: dict) -> str:
    return f"Changed the status from {_status(d.get('from'))} to {_status(d.get('to'))}" + (
        _quoted(d.get("comment"))
    )


def _job_create(d: dict) -> str:
    return (
        f"Changed the status of {_plural(d.get('findings'), 'finding')} to "
        f"{_status(d.get('status'))}{_quoted(d.get('comment'))}"
    )


def _job_finish(d: dict) -> str:
    return (
        f"{_plural(d.get('changed'), 'finding')} changed, {d.get('unchanged', 0)} unchanged, "
        f"{d.get('failed', 0)} failed"
    )


def _decision(verb: str) -> Callable[[dict], str]:
    def sentence(d: dict) -> str:
        count = ""
        if verb == "Approved" and d.get("required"):
            count = f" ({d.get('approvals', 0)} of {d.get('required')} approvals)"
        return f"{verb}{count}{_quoted(d.get('comment'))}"

    return sentence


def _approval_policy(d: dict) -> str:
    parts = [f"Pull requests need {_plural(d.get('required_approvals'), 'approval')}"]
    parts.append(
        "admins may approve their own requests"
        if d.get("admins_may_self_approve")
        else "nobody approves their own requests"
    )
    parts.append(
        "dismissals need approval"
        if d.get("dismissals_require_approval")
        else "dismissals need no approval"
    )
    if "open_pull_requests_on_approval" in d:
        parts.append(
            "approving opens the pull requests"
            if d["open_pull_requests_on_approval"]
            else "pull requests are opened by a separate step after approval"
        )
    return "; ".join(parts)


def _sla_days(days) -> str:
    if not isinstance(days, dict):
        return _value(days)
    return ", ".join(
        f"{label_of(Severity, severity)} {_plural(value, 'day')}"
        for severity, value in days.items()
    )


def _sla_policy(d: dict) -> str:
    before, after = d.get("before") or {}, d.get("after") or {}
    if isinstance(before, dict) and isinstance(after, dict):
        changed = [
            f"{label_of(Severity, severity)} from {_plural(before.get(severity), 'day')} to "
            f"{_plural(value, 'day')}"
            for severity, value in after.items()
            if before.get(severity) != value
        ]
        if changed:
            return "Changed the days allowed: " + ", ".join(changed)
    return f"Days allowed: {_sla_days(after)}"


def _dismissal_request(d: dict) -> str:
    until = f" until {d['expires_on']}" if d.get("expires_on") else ""
    return (
        f"Asked to set {_plural(d.get('findings'), 'finding')} to {_status(d.get('status'))}"
        f"{until}{_quoted(d.get('reason'))}"
    )


def _scan_start(d: dict) -> str:
    scan = label_of(ScanType, d.get("scan_type")) or "A"
    return f"Started a {scan} scan of {d.get('repository') or 'a repository'}"


def _fix_create(d: dict) -> str:
    findings = d.get("findings")
    count = len(findings) if isinstance(findings, list) else findings
    branch = f" on branch {d['branch']}" if d.get("branch") else ""
    return f"Started a fix for {_plural(count, 'finding')}{branch}"


def _fix_refine(d: dict) -> str:
    voided = d.get("approvals_voided")
    tail = f"; {_plural(voided, 'approval')} voided" if voided else ""
    return f"Asked for changes{_quoted(d.get('instructions'))}{tail}"


def _pull_requests_opened(d: dict) -> str:
    urls = [url for url in d.get("pull_requests") or [] if url]
    return f"Opened {_plural(len(urls), 'pull request')}" + (f": {', '.join(urls)}" if urls else "")


def _invite(d: dict) -> str:
    return f"Invited {d.get('email', 'someone')} as {_role(d.get('role'))}"


def _role_change(d: dict) -> str:
    return f"Changed the role from {_role(d.get('previous_role'))} to {_role(d.get('role'))}"


def _history_prune(d: dict) -> str:
    parts = []
    if d.get("finding_events"):
        parts.append(
            f"{_plural(d['finding_events'], 'finding event')} older than"
            f" {d.get('events_retention_days')} days"
        )
    if d.get("sync_runs"):
        parts.append(
            f"{_plural(d['sync_runs'], 'sync run')} older than"
            f" {d.get('sync_runs_retention_days')} days"
        )
    return "Deleted " + (" and ".join(parts) or "nothing")


SENTENCES: dict[str, Callable[[dict], str]] = {
    "team.create": lambda d: "Created the team",
    "member.add": lambda d: (
        "Added to the team" + (f" as {_role(d['role'])}" if d.get("role") else "")
    ),
    "member.role_change": _role_change,
    "member.remove": lambda d: (
        "Removed from the team" + (f" (was {_role(d['role'])})" if d.get("role") else "")
    ),
    "member.invite": _invite,
    "member.invite_resend": lambda d: f"Sent the invitation to {d.get('email', 'someone')} again",
    "member.invite_revoke": lambda d: f"Revoked the invitation of {d.get('email', 'someone')}",
    "member.invite_accept": lambda d: (
        f"Joined as {_role(d.get('role'))} by the invitation sent to {d.get('email', '')}"
    ),
    "connection.create": lambda d: (
        f"Connected the organization {d.get('organization', '')} with the key "
        f"{d.get('key_prefix', '')}… at {d.get('base_url', '')}"
    ),
    "connection.verify": lambda d: "Kolega accepted the key",
    "connection.verify_failed": lambda d: f"Kolega refused the key{_quoted(d.get('reason'))}",
    "connection.enable": lambda d: "Enabled the connection",
    "connection.disable": lambda d: "Disabled the connection",
    "connection.delete": lambda d: f"Deleted the connection to {d.get('organization', '')}",
    "connection.invalidated": lambda d: f"Stopped using the connection{_quoted(d.get('reason'))}",
    "sync.request": lambda d: f"Asked for a {d.get('kind', '')} sync".replace("a  ", "a "),
    "history.prune": _history_prune,
    "scan.start": _scan_start,
    "finding.status_change": _status_change,
    "finding_status_job.create": _job_create,
    "finding_status_job.finish": _job_finish,
    "finding_status_job.retry": lambda d: f"Retried {_plural(d.get('findings'), 'finding')}",
    "finding_status_job.undo": lambda d: (
        f"Set {_plural(d.get('findings'), 'finding')} back to their previous status"
    ),
    "saved_view.create": lambda d: "Saved the view",
    "saved_view.delete": lambda d: "Deleted the view",
    "fix.create": _fix_create,
    "fix.cancel": lambda d: "Cancelled the fix",
    "fix.refine": _fix_refine,
    "fix.comment": lambda d: (
        f"{'Replied to a comment' if d.get('reply') else 'Commented'} on "
        f"{d.get('file', 'a file')} line {d.get('line', '?')}"
    ),
    "approval.request": lambda d: (
        f"Asked for approval to open pull requests{_quoted(d.get('note'))}"
    ),
    "approval.approve": _decision("Approved"),
    "approval.reject": _decision("Rejected"),
    "approval.void": lambda d: f"The approval no longer counts: {d.get('reason', 'diff changed')}",
    "approval_policy.update": _approval_policy,
    "team_policies.update": _approval_policy,
    "pull_requests.open_requested": lambda d: "Asked Kolega to open the pull requests",
    "pull_requests.opened": _pull_requests_opened,
    "pull_requests.failed": lambda d: (
        f"Kolega did not open the pull requests{_quoted(d.get('error'))}"
    ),
    "pull_requests.unknown": lambda d: "Kolega's answer was lost; the outcome is being looked up",
    "dismissal.request": _dismissal_request,
    "dismissal.approve": _decision("Approved"),
    "dismissal.reject": _decision("Rejected"),
    "dismissal.cancel": lambda d: "Cancelled the request",
    "dismissal.expire": lambda d: (
        f"Expired on {d.get('expires_on', '')}: reopening {_plural(d.get('reopening'), 'finding')}"
    ),
    "dismissal.applied": lambda d: f"Applied to {_plural(d.get('applied'), 'finding')}",
    "dismissal.failed": lambda d: f"Could not be applied ({d.get('failed', 0)} failed)",
    "dismissal.reopened": lambda d: f"Reopened {_plural(d.get('reopened'), 'finding')}",
    "reports.sla_policy.update": _sla_policy,
    "audit.export": lambda d: (
        "Exported the audit log as CSV"
        + (f" ({key_value_sentence(d['filters'])})" if d.get("filters") else "")
    ),
    "finding.assign": lambda d: (
        f"Assigned to {d['to']}" + (f" (was {d['from']})" if d.get("from") else "")
    ),
    "finding.unassign": lambda d: (
        f"Took the assignment to {d.get('from') or 'someone'} back: the rules decide the owner"
    ),
    "squad.member_add": lambda d: f"Added {d['member']} to the squad",
    "squad.member_remove": lambda d: f"Removed {d['member']} from the squad",
    "ownership_rule.create": lambda d: f"{d['pattern'] or d['repository']} → {d['owner']}",
    "ownership_rule.delete": lambda d: f"{d['pattern'] or d['repository']} → {d['owner']}",
    "ownership_rule.import": lambda d: f"Imported {_plural(d.get('rules'), 'rule')}",
    "notification_channel.create": lambda d: (
        f"{d.get('kind', '')} channel" + (f" to {d['address']}" if d.get("address") else "")
    ),
    "notification_channel.test": lambda d: (
        "The receiver took it"
        if d.get("ok")
        else "It was not delivered"
        + (f" (HTTP {d['status_code']})" if d.get("status_code") else "")
    ),
    "notification_rule.create": lambda d: (
        f"{d.get('event', '')} → {d.get('channel', '')}"
        + (f", {d['min_severity']} or worse" if d.get("min_severity") else "")
        + (f", in {', '.join(d['repositories'])}" if d.get("repositories") else "")
        + (f", {d['scan_type']} scans" if d.get("scan_type") else "")
        + (f", owned by {d['owner']}" if d.get("owner") else "")
        + (f", within {d['days']} days" if d.get("days") else "")
        + (f", below {d['threshold_percent']} %" if d.get("threshold_percent") else "")
    ),
    "ownership.evaluate": lambda d: (
        f"Applied the rules to {_plural(d.get('findings'), 'finding')}: "
        f"{d.get('changed', 0)} changed owner"
    ),
}


def details_sentence(action: str, details) -> str:
    """An entry's details in words; unknown actions (or details of an unexpected shape) fall
    back to a readable list of names and values."""
    details = details if isinstance(details, dict) else {}
    sentence = SENTENCES.get(action)
    if sentence is not None:
        try:
            return sentence(details)
        except (AttributeError, KeyError, TypeError, ValueError):
            pass
    return key_value_sentence(details)


# -- targets -----------------------------------------------------------------------------

TargetLink = Callable[[str, int], str]

# target_type (a model's name) → how to find it in the team and the URL of its page.
_TARGETS: dict[str, tuple[QuerySet | type, Callable[[str, int], str]]] = {
    "fix": (Fix, lambda slug, pk: reverse("fixes-detail", args=[slug, pk])),
    "finding": (Finding, lambda slug, pk: reverse("finding", args=[slug, pk])),
    "scanbatch": (ScanBatch, lambda slug, pk: reverse("scan-batch", args=[slug, pk])),
    "dismissalrequest": (
        DismissalRequest,
        lambda slug, pk: reverse("approvals-dismissal", args=[slug, pk]),
    ),
    "findingstatusjob": (
        FindingStatusJob,
        lambda slug, pk: reverse("findings-job", args=[slug, pk]),
    ),
    "kolegaconnection": (
        KolegaConnection,
        lambda slug, pk: reverse("settings-connections", args=[slug]),
    ),
    "membership": (Membership, lambda slug, pk: reverse("settings-members", args=[slug])),
    "invitation": (Invitation, lambda slug, pk: reverse("settings-members", args=[slug])),
}
_FIX_APPROVAL = "fixapproval"
_POLICIES = {"teamapprovalpolicy", "slapolicy"}


def _policies_url(slug: str, target_type: str) -> str:
    return reverse("settings-policies", args=[slug])


@dataclass(frozen=True)
class AuditEntry:
    event: AuditEvent
    action_label: str
    sentence: str
    target_label: str
    target_url: str  # empty when the target is gone or has no page

    @property
    def created_at(self):
        return self.event.created_at

    @property
    def actor_label(self) -> str:
        return self.event.actor_label


def _existing_targets(team: Team, events: list[AuditEvent]) -> dict[tuple[str, str], str]:
    """The URL of each target that still exists in ``team``: one query per target type."""
    wanted: dict[str, set[int]] = {}
    for event in events:
        if event.target_id.isdigit():
            wanted.setdefault(event.target_type, set()).add(int(event.target_id))
    urls: dict[tuple[str, str], str] = {}
    for target_type, ids in wanted.items():
        if target_type in _TARGETS:
            model, link = _TARGETS[target_type]
            for pk in model.objects.filter(team=team, pk__in=ids).values_list("pk", flat=True):
                urls[(target_type, str(pk))] = link(team.slug, pk)
        elif target_type == _FIX_APPROVAL:
            rows = FixApproval.objects.filter(team=team, pk__in=ids).values_list("pk", "fix_id")
            for pk, fix_id in rows:
                urls[(target_type, str(pk))] = reverse("fixes-detail", args=[team.slug, fix_id])
        elif target_type in _POLICIES:
            for pk in ids:
                urls[(target_type, str(pk))] = _policies_url(team.slug, target_type)
    return urls


def _target_label(event: AuditEvent) -> str:
    if event.target_label:
        return event.target_label
    return _humanize(event.target_type) if event.target_type else ""


def audit_entries(*, team: Team, events: Iterable[AuditEvent]) -> list[AuditEntry]:
    """A page of the team's events, ready to read."""
    events = list(events)
    urls = _existing_targets(team, events)
    return [
        AuditEntry(
            event=event,
            action_label=action_label(event.action),
            sentence=details_sentence(event.action, event.details),
            target_label=_target_label(event),
            target_url=urls.get((event.target_type, event.target_id), ""),
        )
        for event in events
    ]


def team_audit_events(*, team: Team) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(team=team).select_related("actor")


EXPORT_HEADER = ["when_utc", "actor", "action", "action_code", "target", "target_type", "details"]
EXPORT_CHUNK = 2000


def audit_export_rows(events: QuerySet[AuditEvent]) -> Iterable[tuple]:
    """The rows of the CSV export, oldest last as on the page, read in chunks."""
    for event in events.iterator(chunk_size=EXPORT_CHUNK):
        yield (
            event.created_at,
            event.actor_label,
            action_label(event.action),
            event.action,
            _target_label(event),
            event.target_type,
            details_sentence(event.action, event.details),
        )


def export_filename(team: Team, today: date) -> str:
    return f"{team.slug}-audit-log-{today:%Y%m%d}.csv"

"""What a notification says, in the shape each kind of channel reads.

Every event is first told as a `Message` (a title, a line of text, a link and the event's
data); the renderers turn it into a signed webhook's JSON body (schema version 1, documented
in README.md), a Slack Block Kit message, a Microsoft Teams Adaptive Card or an email.

The webhook signature is HMAC-SHA256 with the channel's secret over "<timestamp>.<body>",
sent as `X-Portal-Signature: v1=<hex>` with the timestamp in `X-Portal-Timestamp`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from triage.models import EventKind, Notification, Team
from triage.models.mirror import ScanType, label_of
from triage.models.notifications import SEVERITY_ORDER
from triage.sync.quota import QUOTA_LABELS

WEBHOOK_SCHEMA_VERSION = 1
SIGNATURE_HEADER = "X-Portal-Signature"
TIMESTAMP_HEADER = "X-Portal-Timestamp"
EVENT_HEADER = "X-Portal-Event"
ID_HEADER = "X-Portal-Notification-Id"


@dataclass(frozen=True)
class Message:
    event_kind: str
    title: str
    text: str
    url: str
    uid: str
    occurred_at: str
    team_slug: str
    team_name: str
    data: dict[str, Any] = field(default_factory=dict)
    facts: list[tuple[str, str]] = field(default_factory=list)


def team_url(team: Team, name: str, query: dict[str, Any] | None = None, **kwargs: Any) -> str:
    path = reverse(name, kwargs={"team_slug": team.slug, **kwargs})
    if query:
        path += "?" + urlencode(query, doseq=True)
    return f"{settings.PORTAL_BASE_URL}{path}"


def severity_counts_text(by_severity: dict[str, int]) -> str:
    """ "12 critical, 300 high" in the order of severity, zeros left out."""
    parts = [
        f"{by_severity[str(level)]:,} {level}"
        for level in SEVERITY_ORDER
        if by_severity.get(str(level))
    ]
    return ", ".join(parts)


def message_of(notification: Notification, team: Team) -> Message:
    """The message of a recorded notification, from the data it was recorded with."""
    data = notification.data
    kind = notification.event_kind
    common = {
        "event_kind": kind,
        "uid": str(notification.uid),
        "occurred_at": notification.created_at.isoformat(),
        "team_slug": team.slug,
        "team_name": team.name,
        "data": data,
    }
    if kind == EventKind.FINDINGS_NEW:
        total = data.get("total", 0)
        counts = severity_counts_text(data.get("by_severity", {}))
        title = f"{total:,} new finding{'s' if total != 1 else ''} in {team.name}"
        query = {"status": "open", "first_detected_after": data.get("since_date", "")}
        query.update(filters_query(data.get("filters") or {}))
        title += filters_text(data.get("filters") or {})
        return Message(
            title=title,
            text=f"{title}: {counts}." if counts else f"{title}.",
            url=team_url(team, "findings", {k: v for k, v in query.items() if v}),
            facts=[("Connection", data.get("connection", "")), ("By severity", counts or "—")],
            **common,
        )
    if kind in (EventKind.SCAN_FINISHED, EventKind.SCAN_FAILED):
        batch = data.get("scan_batch", {})
        verb = "failed" if kind == EventKind.SCAN_FAILED else "finished"
        title = (
            f"{batch.get('scan_type_label', 'Scan')} scan of {batch.get('repository', '')} {verb}"
        )
        found = batch.get("findings_count")
        text = f"{title} ({batch.get('status', '')})."
        if found is not None:
            text += f" {found:,} finding{'s' if found != 1 else ''} reported."
        if batch.get("error_message"):
            text += f" {batch['error_message']}"
        return Message(
            title=title,
            text=text,
            url=team_url(team, "scans") if not batch.get("pk") else batch_url(team, batch["pk"]),
            facts=[
                ("Repository", batch.get("repository", "")),
                ("Status", batch.get("status", "")),
            ],
            **common,
        )
    if kind in (EventKind.SYNC_FAILING, EventKind.KEY_REJECTED):
        return connection_message(kind, data, team, common)
    if kind == EventKind.FIX_READY:
        fix = data.get("fix", {})
        title = f"Fix ready for review: {fix.get('title', '')}"
        found = fix.get("findings_count", 0)
        return Message(
            title=title,
            text=(
                f"A fix of {found} finding{'s' if found != 1 else ''} in"
                f" {fix.get('repository', '')} has a diff to review."
            ),
            url=team_url(team, "fixes-detail", fix_id=fix.get("pk", 0)),
            facts=[("Repository", fix.get("repository", "")), ("Findings", str(found))],
            **common,
        )
    if kind in (EventKind.APPROVAL_REQUESTED, EventKind.APPROVAL_DECIDED):
        return approval_message(kind, data, team, common)
    if kind in PULL_REQUEST_VERBS:
        return pull_request_message(kind, data, team, common)
    if kind in (EventKind.SLA_DUE_SOON, EventKind.SLA_BREACHED):
        return sla_message(kind, data, team, common)
    if kind in (EventKind.DISMISSAL_EXPIRING, EventKind.DISMISSAL_EXPIRED):
        return dismissal_message(kind, data, team, common)
    if kind == EventKind.QUOTA_LOW:
        return quota_message(data, team, common)
    return Message(title=kind, text=kind, url=team_url(team, "dashboard"), **common)


def connection_message(
    kind: str, data: dict[str, Any], team: Team, common: dict[str, Any]
) -> Message:
    """A connection whose syncs keep failing, or whose key Kolega rejected."""
    name = data.get("connection", {}).get("name", "")
    last_success = data.get("last_success_at") or ""
    last_good = f"{last_success[:16].replace('T', ' ')} UTC" if last_success else "never"
    if kind == EventKind.KEY_REJECTED:
        title = f"Kolega rejected the key of the connection {name}"
        text = (
            f"{title}. Its syncs are stopped until a team admin enters a new API key."
            f" {data.get('reason', '')}"
        ).strip()
        facts = [("Connection", name), ("Last good sync", last_good)]
    else:
        failures = data.get("failures", 0)
        title = f"Syncs of the connection {name} are failing"
        text = f"{failures} syncs in a row failed; the last good sync: {last_good}."
        if data.get("error"):
            text += f" {data['error']}"
        facts = [
            ("Connection", name),
            ("Failed in a row", str(failures)),
            ("Last good sync", last_good),
        ]
    return Message(
        title=title,
        text=text,
        url=team_url(team, "settings-connections"),
        facts=facts,
        **common,
    )


def approval_message(
    kind: str, data: dict[str, Any], team: Team, common: dict[str, Any]
) -> Message:
    """A fix's approval asked for, or settled."""
    approval = data.get("approval", {})
    fix_title = data.get("fix", {}).get("title", "")
    if kind == EventKind.APPROVAL_DECIDED:
        decision = data.get("decision", {})
        status = approval.get("status", "")
        title = f"Fix {status}: {fix_title}"
        text = f"{decision.get('by', '')} {status} opening pull requests for “{fix_title}”."
        if decision.get("comment"):
            text += f" “{decision['comment']}”"
        facts = [("Decision", status), ("Decided by", decision.get("by", ""))]
    else:
        title = f"Approval requested: {fix_title}"
        text = (
            f"{approval.get('requested_by', '')} asks to open pull requests for “{fix_title}”;"
            f" {approval.get('required_approvals', 1)} approval(s) needed."
        )
        if approval.get("note"):
            text += f" “{approval['note']}”"
        facts = [
            ("Requested by", approval.get("requested_by", "")),
            ("Approvals needed", str(approval.get("required_approvals", 1))),
        ]
    return Message(title=title, text=text, url=team_url(team, "approvals"), facts=facts, **common)


def filters_query(filters: dict[str, Any]) -> dict[str, Any]:
    """The findings page's filters for a summary's rule filters (one repository at most: the
    page filters by one)."""
    query: dict[str, Any] = {}
    if len(filters.get("repository_ids") or []) == 1:
        query["repository"] = filters["repository_ids"][0]
    if filters.get("scan_type"):
        query["scan_type"] = filters["scan_type"]
    if filters.get("squad_id"):
        query["squad"] = filters["squad_id"]
    if filters.get("member_id"):
        query["owner"] = filters["member_id"]
    if filters.get("min_severity"):
        order = [str(level) for level in SEVERITY_ORDER]
        if filters["min_severity"] in order:
            query["severity"] = order[: order.index(filters["min_severity"]) + 1]
    return query


def filters_text(filters: dict[str, Any]) -> str:
    """ " (repository api, owner @web)": what a filtered summary counts."""
    parts = []
    if filters.get("repositories"):
        names = filters["repositories"]
        parts.append(f"repositor{'y' if len(names) == 1 else 'ies'} {', '.join(names)}")
    if filters.get("scan_type"):
        parts.append(f"{label_of(ScanType, filters['scan_type'])} scans")
    if filters.get("owner"):
        parts.append(f"owner {filters['owner']}")
    if filters.get("min_severity"):
        parts.append(f"{filters['min_severity']} or worse")
    return f" ({', '.join(parts)})" if parts else ""


PULL_REQUEST_VERBS = {
    EventKind.PULL_REQUEST_OPENED: "opened",
    EventKind.PULL_REQUEST_MERGED: "merged",
    EventKind.PULL_REQUEST_CLOSED: "closed without merging",
}


def pull_request_message(
    kind: str, data: dict[str, Any], team: Team, common: dict[str, Any]
) -> Message:
    """A fix's pull request opened, merged or closed."""
    pr = data.get("pull_request", {})
    fix = data.get("fix", {})
    name = f"{pr.get('repo_full_name', '')}#{pr.get('number', '')}"
    title = f"Pull request {PULL_REQUEST_VERBS[kind]}: {name}"
    return Message(
        title=title,
        text=f"{title}, of the fix “{fix.get('title', '')}”. {pr.get('url', '')}".strip(),
        url=team_url(team, "fixes-detail", fix_id=fix.get("pk", 0)),
        facts=[
            ("Pull request", pr.get("url", "")),
            ("Repository", fix.get("repository", "")),
            ("Branch", pr.get("branch", "")),
        ],
        **common,
    )


def sla_message(kind: str, data: dict[str, Any], team: Team, common: dict[str, Any]) -> Message:
    """The day's summary of findings past their SLA, or falling due within the rule's days."""
    total = data.get("total", 0)
    counts = severity_counts_text(data.get("by_severity", {}))
    findings = f"{total:,} finding{'s' if total != 1 else ''}"
    if kind == EventKind.SLA_BREACHED:
        title = f"{findings} past their SLA in {team.name}"
    else:
        days = data.get("days") or 0
        title = f"{findings} reach their SLA within {days} day{'s' if days != 1 else ''}"
        title += f" in {team.name}"
    title += filters_text(data.get("filters") or {})
    listed = [
        f"{item.get('severity', '')}: {item.get('title', '')} ({item.get('repository', '')},"
        f" due {str(item.get('sla_due_at', ''))[:10]})"
        for item in data.get("first", [])
    ]
    text = f"{title}: {counts}." if counts else f"{title}."
    if listed:
        text += " First due: " + "; ".join(listed) + "."
    query = {"status": "open", "sort": "sla", **filters_query(data.get("filters") or {})}
    return Message(
        title=title,
        text=text,
        url=team_url(team, "findings", query),
        facts=[("By severity", counts or "—"), ("Day", data.get("day", ""))],
        **common,
    )


def dismissal_message(
    kind: str, data: dict[str, Any], team: Team, common: dict[str, Any]
) -> Message:
    """A dismissal whose expiry date is near, or has come (its findings are reopened)."""
    dismissal = data.get("dismissal", {})
    count = dismissal.get("findings_count", 0)
    findings = f"{count:,} finding{'s' if count != 1 else ''}"
    expires_on = dismissal.get("expires_on") or ""
    if kind == EventKind.DISMISSAL_EXPIRED:
        title = f"Dismissal #{dismissal.get('pk', '')} expired: {findings} reopened"
        reopening = data.get("reopening", 0)
        text = (
            f"The dismissal of {findings} expired on {expires_on};"
            f" {reopening:,} still ignored are being set back to open."
        )
    else:
        days_left = data.get("days_left", 0)
        title = (
            f"Dismissal #{dismissal.get('pk', '')} expires in {days_left}"
            f" day{'s' if days_left != 1 else ''}"
        )
        text = (
            f"The dismissal of {findings} expires on {expires_on}; they are reopened then"
            " unless it is renewed."
        )
    if dismissal.get("reason"):
        text += f" Reason: “{dismissal['reason']}”"
    return Message(
        title=title,
        text=text,
        url=team_url(team, "approvals-dismissal", dismissal_id=dismissal.get("pk", 0)),
        facts=[
            ("Findings", str(count)),
            ("Expires on", expires_on),
            ("Requested by", dismissal.get("requested_by", "")),
        ],
        **common,
    )


def quota_message(data: dict[str, Any], team: Team, common: dict[str, Any]) -> Message:
    """A quota counter whose remaining share fell below a rule's threshold."""
    label = QUOTA_LABELS.get(data.get("counter", ""), data.get("counter", ""))
    remaining, size = data.get("remaining", 0), data.get("size", 0)
    title = f"Quota of {label} below {data.get('threshold_percent', '')} %: {remaining:,} left"
    period_end = str(data.get("period_end") or "")[:10]
    return Message(
        title=title,
        text=(
            f"{remaining:,} of {size:,} {label} remain ({data.get('remaining_percent', 0)} %)"
            f" for the period ending {period_end or 'soon'}."
        ),
        url=team_url(team, "dashboard"),
        facts=[
            ("Connection", data.get("connection", {}).get("name", "")),
            ("Remaining", f"{remaining:,} of {size:,}"),
            ("Period ends", period_end),
        ],
        **common,
    )


def batch_url(team: Team, batch_pk: int) -> str:
    path = reverse("scan-batch", kwargs={"team_slug": team.slug, "batch_id": batch_pk})
    return f"{settings.PORTAL_BASE_URL}{path}"


def trial_message(team: Team) -> Message:
    """What "Send a test message" sends."""
    return Message(
        event_kind="test",
        title=f"Test message from the Triage Portal ({team.name})",
        text="This channel is set up: notifications of the rules you choose will arrive here.",
        url=team_url(team, "settings-notifications"),
        uid="00000000-0000-0000-0000-000000000000",
        occurred_at="",
        team_slug=team.slug,
        team_name=team.name,
    )


# Renderers


def webhook_body(message: Message) -> dict[str, Any]:
    """The signed webhook's JSON body, schema version 1 (README.md, "Notification webhooks")."""
    return {
        "schema_version": WEBHOOK_SCHEMA_VERSION,
        "id": message.uid,
        "event": message.event_kind,
        "occurred_at": message.occurred_at,
        "team": {"slug": message.team_slug, "name": message.team_name},
        "title": message.title,
        "text": message.text,
        "url": message.url,
        "data": message.data,
    }


def slack_body(message: Message) -> dict[str, Any]:
    """A Slack incoming-webhook message with Block Kit blocks and a plain-text fallback."""
    fields = [
        {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)}"}
        for name, value in message.facts
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": message.title[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(message.text)}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in the Triage Portal"},
                    "url": message.url,
                }
            ],
        }
    )
    return {"text": message.text, "blocks": blocks}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams_body(message: Message) -> dict[str, Any]:
    """A Microsoft Teams workflow-webhook message carrying one Adaptive Card (version 1.4)."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": message.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "TextBlock", "text": message.text, "wrap": True},
            {
                "type": "FactSet",
                "facts": [{"title": name, "value": value} for name, value in message.facts],
            },
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "Open in the Triage Portal", "url": message.url}
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def email_text(message: Message) -> tuple[str, str]:
    """The subject and plain-text body of the email of a message."""
    lines = [message.text, ""]
    lines += [f"{name}: {value}" for name, value in message.facts]
    lines += ["", f"Open in the Triage Portal: {message.url}", ""]
    return f"[{message.team_name}] {message.title}", "\n".join(lines)


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The value of `X-Portal-Signature`: "v1=" and the hex HMAC-SHA256 of
    "<timestamp>.<body>" keyed with the channel's secret."""
    signed = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()

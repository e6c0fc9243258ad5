"""Pull requests opened (by the portal's own opening too), merged and closed, and a quota
counter falling below a rule's threshold: told once each, on every kind of channel, however
often a sync sees them again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.triage.fixes.conftest import (  # noqa: F401  (shared fixtures)
    completed_fix,
    connection,
    open_findings,
    queued,
    start_fix,
)
from tests.triage.notifications.conftest import (
    CHANNEL_KINDS,
    deliver_pending,
    receiver_bodies,
    told_once_everywhere,
)
from triage.models import EventKind, Notification, PullRequest, SyncRun, SyncState
from triage.services.approvals import approval_decide, approval_request, pull_request_opening_send
from triage.sync import sync_connection_full, sync_connection_incremental
from triage.sync.quota import READING_INTERVAL

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pull_requests_open_on_approval")]


@pytest.fixture
def channels_for(channel_of, smtp_server):
    """One channel of each kind, with rules for `events` only."""
    return lambda *events: {kind: channel_of(kind, events=events) for kind in CHANNEL_KINDS}


@pytest.fixture
def open_pr(completed_fix, triager, approver, queued, django_capture_on_commit_callbacks):  # noqa: F811
    """``open_pr()`` approves the completed fix and opens its pull request, as the portal does."""

    def open_it() -> PullRequest:
        with django_capture_on_commit_callbacks(execute=True):
            approval = approval_request(fix=completed_fix, actor=triager, note="ok")
            approval_decide(approval=approval, actor=approver, approve=True, comment="ok")
        pull_request_opening_send(opening_id=queued[0])
        return PullRequest.objects.get(fix=completed_fix)

    return open_it


def test_a_pull_request_the_portal_opens_is_told_once_on_every_kind_of_channel(
    open_pr,
    completed_fix,  # noqa: F811
    connection,  # noqa: F811
    channels_for,
    http_receiver,
    smtp_server,
):
    channels_for(EventKind.PULL_REQUEST_OPENED)
    pr = open_pr()
    # The next syncs see the same open pull request: nothing new.
    sync_connection_full(connection=connection)
    sync_connection_incremental(connection=connection)

    name = f"{pr.repo_full_name}#{pr.pr_number}"
    title = f"Pull request opened: {name}"
    webhook, slack, teams = told_once_everywhere(
        http_receiver, "pull_request.opened", f"pull-request:{pr.pk}:open", title
    )
    assert webhook["data"]["pull_request"]["url"] == pr.pr_url
    assert webhook["url"].endswith(f"/t/blue/fixes/{completed_fix.pk}/")
    assert completed_fix.title in slack["text"]
    card = teams["attachments"][0]["content"]
    assert {"title": "Pull request", "value": pr.pr_url} in card["body"][2]["facts"]
    mail = [m for m in smtp_server.wait_for(1) if m["Subject"] == f"[Blue Team] {title}"]
    assert len(mail) == 1
    assert pr.pr_url in mail[0].get_body().get_content()


@pytest.mark.parametrize(
    ("change", "kind", "verb"),
    [
        ("pull_request_merge", "pull_request.merged", "merged"),
        ("pull_request_close", "pull_request.closed", "closed without merging"),
    ],
)
def test_a_merge_or_close_seen_by_a_sync_is_told_once(
    change,
    kind,
    verb,
    open_pr,
    connection,  # noqa: F811
    channels_for,
    http_receiver,
    smtp_server,
):
    from sandbox.models import PullRequest as SandboxPullRequest
    from sandbox.services import fixes as sandbox_fixes

    pr = open_pr()
    channels_for(EventKind(kind))
    getattr(sandbox_fixes, change)(pull_request=SandboxPullRequest.objects.get())

    sync_connection_full(connection=connection)
    sync_connection_full(connection=connection)  # sees it merged (closed) again

    title = f"Pull request {verb}: {pr.repo_full_name}#{pr.pr_number}"
    status = kind.split(".")[1]
    webhook, _, _ = told_once_everywhere(
        http_receiver, kind, f"pull-request:{pr.pk}:{status}", title
    )
    assert webhook["data"]["pull_request"]["status"] == status
    # The approvers' own email of the request came first.
    subjects = [m["Subject"] for m in smtp_server.wait_for(2)]
    assert subjects.count(f"[Blue Team] {title}") == 1


def test_pull_requests_on_a_connections_first_sync_are_history(
    open_pr,
    connection,  # noqa: F811
    channel_of,
):
    """A connection that never synced sees pull requests that exist already: it tells none."""
    open_pr()
    PullRequest.objects.all().delete()
    SyncState.objects.filter(connection=connection).update(last_success_at=None)
    channel_of("webhook", events=[EventKind.PULL_REQUEST_OPENED])
    sync_connection_full(connection=connection)
    assert PullRequest.objects.exists()
    assert not Notification.objects.filter(event_kind__startswith="pull_request.").exists()


def _low_quota(demo_org, counter: str, remaining: int) -> None:
    """Set the sandbox organization's plan so `remaining` of `counter` is left."""
    from sandbox.models import Organization
    from sandbox.services.quotas import quota_counter

    organization = Organization.objects.get(pk=demo_org[0].pk)
    used = quota_counter(organization=organization, counter=counter).used
    Organization.objects.filter(pk=organization.pk).update(
        **{f"{counter}_plan": used + remaining, f"{counter}_topup": 0}
    )


def _sync_with_reading(connection):  # noqa: F811
    SyncRun.objects.filter(connection=connection).update(
        created_at=timezone.now() - READING_INTERVAL - timedelta(seconds=1)
    )
    run = sync_connection_incremental(connection=connection)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert "quota" in run.details
    return run


def test_a_quota_below_the_threshold_is_told_once_a_period_on_every_kind_of_channel(
    connection,  # noqa: F811
    demo_org,
    channels_for,
    http_receiver,
    smtp_server,
):
    channels_for(EventKind.QUOTA_LOW)  # the default threshold: 10 %
    Notification.objects.all().delete()
    _low_quota(demo_org, "sast_scans", 40)
    _sync_with_reading(connection)
    assert not Notification.objects.exists()  # plenty left

    _low_quota(demo_org, "sast_scans", 1)
    run = _sync_with_reading(connection)
    _sync_with_reading(connection)  # read again in the same period: told already

    balance = run.details["quota"]["balance"]
    size = balance["sast_scans"]["plan"]
    key = f"quota:{connection.pk}:sast_scans:{balance['period_start']}:below-10"
    title = "Quota of SAST scans below 10 %: 1 left"
    webhook, slack, teams = told_once_everywhere(http_receiver, "quota.low", key, title)
    assert webhook["data"]["remaining"] == 1 and webhook["data"]["size"] == size
    assert f"1 of {size:,} SAST scans remain" in slack["text"]
    card = teams["attachments"][0]["content"]
    assert {"title": "Remaining", "value": f"1 of {size:,}"} in card["body"][2]["facts"]
    assert [m["Subject"] for m in smtp_server.wait_for(1)] == [f"[Blue Team] {title}"]


def test_each_rule_is_told_when_its_own_threshold_is_crossed(
    team,
    connection,  # noqa: F811
    demo_org,
    channel_of,
    admin_user,
    http_receiver,
):
    from triage.services import notifications as services

    early = channel_of("webhook", events=[])
    late = channel_of("slack", events=[])
    for channel, threshold in ((early, 50), (late, 5)):
        services.rule_create(
            team=team,
            actor=admin_user,
            channel_id=channel.pk,
            event_kind=EventKind.QUOTA_LOW,
            threshold_percent=threshold,
        )
    Notification.objects.all().delete()
    _low_quota(demo_org, "sast_scans", 3)  # 3 of 15 (12 used): 20 %, below 50 only
    _sync_with_reading(connection)
    key = Notification.objects.get().dedupe_key
    assert key.startswith(f"quota:{connection.pk}:sast_scans:") and key.endswith(":below-50")
    assert deliver_pending() == ["delivered"]
    assert "schema_version" in receiver_bodies(http_receiver)[0]

"""The wired events, end to end: a scan batch that finishes or fails, and the new findings of
a sync as one summary per channel, on every kind of channel."""

import pytest

from sandbox.services.scale import organization_scale_create
from tests.conftest import sandbox_connection
from tests.mirror_rows import scan_started
from tests.triage.notifications.conftest import (
    CHANNEL_KINDS,
    SECRET,
    deliver_pending,
    delivered_everywhere,
    receiver_bodies,
    verify_signature,
)
from triage.models import Delivery, EventKind, Notification, ScanBatch
from triage.sync import (
    rows,
    scan_batch_track_step,
    sync_connection_full,
    sync_connection_incremental,
)

pytestmark = pytest.mark.django_db


def _scan_started(connection, upstream):
    repository, _, batch = scan_started(connection, upstream)
    # The first sync's findings are summarised too (tested below); the scan is what is
    # looked at here. Old, finished batches the sync saw are history, not news.
    assert not Notification.objects.exclude(event_kind=EventKind.FINDINGS_NEW).exists()
    Notification.objects.all().delete()
    return repository, batch


def test_a_finished_scan_is_told_once_on_every_kind_of_channel(
    connection, upstream, sandbox_clock, every_channel, http_receiver, smtp_server
):
    repository, batch = _scan_started(connection, upstream)

    sandbox_clock.advance(600)
    assert scan_batch_track_step(batch=batch) is True
    # Tracking again and syncing again see the same finished batch: nothing new is recorded.
    scan_batch_track_step(batch=ScanBatch.objects.get(pk=batch.pk))
    sync_connection_incremental(connection=connection)

    notification = Notification.objects.get(event_kind=EventKind.SCAN_FINISHED)
    assert Delivery.objects.filter(notification=notification).count() == len(CHANNEL_KINDS)
    bodies = delivered_everywhere(http_receiver)
    webhook, slack, teams = bodies["webhook"], bodies["slack"], bodies["teams"]
    assert webhook["event"] == "scan.finished"
    assert webhook["data"]["scan_batch"]["repository"] == repository.name
    assert webhook["url"].endswith(f"/t/blue/scans/{batch.pk}/")
    assert "scan of" in slack["text"] and "finished" in slack["text"]
    card = teams["attachments"][0]["content"]
    assert "finished" in card["body"][0]["text"]
    mail = smtp_server.wait_for(1)
    assert len(mail) == 1
    assert "finished" in mail[0]["Subject"]
    assert "/t/blue/scans/" in mail[0].get_body().get_content()


def test_a_failed_scan_is_told_as_failed(connection, upstream, sandbox_clock, every_channel):
    repository, batch = _scan_started(connection, upstream)
    sandbox_clock.advance(600)
    progress = upstream.get_scan_progress(repository_id=repository.id, scan_id=batch.upstream_id)
    failed = progress.model_copy(update={"status": "failed", "error_message": "Clone failed"})

    rows.scan_progress_store(batch=batch, progress=failed)
    rows.scan_progress_store(batch=batch, progress=failed)

    notification = Notification.objects.get()
    assert notification.event_kind == EventKind.SCAN_FAILED
    assert notification.data["scan_batch"]["error_message"] == "Clone failed"
    assert sorted(deliver_pending()) == ["delivered"] * len(CHANNEL_KINDS)


def test_a_rule_for_finished_scans_does_not_get_failed_ones(
    connection, upstream, sandbox_clock, channel_of
):
    channel_of("slack", events=[EventKind.SCAN_FINISHED])
    repository, batch = _scan_started(connection, upstream)
    progress = upstream.get_scan_progress(repository_id=repository.id, scan_id=batch.upstream_id)
    rows.scan_progress_store(batch=batch, progress=progress.model_copy(update={"status": "failed"}))
    assert not Notification.objects.exists()


@pytest.fixture
def org_of_5000(db, sandbox_clock, sandbox_transport):
    return organization_scale_create(repositories=3, findings=5000, seed=7)


def test_5000_new_findings_in_one_sync_give_one_summary_per_channel(
    team, org_of_5000, every_channel, http_receiver, smtp_server
):
    connection = sandbox_connection(team, org_of_5000.organization, org_of_5000.api_key)

    run = sync_connection_full(connection=connection)
    assert run.status == "succeeded", run.error
    again = sync_connection_full(connection=connection)
    assert again.status == "succeeded"

    notification = Notification.objects.get(event_kind=EventKind.FINDINGS_NEW)
    assert notification.data["total"] == 5000
    assert sum(notification.data["by_severity"].values()) == 5000
    assert notification.severity == "critical"
    assert sorted(deliver_pending()) == ["delivered"] * len(CHANNEL_KINDS)

    bodies = receiver_bodies(http_receiver)
    assert len(bodies) == 3
    webhook = next(body for body in bodies if "schema_version" in body)
    assert webhook["title"] == "5,000 new findings in Blue Team"
    critical = notification.data["by_severity"]["critical"]
    assert f"{critical:,} critical" in webhook["text"]
    assert "/t/blue/findings/?status=open&first_detected_after=" in webhook["url"]
    slack = next(body for body in bodies if "blocks" in body)
    assert slack["text"].startswith("5,000 new findings in Blue Team:")
    assert len(smtp_server.wait_for(1)) == 1


def test_a_minimum_severity_holds_back_a_summary_without_such_findings(
    team, org_of_5000, channel_of
):
    channel_of("webhook", events=[EventKind.FINDINGS_NEW], min_severity="critical")
    by_severity = {"high": 3, "low": 1}
    from collections import Counter

    from triage.sync.notifications import findings_new_summary

    findings_new_summary(
        team_id=team.pk,
        run_pk=1,
        connection_name="x",
        by_severity=Counter(by_severity),
        since_date="2026-01-01",
    )
    assert not Notification.objects.exists()
    findings_new_summary(
        team_id=team.pk,
        run_pk=2,
        connection_name="x",
        by_severity=Counter({**by_severity, "critical": 1}),
        since_date="2026-01-01",
    )
    assert Notification.objects.get().severity == "critical"


def test_the_webhook_of_an_event_is_signed(
    connection, upstream, sandbox_clock, channel_of, http_receiver
):
    channel_of("webhook")
    _, batch = _scan_started(connection, upstream)
    sandbox_clock.advance(600)
    scan_batch_track_step(batch=batch)
    deliver_pending()
    (request,) = http_receiver.requests
    assert request.headers["x-portal-event"] == "scan.finished"
    assert verify_signature(SECRET, request.headers, request.body)

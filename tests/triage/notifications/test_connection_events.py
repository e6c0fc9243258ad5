"""A connection whose syncs keep failing and a key Kolega rejected: told once per failure
streak on every kind of channel, however many runs, retries and tracking steps fail."""

import json

import httpx
import pytest

from tests.triage.notifications.conftest import (
    SECRET,
    delivered_everywhere,
    verify_signature,
)
from triage.clients import override_transport
from triage.kolega import iter_all
from triage.models import EventKind, KolegaConnection, Notification, SyncRun
from triage.sync import (
    TrackingStopped,
    scan_batch_mirror,
    scan_batch_track_step,
    sync_connection_full,
    sync_connection_incremental,
)

pytestmark = pytest.mark.django_db


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def _fail_syncs(connection, times: int) -> None:
    with override_transport(httpx.MockTransport(_refuse)):
        for _ in range(times):
            run = sync_connection_incremental(connection=connection)
            assert run.status == SyncRun.Status.FAILED and run.error_kind == "unavailable"


def test_a_failing_sync_is_told_once_per_streak_on_every_kind_of_channel(
    connection, every_channel, http_receiver, smtp_server
):
    _fail_syncs(connection, 2)
    assert not Notification.objects.exists()  # two failures may be a passing outage

    _fail_syncs(connection, 4)  # the third tells; the rest of the streak adds nothing

    notification = Notification.objects.get()
    assert notification.event_kind == EventKind.SYNC_FAILING
    assert notification.data["failures"] == 3
    assert notification.data["last_success_at"] is None
    bodies = delivered_everywhere(http_receiver)
    webhook, slack, teams = bodies["webhook"], bodies["slack"], bodies["teams"]
    assert webhook["event"] == "sync.failing"
    assert webhook["title"] == f"Syncs of the connection {connection.name} are failing"
    assert webhook["text"].startswith("3 syncs in a row failed; the last good sync: never.")
    assert "Could not reach the address." in webhook["text"]
    assert webhook["data"]["connection"] == {"pk": connection.pk, "name": connection.name}
    assert webhook["url"].endswith("/t/blue/settings/connections/")
    request = next(r for r in http_receiver.requests if "schema_version" in json.loads(r.body))
    assert verify_signature(SECRET, request.headers, request.body)
    assert slack["blocks"][0]["text"]["text"] == webhook["title"]
    assert "*Failed in a row*\n3" in json.dumps(slack["blocks"][2], ensure_ascii=False).replace(
        "\\n", "\n"
    )
    card = teams["attachments"][0]["content"]
    assert card["body"][0]["text"] == webhook["title"]
    assert {"title": "Failed in a row", "value": "3"} in card["body"][2]["facts"]
    mail = smtp_server.wait_for(1)
    assert len(mail) == 1
    assert mail[0]["Subject"] == f"[Blue Team] {webhook['title']}"
    assert "/t/blue/settings/connections/" in mail[0].get_body().get_content()


def test_a_good_sync_ends_the_streak_and_the_next_streak_is_told_again(connection, channel_of):
    channel_of("webhook", events=[EventKind.SYNC_FAILING])
    _fail_syncs(connection, 3)
    assert sync_connection_full(connection=connection).status == SyncRun.Status.SUCCEEDED

    _fail_syncs(connection, 5)

    first, second = Notification.objects.order_by("id")
    assert first.data["last_success_at"] is None
    assert second.data["last_success_at"] is not None
    assert second.dedupe_key != first.dedupe_key


def test_a_rejected_key_is_told_once_on_every_kind_of_channel(
    connection, upstream, demo_org, every_channel, http_receiver, smtp_server
):
    from sandbox.services.organizations import api_key_revoke

    assert sync_connection_full(connection=connection).status == SyncRun.Status.SUCCEEDED
    repository = next(iter_all(upstream.list_repositories))
    started = upstream.create_scan(repository_id=repository.id, scan_type="semgrep_scan")
    batch = scan_batch_mirror(connection=connection, batch=started)
    Notification.objects.all().delete()
    api_key_revoke(organization=demo_org[0], key_prefix="kcp_")

    run = sync_connection_incremental(connection=connection)
    assert run.status == SyncRun.Status.FAILED and run.error_kind == "auth"
    # A tracking step that meets the same 401 in the same streak records nothing more.
    KolegaConnection.objects.filter(pk=connection.pk).update(state=KolegaConnection.State.ACTIVE)
    with pytest.raises(TrackingStopped):
        scan_batch_track_step(batch=batch)

    notification = Notification.objects.get()
    assert notification.event_kind == EventKind.KEY_REJECTED
    assert notification.data["last_success_at"] is not None
    bodies = delivered_everywhere(http_receiver)
    webhook, slack, teams = bodies["webhook"], bodies["slack"], bodies["teams"]
    title = f"Kolega rejected the key of the connection {connection.name}"
    assert webhook["event"] == "connection.key_rejected"
    assert webhook["title"] == title
    assert "until a team admin enters a new API key" in webhook["text"]
    assert "HTTP 401" in webhook["text"]
    assert slack["text"] == webhook["text"]
    assert teams["attachments"][0]["content"]["body"][0]["text"] == title
    mail = smtp_server.wait_for(1)
    assert len(mail) == 1 and mail[0]["Subject"] == f"[Blue Team] {title}"
    assert "Last good sync: " in mail[0].get_body().get_content()


def test_a_rule_for_failing_syncs_does_not_get_rejected_keys(connection, demo_org, channel_of):
    from sandbox.services.organizations import api_key_revoke

    channel_of("slack", events=[EventKind.SYNC_FAILING])
    api_key_revoke(organization=demo_org[0], key_prefix="kcp_")
    sync_connection_full(connection=connection)
    assert not Notification.objects.exists()

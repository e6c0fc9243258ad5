import pytest

from triage.models import AuditEvent, KolegaConnection, Role, SyncRun
from triage.sync import sync_connection_full

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Tasks the view queued, instead of sending them to a broker."""
    from triage import tasks

    sent = []
    monkeypatch.setattr(tasks.sync_connection, "delay", lambda *args: sent.append(args))
    return sent


def test_sync_page_shows_last_success_lag_and_errors(connection, member, client_as):
    sync_connection_full(connection=connection)
    viewer = member(Role.VIEWER)

    response = client_as(viewer).get(f"/t/{connection.team.slug}/settings/sync/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Mirror health" in body and "Acme" in body
    assert "Last success" in body and "never" not in body
    assert "Sync now" not in body  # viewers cannot start one


def test_an_invalid_connection_shows_a_banner_saying_what_to_do(connection, member, client_as):
    KolegaConnection.objects.filter(pk=connection.pk).update(
        state=KolegaConnection.State.INVALID, state_reason="Kolega rejected the API key"
    )
    response = client_as(member(Role.VIEWER)).get(f"/t/{connection.team.slug}/settings/sync/")

    assert "rejects this connection's key" in response.content.decode()


def test_sync_now_queues_a_run_and_its_fragment_polls_until_done(
    connection, member, client_as, queued, django_capture_on_commit_callbacks
):
    admin = client_as(member(Role.ADMIN))
    url = f"/t/{connection.team.slug}/settings/sync/"

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin.post(
            url, {"connection": connection.pk, "kind": "incremental"}, HTTP_HX_REQUEST="true"
        )

    assert len(callbacks) == 1  # the task is queued only once the run is committed

    run = SyncRun.objects.get(connection=connection)
    assert run.status == SyncRun.Status.QUEUED and run.trigger == SyncRun.Trigger.MANUAL
    assert queued == [(connection.pk, SyncRun.Kind.INCREMENTAL, run.pk)]
    assert 'hx-trigger="every 2s"' in response.content.decode()
    assert AuditEvent.objects.filter(action="sync.request").exists()

    # The worker runs it (here in-process, as the task body does).
    from triage.sync import sync_connection_incremental

    sync_connection_incremental(connection=connection, trigger=run.trigger, run=run)
    fragment = admin.get(f"{url}{run.pk}/", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 286
    assert "every 2s" not in fragment.content.decode()
    assert "up to date" in fragment.content.decode()

    page = admin.get(f"{url}{run.pk}/")
    assert page.status_code == 200 and "<html" in page.content.decode()


def test_a_retried_sync_now_is_recorded_as_sync_now(connection):
    from triage import tasks

    failed = SyncRun.objects.create(
        connection=connection,
        team=connection.team,
        kind=SyncRun.Kind.INCREMENTAL,
        trigger=SyncRun.Trigger.MANUAL,
        status=SyncRun.Status.FAILED,
        error="Kolega is unreachable",
    )

    tasks.sync_connection.run(connection.pk, SyncRun.Kind.INCREMENTAL, failed.pk)

    retry = SyncRun.objects.exclude(pk=failed.pk).get(connection=connection)
    assert retry.trigger == SyncRun.Trigger.MANUAL
    assert retry.status == SyncRun.Status.SUCCEEDED
    failed.refresh_from_db()
    assert failed.status == SyncRun.Status.FAILED  # the first attempt's record is kept


def test_only_admins_may_start_a_sync(connection, member, client_as, queued):
    response = client_as(member(Role.TRIAGER)).post(
        f"/t/{connection.team.slug}/settings/sync/", {"connection": connection.pk}
    )

    assert response.status_code == 403
    assert not SyncRun.objects.exists() and queued == []


def test_runs_of_another_team_are_not_found(connection, member, client_as, other_team):
    run = SyncRun.objects.create(connection=connection, team=connection.team, kind="full")
    outsider = member(Role.ADMIN, of=other_team)

    response = client_as(outsider).get(f"/t/{other_team.slug}/settings/sync/{run.pk}/")

    assert response.status_code == 404


def test_a_failing_connection_is_told_once_with_the_next_attempt(connection, member, client_as):
    from datetime import timedelta

    from django.utils import timezone

    from triage.models import SyncState

    sync_connection_full(connection=connection)
    now = timezone.now()
    SyncState.objects.filter(connection=connection).update(
        last_error="Kolega is unreachable (connection refused).",
        last_error_at=now,
        consecutive_failures=1,
        next_attempt_at=now + timedelta(minutes=2),
    )

    body = client_as(member(Role.ADMIN)).get(f"/t/{connection.team.slug}/settings/sync/")
    text = body.content.decode()

    assert text.count("the last sync failed") == 1  # the notice above every page
    assert "retrying" in text and "The next attempt is at" in text

import logging
import socket
import threading

import pytest
from django.db import connection as db_connection
from django.urls import reverse

from tests.conftest import SANDBOX_BASE_URL
from triage.models import AuditEvent, KolegaConnection, Role


def _add(client, team, **data):
    payload = {"name": "Acme", "base_url": SANDBOX_BASE_URL, "api_key": "", **data}
    return client.post(reverse("settings-connections", kwargs={"team_slug": team.slug}), payload)


@pytest.fixture
def admin_client(team, member, client_as):
    return client_as(member(Role.ADMIN, username="alice"))


def test_admin_adds_a_connection_verified_by_kolega(
    admin_client, team, sandbox_transport, sandbox_org
):
    organization, key = sandbox_org

    response = _add(admin_client, team, api_key=key)

    assert response.status_code == 302
    connection = KolegaConnection.objects.get(team=team)
    assert connection.organization_id == str(organization.id)
    assert connection.organization_name == organization.name
    assert connection.key_prefix and key.startswith(connection.key_prefix)
    assert connection.api_key.reveal() == key
    assert set(connection.scopes) == {"read", "write"}
    event = AuditEvent.objects.get(team=team, action="connection.create")
    assert event.actor_label == "alice"
    assert key not in str(event.details)


def test_plaintext_key_is_nowhere_but_encrypted(
    admin_client, team, sandbox_transport, sandbox_org, caplog
):
    _, key = sandbox_org
    caplog.set_level(logging.DEBUG)

    _add(admin_client, team, api_key=key)
    page = admin_client.get(reverse("settings-connections", kwargs={"team_slug": team.slug}))
    admin_page = admin_client.get(reverse("home"), follow=True)

    with db_connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM triage_kolegaconnection")
        (raw,) = cursor.fetchone()
    assert key not in raw and raw.startswith("gAAAA")  # a Fernet token
    assert key not in page.content.decode()
    assert key not in admin_page.content.decode()
    assert key not in caplog.text
    assert key not in repr(KolegaConnection.objects.get(team=team).api_key)


def test_wrong_key_is_refused_and_nothing_saved(admin_client, team, sandbox_transport, sandbox_org):
    response = _add(admin_client, team, api_key="kcp_test_notarealkey000000000000")

    assert response.status_code == 400
    assert "Kolega rejected this key." in response.content.decode()
    assert "kcp_test_notarealkey" not in response.content.decode()
    assert not KolegaConnection.objects.exists()
    assert not AuditEvent.objects.filter(action="connection.create").exists()


def test_unreachable_url_gets_one_message_and_nothing_saved(admin_client, team, db):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    response = _add(
        admin_client, team, base_url=f"http://127.0.0.1:{port}", api_key="kcp_test_whatever1234"
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert "Could not reach the address." in body
    assert "refused" not in body.lower()
    assert not KolegaConnection.objects.exists()


def test_a_kolega_url_that_times_out_gets_the_same_message(admin_client, team, db, monkeypatch):
    monkeypatch.setattr("triage.clients.INTERACTIVE_TIMEOUT_SECONDS", 0.3)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)  # accepts connections, never answers
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = server.getsockname()[1]
        response = _add(
            admin_client, team, base_url=f"http://127.0.0.1:{port}", api_key="kcp_test_x12345678"
        )
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        server.close()

    assert response.status_code == 400
    body = response.content.decode()
    # The same words as a refused connection: the form must not tell the two apart.
    assert "Could not reach the address." in body
    assert "timed out" not in body.lower()
    assert not KolegaConnection.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRIAGER, Role.APPROVER])
def test_only_admins_add_connections(role, team, member, client_as, sandbox_org, sandbox_transport):
    _, key = sandbox_org
    client = client_as(member(role))

    response = _add(client, team, api_key=key)
    page = client.get(reverse("settings-connections", kwargs={"team_slug": team.slug}))

    assert response.status_code == 403
    assert not KolegaConnection.objects.exists()
    assert page.status_code == 200
    assert "Verify and save" not in page.content.decode()


def test_reverify_marks_a_revoked_key_invalid(admin_client, team, sandbox_transport, sandbox_org):
    from sandbox.services.organizations import api_key_revoke

    organization, key = sandbox_org
    _add(admin_client, team, api_key=key)
    connection = KolegaConnection.objects.get(team=team)
    api_key_revoke(organization=organization, key_prefix=connection.key_prefix)

    response = admin_client.post(
        reverse(
            "settings-connection", kwargs={"team_slug": team.slug, "connection_id": connection.pk}
        ),
        {"action": "verify"},
        follow=True,
    )

    connection.refresh_from_db()
    assert connection.state == KolegaConnection.State.INVALID
    assert "Kolega rejected this key." in response.content.decode()
    assert "Kolega rejects this connection" in response.content.decode()  # the admin banner


def test_disable_enable_and_delete_are_audited(admin_client, team, sandbox_transport, sandbox_org):
    _, key = sandbox_org
    _add(admin_client, team, api_key=key)
    connection = KolegaConnection.objects.get(team=team)
    url = reverse(
        "settings-connection", kwargs={"team_slug": team.slug, "connection_id": connection.pk}
    )

    admin_client.post(url, {"action": "disable"})
    connection.refresh_from_db()
    assert connection.state == KolegaConnection.State.DISABLED
    admin_client.post(url, {"action": "enable"})
    connection.refresh_from_db()
    assert connection.state == KolegaConnection.State.ACTIVE
    admin_client.post(url, {"action": "delete"})

    assert not KolegaConnection.objects.exists()
    actions = list(AuditEvent.objects.filter(team=team).values_list("action", flat=True))
    assert {"connection.disable", "connection.enable", "connection.delete"} <= set(actions)


def test_another_teams_connection_answers_404(
    team, other_team, member, client_as, sandbox_transport, sandbox_org
):
    from tests.factories import KolegaConnectionFactory

    theirs = KolegaConnectionFactory(team=other_team)
    client = client_as(member(Role.ADMIN))

    response = client.post(
        reverse("settings-connection", kwargs={"team_slug": team.slug, "connection_id": theirs.pk}),
        {"action": "delete"},
    )

    assert response.status_code == 404
    assert KolegaConnection.objects.filter(pk=theirs.pk).exists()


def test_a_new_connection_is_synced_at_once(
    admin_client,
    team,
    sandbox_transport,
    sandbox_org,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    queued = []
    monkeypatch.setattr(
        "triage.tasks.sync_connection.delay", lambda *args, **kw: queued.append(args)
    )
    settings.PORTAL_SYNC_ON_CONNECT = True
    _, key = sandbox_org

    with django_capture_on_commit_callbacks(execute=True):
        _add(admin_client, team, api_key=key)

    connection = KolegaConnection.objects.get(team=team)
    assert queued == [(connection.pk, "full")]

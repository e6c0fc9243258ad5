import io

import pytest
from django.core.management import CommandError, call_command

from triage.models import AuditEvent, KolegaConnection, Team


def test_team_connect_creates_team_and_verified_connection(
    sandbox_transport, sandbox_org, monkeypatch
):
    organization, key = sandbox_org
    monkeypatch.setattr("sys.stdin", io.StringIO(key + "\n"))
    out = io.StringIO()

    call_command(
        "team_connect",
        "platform-sec",
        "--base-url",
        "http://sandbox.test/sandbox",
        "--key-stdin",
        stdout=out,
    )

    team = Team.objects.get(slug="platform-sec")
    connection = KolegaConnection.objects.get(team=team)
    assert connection.organization_id == str(organization.id)
    assert connection.name == organization.name
    assert key not in out.getvalue()
    assert AuditEvent.objects.filter(team=team, action="connection.create").exists()


def test_team_connect_refuses_a_wrong_key_and_saves_nothing(sandbox_transport, db, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("kcp_test_wrongwrongwrong\n"))

    with pytest.raises(CommandError, match="Kolega rejected this key"):
        call_command(
            "team_connect", "ops", "--base-url", "http://sandbox.test/sandbox", "--key-stdin"
        )

    assert not KolegaConnection.objects.exists()


def test_demo_setup_creates_one_user_per_role(db):
    call_command("demo_setup", "--password", "demo-pass-123", stdout=io.StringIO())
    call_command("demo_setup", "--password", "demo-pass-123", stdout=io.StringIO())

    team = Team.objects.get(slug="demo")
    assert sorted(team.memberships.values_list("role", flat=True)) == [
        "admin",
        "approver",
        "triager",
        "viewer",
    ]

import pytest
from django.core.management import CommandError, call_command

from triage.models import SyncRun

pytestmark = pytest.mark.django_db


def test_sync_connection_command_runs_a_full_sync_and_says_what_it_did(connection, capsys):
    call_command("sync_connection", connection.team.slug, "--full")

    out = capsys.readouterr().out
    run = SyncRun.objects.get(connection=connection)
    assert run.kind == SyncRun.Kind.FULL and run.trigger == SyncRun.Trigger.COMMAND
    assert "Acme: full sync succeeded" in out
    assert f"{run.requests} API requests, {run.rows_written} rows written" in out
    assert "findings" in out


def test_sync_connection_command_then_incremental(connection, capsys):
    call_command("sync_connection", connection.team.slug, "--full")
    call_command("sync_connection", connection.team.slug)

    out = capsys.readouterr().out
    assert "incremental sync succeeded" in out
    assert "0 rows written" in out


def test_sync_connection_command_refuses_an_unknown_team(db):
    with pytest.raises(CommandError, match="No team"):
        call_command("sync_connection", "nope")

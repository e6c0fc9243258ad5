"""Connecting a team to a sandbox organization the way an admin does, through the settings
service (key check, audit entry), for tests where that path matters."""

from tests.conftest import SANDBOX_BASE_URL
from triage.models import KolegaConnection


def connect(*, team, admin, api_key: str) -> KolegaConnection:
    """Connect the organization of ``api_key`` to ``team``; read back, so the stored key is
    the encrypted field, as every later request reads it."""
    from triage.services.connections import connection_create

    created = connection_create(
        team=team, actor=admin, name="Acme", base_url=SANDBOX_BASE_URL, api_key=api_key
    )
    return KolegaConnection.objects.get(pk=created.pk)


def connect_and_sync(*, team, admin, api_key: str) -> KolegaConnection:
    """Connect as ``connect`` does, then mirror the organization."""
    from triage.sync import sync_connection_full

    stored = connect(team=team, admin=admin, api_key=api_key)
    sync_connection_full(connection=stored)
    return KolegaConnection.objects.get(pk=stored.pk)

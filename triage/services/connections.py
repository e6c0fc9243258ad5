import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from triage.clients import kolega_client, kolega_outbound_policy
from triage.kolega import KolegaError
from triage.models import KolegaConnection, Role, SyncRun, Team
from triage.outbound import OutboundRefused
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.kolega_errors import describe_key_check_failure
from triage.services.rate import minute_count
from triage.services.teams import require_role
from triage.sync.runs import connection_state_record
from triage.task_queue import TaskName, task_send

logger = logging.getLogger("triage.connections")


def connection_base_url_check(base_url: str) -> str:
    """``base_url`` as it will be stored, if the outbound guard allows it; the form and the
    services ask this one function, so both refuse the same addresses with the same words."""
    base_url = base_url.rstrip("/")
    try:
        return kolega_outbound_policy().check_base_url(base_url)
    except OutboundRefused as exc:
        logger.info("base URL refused: %s", exc.detail)
        raise ServiceError(exc.message, field="base_url") from None


def _key_check_allow(team: Team) -> None:
    """At most PORTAL_KEY_CHECKS_PER_MINUTE key checks per team and minute: each one sends a
    request from the portal, and a person waits on it."""
    limit = settings.PORTAL_KEY_CHECKS_PER_MINUTE
    if minute_count(f"key-checks:{team.pk}") > limit:
        raise ServiceError(
            f"This team checked Kolega keys {limit} times in the last minute, the most allowed."
            " Wait a minute and try again."
        )


def _verify_key(*, team: Team, base_url: str, api_key: str):
    """Ask Kolega who the key belongs to; turn every failure into a message for the form."""
    base_url = connection_base_url_check(base_url)
    _key_check_allow(team)
    try:
        with kolega_client(base_url=base_url, api_key=api_key, interactive=True) as client:
            return client.me()
    except KolegaError as exc:
        # The detail (refused, not found, timed out, the server's words) is for the log only.
        detail = getattr(exc, "detail", "") or getattr(exc, "reason", "")
        logger.warning("key check of team %s at %s failed: %s %s", team.pk, base_url, exc, detail)
        message, field = describe_key_check_failure(exc)
        raise ServiceError(message, field=field) from None


def _apply_identity(connection: KolegaConnection, me) -> None:
    connection.organization_id = me.organization_id
    connection.organization_name = me.organization_name
    connection.organization_slug = me.organization_slug
    connection.key_id = me.api_key.id
    connection.key_name = me.api_key.name
    connection.key_prefix = me.api_key.key_prefix
    connection.scopes = list(me.api_key.scopes)
    connection.verified_at = timezone.now()


def connection_create(
    *, team: Team, actor, name: str, base_url: str, api_key: str
) -> KolegaConnection:
    """Verify ``api_key`` with ``GET /me`` and store the connection; nothing is saved on failure."""
    require_role(team=team, user=actor, role=Role.ADMIN)
    base_url = connection_base_url_check(base_url)
    me = _verify_key(team=team, base_url=base_url, api_key=api_key)
    connection = KolegaConnection(team=team, name=name, base_url=base_url, api_key=api_key)
    _apply_identity(connection, me)
    try:
        with transaction.atomic():
            connection.save()
            audit_log(
                team=team,
                actor=actor,
                action="connection.create",
                target=connection,
                details={
                    "base_url": base_url,
                    "organization": me.organization_slug,
                    "key_prefix": me.api_key.key_prefix,
                    "scopes": list(me.api_key.scopes),
                },
            )
    except IntegrityError:
        raise ServiceError(
            "This team already has a connection with this name or to this organization."
        ) from None
    _queue_first_sync(connection)
    return connection


def _queue_first_sync(connection: KolegaConnection) -> None:
    """Mirror the organization right away instead of waiting for the next scheduled sync."""
    if not settings.PORTAL_SYNC_ON_CONNECT:
        return
    transaction.on_commit(
        lambda: task_send(TaskName.SYNC_CONNECTION, connection.pk, SyncRun.Kind.FULL), robust=True
    )


def connection_verify(*, connection: KolegaConnection, actor) -> KolegaConnection:
    """Check the stored key again; a rejected key marks the connection invalid."""
    require_role(team=connection.team, user=actor, role=Role.ADMIN)
    try:
        me = _verify_key(
            team=connection.team,
            base_url=connection.base_url,
            api_key=connection.api_key.reveal(),
        )
    except ServiceError as exc:
        if exc.field == "api_key":
            with transaction.atomic():
                connection_state_record(
                    connection,
                    state=KolegaConnection.State.INVALID,
                    reason=exc.message,
                    actor=actor,
                    action="connection.verify_failed",
                    details={"reason": exc.message},
                )
        raise
    if me.organization_id != connection.organization_id:
        raise ServiceError("The key now belongs to another Kolega organization.")
    with transaction.atomic():
        _apply_identity(connection, me)
        if connection.state == KolegaConnection.State.INVALID:
            connection.state = KolegaConnection.State.ACTIVE
        connection.state_reason = ""
        connection.save()
        audit_log(team=connection.team, actor=actor, action="connection.verify", target=connection)
    return connection


def connection_state_set(*, connection: KolegaConnection, actor, enabled: bool) -> KolegaConnection:
    require_role(team=connection.team, user=actor, role=Role.ADMIN)
    with transaction.atomic():
        connection_state_record(
            connection,
            state=KolegaConnection.State.ACTIVE if enabled else KolegaConnection.State.DISABLED,
            reason="" if enabled else "Disabled by an admin",
            actor=actor,
            action="connection.enable" if enabled else "connection.disable",
        )
    return connection


def connection_delete(*, connection: KolegaConnection, actor) -> None:
    require_role(team=connection.team, user=actor, role=Role.ADMIN)
    with transaction.atomic():
        audit_log(
            team=connection.team,
            actor=actor,
            action="connection.delete",
            target=connection,
            details={"organization": connection.organization_slug},
        )
        connection.delete()

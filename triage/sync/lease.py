"""One sync per connection at a time, by a lease on the connection's SyncState row.

A lease is taken and renewed with conditional UPDATEs, which behave the same on PostgreSQL
and SQLite and need no lock held across a long sync. A worker killed mid-sync stops
renewing, so its lease lapses after `PORTAL_SYNC_LEASE_SECONDS` and the next run proceeds.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from triage.models import KolegaConnection, SyncState


class LeaseLost(Exception):
    """Another run took over the connection's lease (ours had expired)."""


def lease_seconds() -> int:
    return int(getattr(settings, "PORTAL_SYNC_LEASE_SECONDS", 120))


def sync_state_for(connection: KolegaConnection) -> SyncState:
    state = SyncState.objects.filter(connection=connection).first()
    if state is not None:
        return state
    try:
        with transaction.atomic():
            return SyncState.objects.create(connection=connection)
    except IntegrityError:
        # Created by a concurrent run between our read and our insert.
        return SyncState.objects.get(connection=connection)


def lease_acquire(*, connection: KolegaConnection, owner: str) -> bool:
    sync_state_for(connection)
    now = timezone.now()
    taken = (
        SyncState.objects.filter(connection=connection)
        .filter(
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner)
        )
        .update(lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds()))
    )
    return taken == 1


def lease_renew(*, connection: KolegaConnection, owner: str) -> None:
    renewed = SyncState.objects.filter(connection=connection, lease_owner=owner).update(
        lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds())
    )
    if renewed != 1:
        raise LeaseLost(f"the sync lease of connection {connection.pk} was taken over")


def lease_release(*, connection: KolegaConnection, owner: str) -> None:
    SyncState.objects.filter(connection=connection, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None
    )

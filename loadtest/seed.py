"""Data of the load test, written into its own database.

`python -m loadtest.seed prepare --findings N --browsing-users B --bulk-users K --base-url U`
creates a large sandbox organization (bulk inserts), the team, its users and the connection
to that organization; `python -m loadtest.seed mirror --connection ID` then mirrors it with
the portal's own full sync (over HTTP, against the running server) and builds the report
snapshots, so that the first report visit under load finds them ready; `retarget
--base-url U` points a copy of that database at another server. Each prints one JSON object
on its last line. Run with the load test's environment (see loadtest/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

TEAM_SLUG = "load"
ORGANIZATION_SLUG = "load-org"
# One fixed password for every load user: the load test signs them in through the login form.
PASSWORD_ENV = "LOADTEST_PASSWORD"  # noqa: S105  (the variable's name, not a password)
BROWSING_PREFIX = "load-browse-"
BULK_PREFIX = "load-bulk-"
# Browsing users cycle through the roles, so every role's pages are rendered under load.
BROWSING_ROLES = ("viewer", "triager", "approver", "admin")
# A repository per thousand findings, at most 50 (the sync benchmark's shape): the full sync
# costs a few requests per repository whatever its size.
MAX_REPOSITORIES = 50


def browsing_username(index: int) -> str:
    return f"{BROWSING_PREFIX}{index:03d}"


def bulk_username(index: int) -> str:
    return f"{BULK_PREFIX}{index:03d}"


def _prepare(*, findings: int, browsing_users: int, bulk_users: int, base_url: str) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from sandbox.services.scale import organization_scale_create
    from triage.models import KolegaConnection, Membership, Role, Team

    started = time.perf_counter()
    scale = organization_scale_create(
        repositories=min(MAX_REPOSITORIES, max(1, findings // 1000)),
        findings=findings,
        slug=ORGANIZATION_SLUG,
    )
    sandbox_seconds = time.perf_counter() - started
    # Hashing once: every user has the same password, and a million-round hash per user
    # would make seeding slower than the load test itself.
    password_hash = make_password(os.environ[PASSWORD_ENV])
    user_model = get_user_model()
    with transaction.atomic():
        team = Team.objects.create(name="Load team", slug=TEAM_SLUG)
        people = [(browsing_username(n), BROWSING_ROLES[n % 4]) for n in range(browsing_users)]
        people += [(bulk_username(n), Role.TRIAGER.value) for n in range(bulk_users)]
        users = user_model.objects.bulk_create(
            [
                user_model(username=name, email=f"{name}@example.com", password=password_hash)
                for name, _ in people
            ]
        )
        Membership.objects.bulk_create(
            [
                Membership(team=team, user=user, role=role)
                for user, (_, role) in zip(users, people, strict=True)
            ]
        )
        connection = KolegaConnection.objects.create(
            team=team,
            name="Load organization",
            base_url=base_url,
            api_key=scale.api_key,
            organization_id=str(scale.organization.id),
            organization_name=scale.organization.name,
            organization_slug=scale.organization.slug,
            scopes=["read", "write"],
        )
    return {
        "team": team.slug,
        "connection": connection.pk,
        "users": len(users),
        "repositories": scale.repositories,
        "sandbox_findings": scale.findings,
        "sandbox_events": scale.events,
        "sandbox_seconds": round(sandbox_seconds, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def _mirror(*, connection_id: int) -> dict:
    from triage.models import Finding, FindingEvent, KolegaConnection, SyncRun
    from triage.services.reports import report_snapshots_rebuild
    from triage.sync import sync_connection_full

    connection = KolegaConnection.objects.select_related("team").get(pk=connection_id)
    started = time.perf_counter()
    run = sync_connection_full(connection=connection, trigger=SyncRun.Trigger.COMMAND)
    sync_seconds = time.perf_counter() - started
    if run.status != SyncRun.Status.SUCCEEDED:
        raise RuntimeError(f"the full sync did not succeed: {run.status} {run.error}")
    started = time.perf_counter()
    snapshot_rows = report_snapshots_rebuild(team=connection.team)
    return {
        "findings": Finding.objects.filter(connection=connection).count(),
        "events": FindingEvent.objects.filter(connection=connection).count(),
        "sync_seconds": round(sync_seconds, 1),
        "sync_requests": run.requests,
        "snapshot_rows": snapshot_rows,
        "snapshot_seconds": round(time.perf_counter() - started, 1),
    }


def connection_rekey(*, base_url: str | None = None) -> None:
    """Give the load team's connection a new sandbox key, encrypted with the portal's keys of
    this run (each run generates its own, and the seeded key was encrypted with another's)."""
    from sandbox.models import Organization
    from sandbox.services.organizations import VISIBLE_KEY_LENGTH, api_key_create
    from triage.models import KolegaConnection

    organization = Organization.objects.get(slug=ORGANIZATION_SLUG)
    _, plaintext = api_key_create(organization=organization, name="Load test run")
    changes = {"api_key": plaintext, "key_prefix": plaintext[:VISIBLE_KEY_LENGTH]}
    if base_url:
        changes["base_url"] = base_url
    # An update, not a save: reading the row would decrypt the old key, which cannot be done.
    KolegaConnection.objects.filter(team__slug=TEAM_SLUG).update(**changes)


def _retarget(*, base_url: str) -> dict:
    """Point a copy of the seeded database at this run's server and password, and say what
    it holds."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from triage.models import Finding, FindingEvent, Team
    from triage.services.reports import report_snapshots_rebuild, report_snapshots_stale

    team = Team.objects.get(slug=TEAM_SLUG)
    connection_rekey(base_url=base_url)
    # Each run signs in with a password of its own (one hash for all, as when seeding).
    get_user_model().objects.filter(memberships__team=team).update(
        password=make_password(os.environ[PASSWORD_ENV])
    )
    # A copy made on a later day than the seeding needs today's snapshots before the first
    # report visit, which would otherwise build them while users wait.
    stale = report_snapshots_stale(team=team, now=timezone.now())
    if stale:
        report_snapshots_rebuild(team=team)
    return {
        "findings": Finding.objects.filter(team=team).count(),
        "events": FindingEvent.objects.filter(team=team).count(),
        "users": get_user_model().objects.filter(memberships__team=team).count(),
        "snapshots_rebuilt": stale,
    }


def _jobs() -> dict:
    """What the bulk status jobs of the run did, checked against the sandbox itself: every
    item the portal counts as changed must hold its new status in the sandbox."""
    from django.db.models import Count, Q

    from sandbox.models import Finding as SandboxFinding
    from triage.models import FindingStatusJob, FindingStatusJobItem

    outcome = FindingStatusJobItem.Outcome
    items = FindingStatusJobItem.objects.filter(job__team__slug=TEAM_SLUG)
    counts = items.aggregate(
        items=Count("pk"),
        **{name: Count("pk", filter=Q(outcome=name)) for name in outcome.values},
    )
    # A later job may have changed a finding again: the last change is what must hold.
    last_target = dict(
        items.filter(outcome=outcome.CHANGED)
        .order_by("finished_at", "pk")
        .values_list("finding_upstream_id", "target_status")
    )
    held = {
        str(pk): status
        for pk, status in SandboxFinding.objects.filter(id__in=list(last_target)).values_list(
            "id", "status"
        )
    }
    differing = sum(1 for key, status in last_target.items() if held.get(key) != status)
    jobs = FindingStatusJob.objects.filter(team__slug=TEAM_SLUG)
    return {
        "jobs": jobs.count(),
        "finished": jobs.filter(state=FindingStatusJob.State.FINISHED).count(),
        **counts,
        "changed_but_not_in_sandbox": differing,
    }


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m loadtest.seed")
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare")
    prepare.add_argument("--findings", type=int, required=True)
    prepare.add_argument("--browsing-users", type=int, required=True)
    prepare.add_argument("--bulk-users", type=int, required=True)
    prepare.add_argument("--base-url", required=True)
    mirror = commands.add_parser("mirror")
    mirror.add_argument("--connection", type=int, required=True)
    retarget = commands.add_parser("retarget")
    retarget.add_argument("--base-url", required=True)
    commands.add_parser("jobs")
    args = parser.parse_args(argv)

    import django

    django.setup()
    if args.command == "prepare":
        return _prepare(
            findings=args.findings,
            browsing_users=args.browsing_users,
            bulk_users=args.bulk_users,
            base_url=args.base_url,
        )
    if args.command == "jobs":
        return _jobs()
    if args.command == "retarget":
        return _retarget(base_url=args.base_url)
    return _mirror(connection_id=args.connection)


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))

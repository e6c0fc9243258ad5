"""Settings → Sync: how fresh each connection's mirror is, and "Sync now" with live progress."""

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from triage.models import KolegaConnection, Role, SyncRun
from triage.permissions import can, team_view
from triage.selectors.sync import connection_sync_health_list, sync_run_get, sync_runs_recent
from triage.services.audit import audit_log
from triage.views.htmx import is_fragment, redirect_after_post, render_fragment, render_page

SYNC_KINDS = {"incremental": SyncRun.Kind.INCREMENTAL, "full": SyncRun.Kind.FULL}


@team_view(read=Role.VIEWER, write=Role.ADMIN)
def sync_status(request):
    """Per connection: last success, lag, last error; admins start a sync from here."""
    team = request.team
    if request.method == "POST":
        connection = get_object_or_404(
            KolegaConnection, team=team, pk=_int_or_404(request.POST.get("connection"))
        )
        kind = SYNC_KINDS.get(request.POST.get("kind", "incremental"))
        if kind is None:
            messages.error(request, "Unknown kind of sync.")
            return redirect("settings-sync", team_slug=team.slug)
        run = _sync_request(request, connection=connection, kind=kind)
        if run.status == SyncRun.Status.FAILED:
            messages.error(request, f"{connection.name}: {run.error}")
            return redirect("settings-sync", team_slug=team.slug)
        if is_fragment(request):
            return render_fragment(
                request, "triage/settings/sync_run.html", "sync-run", {"run": run}
            )
        return redirect_after_post(request, "settings-sync-run", team_slug=team.slug, run_id=run.pk)
    return render(
        request,
        "triage/settings/sync.html",
        {
            "health": connection_sync_health_list(team=team),
            "runs": sync_runs_recent(team=team),
            "can_admin": can(request, Role.ADMIN),
        },
    )


def _sync_request(request, *, connection: KolegaConnection, kind: SyncRun.Kind) -> SyncRun:
    from triage.tasks import sync_connection

    with transaction.atomic():
        run = SyncRun.objects.create(
            connection=connection,
            team=connection.team,
            kind=kind,
            trigger=SyncRun.Trigger.MANUAL,
            requested_by=request.user,
        )
        audit_log(
            team=connection.team,
            actor=request.user,
            action="sync.request",
            target=connection,
            details={"kind": kind, "run": run.pk},
        )
    try:
        sync_connection.delay(connection.pk, kind, run.pk)
    except Exception as exc:  # the broker is down: say so rather than leave a run queued
        run.status = SyncRun.Status.FAILED
        run.error = f"The sync could not be queued: {exc}"[:2000]
        run.error_kind = "queue"
        run.save(update_fields=["status", "error", "error_kind"])
    return run


@team_view(read=Role.VIEWER)
def sync_run_detail(request, run_id: int):
    """One run's progress; its fragment polls itself every 2 s until the run ends (286)."""
    run = sync_run_get(team=request.team, run_id=run_id)
    if run is None:
        raise Http404("No such sync run")
    return render_page(
        request,
        "triage/settings/sync_run.html",
        {"run": run},
        partial="sync-run",
        stop_polling=not run.is_active,
    )


def _int_or_404(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise Http404("No such connection") from None

"""Settings → Sync: how fresh each connection's mirror is, and "Sync now" with live progress."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from triage.forms.ids import pk_of
from triage.models import KolegaConnection, Role, SyncRun
from triage.permissions import can, team_view
from triage.selectors.sync import connection_sync_health_list, sync_run_get, sync_runs_recent
from triage.services.sync import REQUESTABLE_KINDS, sync_run_request
from triage.views.htmx import is_fragment, redirect_after_post, render_fragment, render_page


@team_view(read=Role.VIEWER, write=Role.ADMIN)
def sync_status(request):
    """Per connection: last success, lag, last error; admins start a sync from here."""
    team = request.team
    if request.method == "POST":
        connection = get_object_or_404(
            KolegaConnection, team=team, pk=_pk_or_404(request.POST.get("connection"))
        )
        kind = REQUESTABLE_KINDS.get(request.POST.get("kind", "incremental"))
        if kind is None:
            messages.error(request, "Unknown kind of sync.")
            return redirect("settings-sync", team_slug=team.slug)
        run = sync_run_request(connection=connection, actor=request.user, kind=kind)
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


def _pk_or_404(value) -> int:
    try:
        return pk_of(value)
    except (TypeError, ValueError):
        raise Http404("No such connection") from None

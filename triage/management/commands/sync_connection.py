from django.core.management.base import BaseCommand, CommandError

from triage.models import KolegaConnection, SyncRun, Team
from triage.sync import sync_connection_full, sync_connection_incremental, sync_connection_reconcile


class Command(BaseCommand):
    help = "Sync a team's Kolega connections into the mirror now, in the foreground."

    def add_arguments(self, parser):
        parser.add_argument("team_slug")
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument("--full", action="store_true", help="walk everything, not just events")
        kind.add_argument(
            "--reconcile", action="store_true", help="compare counts with Kolega and repair"
        )
        parser.add_argument("--connection", help="only the connection with this name")

    def handle(self, *args, team_slug, full, reconcile, connection=None, **options):
        team = Team.objects.filter(slug=team_slug).first()
        if team is None:
            raise CommandError(f"No team with the slug {team_slug!r}.")
        connections = KolegaConnection.objects.filter(team=team)
        if connection:
            connections = connections.filter(name=connection)
        if not connections.exists():
            raise CommandError(f"Team {team.slug} has no matching Kolega connection.")
        sync = (
            sync_connection_full
            if full
            else sync_connection_reconcile
            if reconcile
            else sync_connection_incremental
        )
        failed = []
        for each in connections:
            run = sync(connection=each, trigger=SyncRun.Trigger.COMMAND)
            self.stdout.write(self._describe(each, run))
            if run.status == SyncRun.Status.FAILED:
                failed.append(each.name)
        if failed:
            raise CommandError(f"Sync failed for {', '.join(failed)}.")

    def _describe(self, connection: KolegaConnection, run: SyncRun) -> str:
        head = f"{connection.name}: {run.get_kind_display().lower()} sync {run.status}"
        if run.status == SyncRun.Status.SKIPPED:
            return f"{head}: {run.error}"
        seconds = run.duration_seconds or 0.0
        rows = run.details.get("rows", {})
        breakdown = ", ".join(f"{kind} {count}" for kind, count in sorted(rows.items()))
        line = (
            f"{head} in {seconds:.1f}s: {run.requests} API requests, "
            f"{run.rows_written} rows written" + (f" ({breakdown})" if breakdown else "")
        )
        repairs = run.details.get("repairs")
        if repairs:
            line += f"; repaired {len(repairs)} repositories"
        if run.error:
            line += f"\n  error: {run.error}"
        return line

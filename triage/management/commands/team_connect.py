import sys

from django.core.management.base import BaseCommand, CommandError

from triage.models import DEFAULT_KOLEGA_BASE_URL, KolegaConnection
from triage.services.connections import connection_create
from triage.services.errors import ServiceError
from triage.services.teams import SYSTEM, team_get_or_create


class Command(BaseCommand):
    help = (
        "Create the team if needed and connect it to a Kolega organization. The key is read "
        "from standard input (never from the command line, where it would show in the "
        "process list and shell history) and verified with Kolega before it is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("team_slug")
        parser.add_argument("--base-url", default=DEFAULT_KOLEGA_BASE_URL)
        parser.add_argument("--name", help="Connection name (default: the organization name)")
        parser.add_argument("--team-name", help="Team name when the team is created")
        parser.add_argument(
            "--key-stdin", action="store_true", required=True, help="Read the API key from stdin"
        )

    def handle(self, *args, team_slug, base_url, name, team_name, key_stdin, **options):
        api_key = sys.stdin.readline().strip()
        if not api_key:
            raise CommandError("No API key on standard input.")
        try:
            team, created = team_get_or_create(slug=team_slug, name=team_name)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        actor = SYSTEM
        existing = KolegaConnection.objects.filter(team=team, base_url=base_url.rstrip("/"))
        try:
            connection = connection_create(
                team=team,
                actor=actor,
                name=name or f"Kolega {existing.count() + 1}",
                base_url=base_url,
                api_key=api_key,
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        if not name and connection.organization_name:
            connection.name = connection.organization_name
            if not KolegaConnection.objects.filter(team=team, name=connection.name).exists():
                connection.save(update_fields=["name"])
        self.stdout.write(
            self.style.SUCCESS(
                f"{'Created' if created else 'Using'} team {team.slug}; connected to "
                f"{connection.organization_name} ({connection.organization_slug}) with key "
                f"{connection.key_prefix}…, scopes {', '.join(connection.scopes)}."
            )
        )

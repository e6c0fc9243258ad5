from django.core.management.base import BaseCommand, CommandError

from triage.models import Role
from triage.services.errors import ServiceError
from triage.services.sso import group_mapping_set
from triage.services.teams import SYSTEM, team_get_or_create


class Command(BaseCommand):
    help = (
        "Map an identity-provider group to a role in a team (created if needed): members of "
        "the group get the role at every sign-in through single sign-on."
    )

    def add_arguments(self, parser):
        parser.add_argument("group")
        parser.add_argument("team_slug")
        parser.add_argument("role", choices=[role.value for role in Role])

    def handle(self, *args, group, team_slug, role, **options):
        try:
            team, _ = team_get_or_create(slug=team_slug)
            mapping = group_mapping_set(group=group, team=team, role=role, actor=SYSTEM)
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{mapping.group} → {team.slug} as {mapping.role}")

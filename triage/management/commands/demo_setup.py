from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from triage.models import Membership, Role
from triage.services.teams import team_get_or_create

DEMO_USERS = {
    "demo-admin": Role.ADMIN,
    "demo-approver": Role.APPROVER,
    "demo-triager": Role.TRIAGER,
    "demo-viewer": Role.VIEWER,
}


class Command(BaseCommand):
    help = "Create the demo team with one user per role (idempotent). For development only."

    def add_arguments(self, parser):
        parser.add_argument("--password", required=True)
        parser.add_argument("--team", default="demo")

    @transaction.atomic
    def handle(self, *args, password, team, **options):
        team_obj, _ = team_get_or_create(slug=team, name="Demo Security Team")
        users = get_user_model().objects
        for username, role in DEMO_USERS.items():
            user, created = users.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.save()
            Membership.objects.update_or_create(team=team_obj, user=user, defaults={"role": role})
        self.stdout.write(
            self.style.SUCCESS(f"Demo team '{team_obj.slug}' with users {', '.join(DEMO_USERS)}.")
        )

import os

from django.core.management.base import BaseCommand

from sandbox.models import Finding, Repository
from sandbox.services.seed import demo_organization_seed


class Command(BaseCommand):
    help = "Create the sandbox's demo organization: repositories, scan history and an API key."

    def add_arguments(self, parser):
        parser.add_argument("--reset", action="store_true", help="delete and recreate it")
        parser.add_argument("--key", help="plaintext API key to create (kcp_test_...)")
        parser.add_argument("--slug", default="acme")
        parser.add_argument(
            "--no-pull-requests",
            action="store_true",
            help="seed no fixes and pull requests (they spend some of the fix quota)",
        )
        parser.add_argument("--name", default="Acme Corp")
        parser.add_argument(
            "--base-url",
            default=None,
            help="the sandbox's address to print (default: this machine on $PORT, else 8000)",
        )

    def handle(self, *args, **options):
        organization, key, created = demo_organization_seed(
            name=options["name"],
            slug=options["slug"],
            plaintext_key=options["key"],
            reset=options["reset"],
            pull_requests=not options["no_pull_requests"],
        )
        repositories = Repository.objects.filter(organization=organization).count()
        findings = Finding.objects.filter(organization=organization).count()
        state = "created" if created else "already present"
        self.stdout.write(f"Organization {organization.name} ({organization.slug}) {state}")
        self.stdout.write(f"  {repositories} repositories, {findings} findings")
        base_url = (
            options["base_url"] or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}/sandbox"
        )
        self.stdout.write(f"Base URL: {base_url}")
        if key:
            self.stdout.write(f"API key: {key}")
        else:
            self.stdout.write("API key: (unchanged; use --key or --reset for a new one)")

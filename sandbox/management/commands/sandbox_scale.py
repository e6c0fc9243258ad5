from django.core.management.base import BaseCommand, CommandError

from sandbox.services.scale import organization_scale_create


class Command(BaseCommand):
    help = "Create a large sandbox organization (bulk inserts) for benchmarks; prints its key."

    def add_arguments(self, parser):
        parser.add_argument("--repos", type=int, default=50)
        parser.add_argument("--findings", type=int, default=100_000)
        parser.add_argument("--slug", help="organization slug (default: generated)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--events",
            type=int,
            help="about this many finding events in all (default: one or two per finding)",
        )

    def handle(self, *args, **options):
        if options["repos"] < 1 or options["findings"] < 0:
            raise CommandError("--repos must be at least 1 and --findings not negative")
        if options["events"] is not None and options["events"] < 0:
            raise CommandError("--events must not be negative")
        result = organization_scale_create(
            repositories=options["repos"],
            findings=options["findings"],
            slug=options["slug"],
            seed=options["seed"],
            events=options["events"],
        )
        self.stdout.write(
            f"Organization {result.organization.name} ({result.organization.slug}): "
            f"{result.repositories} repositories, {result.findings} findings, "
            f"{result.events} events in {result.seconds:.1f}s"
        )
        self.stdout.write(f"API key: {result.api_key}")

from django.core.management.base import BaseCommand, CommandError

from sandbox.models import Organization
from sandbox.services.faults import (
    FAULT_FIELDS,
    fault_config_clear,
    fault_config_describe,
    fault_config_set,
)


class Command(BaseCommand):
    help = "Inject faults into one sandbox organization's API responses (seeded, repeatable)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--latency-ms", type=int, dest="latency_ms")
        parser.add_argument("--jitter-ms", type=int, dest="jitter_ms")
        parser.add_argument("--rate-429", type=float, dest="rate_429")
        parser.add_argument("--retry-after", type=int, dest="retry_after_seconds")
        parser.add_argument("--rate-5xx", type=float, dest="rate_5xx")
        parser.add_argument("--slow-ms", type=int, dest="slow_ms", help="slower than a timeout")
        parser.add_argument("--slow-rate", type=float, dest="slow_rate")
        parser.add_argument("--malformed-rate", type=float, dest="malformed_rate")
        parser.add_argument("--revoke-key", dest="revoke_key", help="key prefix to revoke")
        parser.add_argument("--seed", type=int)
        parser.add_argument("--clear", action="store_true", help="remove every fault first")

    def handle(self, *args, **options):
        organization = Organization.objects.filter(slug=options["org"]).first()
        if organization is None:
            raise CommandError(f"no sandbox organization {options['org']!r}")
        if options["clear"]:
            fault_config_clear(organization=organization)
        values = {name: options[name] for name in FAULT_FIELDS if options[name] is not None}
        if values or options["revoke_key"]:
            try:
                config = fault_config_set(
                    organization=organization, revoke_key_prefix=options["revoke_key"], **values
                )
            except ValueError as error:
                raise CommandError(str(error)) from error
            self.stdout.write(f"Faults of {organization.slug}: {fault_config_describe(config)}")
        else:
            self.stdout.write(f"Faults of {organization.slug} cleared")

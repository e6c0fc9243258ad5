from django.core.management.base import BaseCommand
from django.db import connection, transaction

from triage.encryption import rotate
from triage.models import KolegaConnection


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored Kolega API key under the first key of PORTAL_ENCRYPTION_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args, **options):
        # Raw tokens are read and written directly: the model field would decrypt on read and
        # the plaintext has no business passing through Python objects here.
        table = connection.ops.quote_name(KolegaConnection._meta.db_table)
        count = 0
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT id, api_key FROM {table} ORDER BY id")
            for pk, token in cursor.fetchall():
                cursor.execute(
                    f"UPDATE {table} SET api_key = %s WHERE id = %s", [rotate(token), pk]
                )
                count += 1
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} API key(s)."))

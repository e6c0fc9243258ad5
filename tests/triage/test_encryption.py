import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection as db_connection

from tests.factories import KolegaConnectionFactory
from triage.encryption import DecryptionError, decrypt, encrypt


def _raw_key(pk):
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM triage_kolegaconnection WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_round_trip_and_repr_hides_the_value(db):
    connection = KolegaConnectionFactory(api_key="kcp_test_secretvalue123")
    connection.refresh_from_db()

    assert connection.api_key.reveal() == "kcp_test_secretvalue123"
    assert "secretvalue" not in repr(connection.api_key)
    assert "secretvalue" not in str(connection.api_key)
    assert "secretvalue" not in _raw_key(connection.pk)


def test_rotation_re_encrypts_under_the_newest_key(db, settings):
    connection = KolegaConnectionFactory(api_key="kcp_test_rotateme0001")
    old_keys = list(settings.PORTAL_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [new_key, *old_keys]
    before = _raw_key(connection.pk)

    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)

    after = _raw_key(connection.pk)
    assert after != before
    assert "Re-encrypted 1" in out.getvalue()
    # Only the new key is needed now.
    settings.PORTAL_ENCRYPTION_KEYS = [new_key]
    assert decrypt(after) == "kcp_test_rotateme0001"
    with pytest.raises(DecryptionError):
        settings.PORTAL_ENCRYPTION_KEYS = old_keys
        decrypt(after)


def test_decryption_error_never_carries_the_token(settings):
    token = encrypt("kcp_test_abc")
    settings.PORTAL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(DecryptionError) as info:
        decrypt(token)
    assert token not in str(info.value)

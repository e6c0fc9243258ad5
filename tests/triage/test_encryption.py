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


def test_a_key_is_decrypted_only_when_revealed_and_once(db, monkeypatch):
    connection = KolegaConnectionFactory(api_key="kcp_test_lazyvalue0001")
    calls = []

    def counting(token):
        calls.append(token)
        return decrypt(token)

    monkeypatch.setattr("triage.encryption.decrypt", counting)
    loaded = type(connection).objects.get(pk=connection.pk)
    assert calls == []  # reading the row decrypts nothing

    assert loaded.api_key.reveal() == "kcp_test_lazyvalue0001"
    assert loaded.api_key.reveal() == "kcp_test_lazyvalue0001"
    assert len(calls) == 1


def test_a_key_no_configured_key_opens_fails_only_where_it_is_used(db, settings):
    connection = KolegaConnectionFactory(api_key="kcp_test_oldkeyvalue01")
    stored = _raw_key(connection.pk)
    settings.PORTAL_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    loaded = type(connection).objects.get(pk=connection.pk)  # the row still reads
    with pytest.raises(DecryptionError):
        loaded.api_key.reveal()
    # Saving the row for something else keeps its stored key as it was, not lost or changed.
    loaded.name = "Renamed"
    loaded.save()
    assert _raw_key(connection.pk) == stored


def test_a_new_key_is_encrypted_when_saved(db):
    connection = KolegaConnectionFactory(api_key="kcp_test_firstvalue001")
    connection = type(connection).objects.get(pk=connection.pk)
    before = _raw_key(connection.pk)
    connection.api_key = "kcp_test_secondvalue01"
    connection.save()

    after = _raw_key(connection.pk)
    assert after != before and "secondvalue" not in after
    assert decrypt(after) == "kcp_test_secondvalue01"

"""The embedded default (SQLite, no DATABASE_URL) holds several writers at once.

Web, worker and beat share one SQLite file. A transaction that reads and then writes is what
fails with "database is locked" under SQLite's default (deferred) transactions: two such
transactions both hold a read lock and neither can upgrade. The settings make every transaction
take the write lock at its start, so writers queue instead.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import os, sys
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    import django
    django.setup()
    from django.db import connection, transaction

    for n in range(int(sys.argv[1])):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT COALESCE(MAX(n), 0) FROM counter")
                (current,) = cursor.fetchone()
                cursor.execute(
                    "INSERT INTO counter (n, writer) VALUES (%s, %s)", [current + 1, sys.argv[2]]
                )
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        print(cursor.fetchone()[0])
    """
)


def embedded_env(var_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        PORTAL_VAR_DIR=str(var_dir),
        DEBUG="1",
        SECRET_KEY="embedded-sqlite-test-secret-key-0123456789abcdefghijkl",
        PYTHONPATH=str(ROOT),
    )
    return env


def test_the_embedded_database_is_configured_for_concurrent_writers(settings):
    from django.conf import settings as django_settings

    if django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
        pytest.skip("the embedded default is SQLite")
    options = django_settings.DATABASES["default"]["OPTIONS"]
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] >= 5


def test_four_processes_reading_then_writing_the_same_file_never_fail(tmp_path):
    import sqlite3

    database = tmp_path / "portal.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE counter (n INTEGER NOT NULL UNIQUE, writer TEXT NOT NULL)")

    per_writer = 60
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(per_writer), f"w{i}"],
            cwd=ROOT,
            env=embedded_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = [writer.communicate(timeout=120) for writer in writers]

    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err[-2000:]
        assert out.strip() == "wal"
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT COUNT(*), MAX(n) FROM counter").fetchone()
    # Every transaction committed, and each saw the one before it (no lost update).
    assert rows == (4 * per_writer, 4 * per_writer)

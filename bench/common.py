"""What every benchmark needs: a fresh database of its own, the environment of the processes
it starts, and a sandbox served over real HTTP by gunicorn."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet

from bench import scale

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"


def database_url(name: str, *, reuse: bool = False) -> str:
    """A fresh database for the benchmark `name`: `<database>_<name>_bench` on the PostgreSQL
    server of DATABASE_URL when it is set, else a SQLite file under var/bench. With `reuse`,
    a PostgreSQL database a previous run filled is kept as it is."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        VAR.mkdir(parents=True, exist_ok=True)
        database = VAR / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{database}"
    parts = urlsplit(url)
    database = f"{parts.path.lstrip('/') or 'portal'}_{name}_bench"
    import psycopg

    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not (exists and reuse):
            conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
            conn.execute(f'CREATE DATABASE "{database}"')
    return urlunsplit(parts._replace(path=f"/{database}"))


# DEBUG is off, where published keys are refused: one fresh pair per run, shared by its processes.
_RUN_SECRET_KEY = secrets.token_urlsafe(50)
_RUN_ENCRYPTION_KEY = Fernet.generate_key().decode()


# Receivers on loopback over plain HTTP, which the outbound guard refuses in a production-like
# environment unless the operator allows them, as a benchmark does.
LOOPBACK_OUTBOUND = {
    "PORTAL_OUTBOUND_ALLOW_HTTP": "1",
    "PORTAL_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
}


def environment(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's processes: production-like settings (no DEBUG, so no
    query log growing with every query) on the benchmark's own database."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": env.get("SECRET_KEY") or _RUN_SECRET_KEY,
            "PORTAL_ENCRYPTION_KEYS": env.get("PORTAL_ENCRYPTION_KEYS") or _RUN_ENCRYPTION_KEY,
            "SANDBOX_ENABLED": "1",
            "PORTAL_HTTPS": "0",
            "PORTAL_STATIC_MANIFEST": "0",
            "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
            "PORTAL_VAR_DIR": str(VAR),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **extra,
        }
    )
    return env


def run_child(args: list[str], env: dict[str, str], *, what: str) -> dict:
    """Run `python <args>` and answer the JSON object its last line prints."""
    completed = subprocess.run(  # noqa: S603 (our own modules, our own database URL)
        [sys.executable, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{completed.stderr[-4000:]}")
    if scale.current() is not None:
        # At scale the phases take minutes each: their times (`populated in ...`) are shown.
        sys.stderr.write(completed.stderr)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_server(env: dict[str, str], *gunicorn_options: str) -> Iterator[str]:
    """The portal's sandbox served by gunicorn on a free port; yields its base URL."""
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 (argv built here, no outside input)
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "portal.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            *gunicorn_options,
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("the sandbox server did not start")
        yield f"http://127.0.0.1:{port}/sandbox"
    finally:
        server.terminate()
        server.wait(timeout=30)


def signed_in_client(user, url: str):
    """After VACUUM ANALYZE of the freshly filled database (PostgreSQL), a test Client signed in
    as ``user`` and warmed up on ``url`` (connections, templates)."""
    from django.db import connection
    from django.test import Client

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    client = Client()
    client.force_login(user)
    for _ in range(5):
        assert client.get(url).status_code == 200
    return client


def counted_get(client, url: str):
    """``client.get(url)`` and the SQL it ran, counted by an execute wrapper (a query log would
    be reset by each request's reconnect)."""
    from django.db import connection

    executed: list[str] = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    return response, executed


@contextmanager
def synced_team(*, api_key: str, name: str) -> Iterator[tuple]:
    """A bench team with an admin, connected to the sandbox organization of ``api_key``
    served by gunicorn (threaded) and fully synced; yields the team, the admin and the
    connection while the server runs. Called in a benchmark's child process."""
    from django.contrib.auth import get_user_model

    from triage.models import KolegaConnection, Membership, Role, Team
    from triage.services.connections import connection_create
    from triage.sync import sync_connection_full

    team = Team.objects.create(name="Bench", slug="bench")
    user = get_user_model().objects.create_user("bench-admin")
    Membership.objects.create(team=team, user=user, role=Role.ADMIN)
    server = sandbox_server(
        dict(os.environ), "--workers", "2", "--threads", "16", "--worker-class", "gthread"
    )
    with server as base_url:
        created = connection_create(
            team=team, actor=user, name=name, base_url=base_url, api_key=api_key
        )
        connection = KolegaConnection.objects.get(pk=created.pk)
        run = sync_connection_full(connection=connection)
        assert run.status == "succeeded", run.error
        yield team, user, connection

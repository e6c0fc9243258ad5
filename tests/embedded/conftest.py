"""The portal started as `make run` starts it: SQLite, the file broker, runserver, a worker.

The tests of this folder talk to it over real HTTP on 127.0.0.1, as a newcomer's browser and
the vendor's CLI would: the embedded default must hold several users at once.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import celery_argv

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "embedded-demo-password-2026"
DEMO_KEY = "kcp_test_embedded0000000000000000000000000"

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class EmbeddedPortal:
    url: str
    sandbox_api: str
    key: str
    password: str
    database: Path
    logs: Path

    def api(self) -> httpx.Client:
        """A client of the sandbox's Kolega API, as the vendor's CLI would be."""
        return httpx.Client(
            base_url=self.sandbox_api,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=30,
        )

    @contextmanager
    def signed_in(self, username: str) -> Iterator[httpx.Client]:
        """A browser-like client of the portal, signed in as ``username``."""
        with httpx.Client(base_url=self.url, timeout=30, follow_redirects=False) as client:
            client.get("/login/")
            answer = client.post(
                "/login/",
                data={
                    "username": username,
                    "password": self.password,
                    "csrfmiddlewaretoken": client.cookies["csrftoken"],
                },
            )
            assert answer.status_code == 302, f"{username} could not sign in: {answer.status_code}"
            yield client


def _run(env: dict, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


def _wait_until_healthy(url: str, processes: list[subprocess.Popen], logs: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a portal process exited at start; see {logs}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the portal did not answer /healthz within 90 s; see {logs}")


@pytest.fixture(scope="session")
def embedded_portal(tmp_path_factory) -> EmbeddedPortal:
    var_dir = tmp_path_factory.mktemp("embedded-var")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="1",
        SANDBOX_ENABLED="1",
        PORTAL_HTTPS="0",
        PORTAL_VAR_DIR=str(var_dir),
        PORT=str(port),
        SECRET_KEY="embedded-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    _run(env, "migrate", "--no-input")
    _run(env, "demo_setup", "--password", DEMO_PASSWORD)
    # No demo pull requests: a merged one fixes its finding's code, so any rescan resolves a
    # finding the concurrency test wrote a status to, and its ledger of last writes would not hold.
    _run(env, "sandbox_seed", "--key", DEMO_KEY, "--no-pull-requests")

    logs = var_dir / "logs"
    logs.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=(logs / "web.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            celery_argv("--concurrency", "2", "--loglevel", "INFO"),
            cwd=ROOT,
            env=env,
            stdout=(logs / "worker.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    try:
        _wait_until_healthy(url, processes, logs)
        _run(
            env,
            "team_connect",
            "demo",
            "--base-url",
            f"{url}/sandbox",
            "--name",
            "Acme (sandbox)",
            "--key-stdin",
            stdin=DEMO_KEY + "\n",
        )
        yield EmbeddedPortal(
            url=url,
            sandbox_api=f"{url}/sandbox/api/v1",
            key=DEMO_KEY,
            password=DEMO_PASSWORD,
            database=var_dir / "portal.sqlite3",
            logs=logs,
        )
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def server_errors_in(log: Path) -> list[str]:
    """Tracebacks and 5xx lines the server logged."""
    text = log.read_text(errors="replace")
    return re.findall(r'^.*(?:Traceback|" 5\d\d ).*$', text, flags=re.MULTILINE)

"""The database unreachable (a real connection attempt to a closed port, in a process of its
own): every page answers 503 with a plain "database unavailable" page, `/healthz` answers 503
naming the database, with DEBUG off and on (as `make run` runs)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
import django
django.setup()
from django.test import Client, override_settings

results = {}
for debug in (False, True):
    with override_settings(DEBUG=debug):
        anonymous = Client(raise_request_exception=False)
        signed_in = Client(raise_request_exception=False)
        signed_in.cookies["sessionid"] = "a" * 32
        for name, client, path in [
            ("healthz", anonymous, "/healthz"),
            ("sign_in", anonymous, "/login/"),
            ("home", signed_in, "/"),
            ("healthz_signed_in", signed_in, "/healthz"),
            ("post", signed_in, "/"),
        ]:
            if name == "sign_in":
                response = client.post(path, {"username": "ada", "password": "secret"})
            elif name == "post":
                response = client.post(path)
            else:
                response = client.get(path)
            results[f"{name}-{int(debug)}"] = {
                "status": response.status_code,
                "type": response.get("Content-Type", ""),
                "retry_after": response.get("Retry-After"),
                "body": response.content.decode(),
            }
print("RESULTS" + json.dumps(results))
"""


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_pages_answer_503_and_healthz_names_the_database_while_it_is_unreachable():
    port = _closed_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://portal@127.0.0.1:{port}/portal",
        "DATABASE_CONN_MAX_AGE": "0",
        "REDIS_URL": "",
    }
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULTS"))
    results = json.loads(line.removeprefix("RESULTS"))

    for debug in (0, 1):
        for name in ("healthz", "healthz_signed_in"):
            health = results[f"{name}-{debug}"]
            assert health["status"] == 503, (name, debug, health["body"][:500])
            body = json.loads(health["body"])
            assert body["database"] == "down"
            assert "database" in body["down"]
            assert "Error" not in health["body"]  # no exception class names
        for name in ("sign_in", "home", "post"):
            page = results[f"{name}-{debug}"]
            assert page["status"] == 503, (name, debug, page["body"][:500])
            assert page["type"].startswith("text/html")
            assert "Database unavailable" in page["body"]
            assert page["retry_after"] == "10"
            assert "Traceback" not in page["body"] and "OperationalError" not in page["body"]

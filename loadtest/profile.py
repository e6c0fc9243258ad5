"""Where the load test's time goes, one endpoint at a time, on the data it left behind.

`python -m loadtest.profile [--repeat 5]` with DATABASE_URL set to the load test's database
(e.g. postgres://postgres@127.0.0.1:5432/portal_load) runs each page of the scenario
in-process with Django's test client as one of the load users, and prints per URL the median
server time, the number of queries and the slowest queries with PostgreSQL's plan of the
slowest one (EXPLAIN ANALYZE). No server, no network: the figures are the view's own.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HTMX = {"HTTP_HX_REQUEST": "true"}


def _urls(team: str, repository: int, finding: int) -> list[tuple[str, str, dict]]:
    base = f"/t/{team}"
    return [
        ("dashboard", f"{base}/", {}),
        ("dashboard: quota (htmx)", f"{base}/dashboard/quota/", HTMX),
        ("findings (default sort)", f"{base}/findings/", {}),
        ("findings open, by age", f"{base}/findings/?status=open&sort=age", {}),
        (
            "findings high+critical open",
            f"{base}/findings/?severity=high&severity=critical&status=open&sort=severity",
            {},
        ),
        ("findings by file", f"{base}/findings/?sort=file", {}),
        ("findings search", f"{base}/findings/?q=token&sort=-last_detected", {}),
        ("findings repository", f"{base}/findings/?repository={repository}&sort=severity", {}),
        ("findings scan type", f"{base}/findings/?scan_type=secrets_scan&status=open", {}),
        ("findings (htmx fragment)", f"{base}/findings/?status=open&sort=-age", HTMX),
        ("finding", f"{base}/findings/{finding}/", {}),
        ("reports 30 days", f"{base}/reports/?period=30", {}),
        ("reports 90 days", f"{base}/reports/?period=90", {}),
        ("reports repository", f"{base}/reports/?period=30&repository={repository}", {}),
        ("reports: SLA list", f"{base}/reports/sla/?kind=breached&severity=high", {}),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.profile")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", type=int, default=1, help="plans to print per URL")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Fresh keys: published ones are refused with DEBUG off, and the seeded key is re-encrypted
    # with this process's keys below anyway.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault("PORTAL_HTTPS", "0")
    os.environ.setdefault("SANDBOX_ENABLED", "1")
    os.environ.setdefault("PORTAL_STATIC_MANIFEST", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from loadtest.seed import TEAM_SLUG, connection_rekey
    from triage.models import Finding, Membership, Repository, Team

    # The seeded key was encrypted with the keys of the run that seeded; use this process's.
    connection_rekey()
    team = Team.objects.get(slug=TEAM_SLUG)
    member = Membership.objects.filter(team=team, role="triager").select_related("user").first()
    repository = Repository.objects.filter(team=team).order_by("id").first()
    finding = Finding.objects.filter(team=team).order_by("id").first()
    client = Client()
    client.force_login(member.user)
    print(
        f"{Finding.objects.filter(team=team).count():,} findings; "
        f"as {member.user.username} ({member.role})"
    )
    for name, url, headers in _urls(team.slug, repository.pk, finding.pk):
        client.get(url, **headers)  # warm caches and connections
        times, captured = [], None
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url, **headers)
                times.append((time.perf_counter() - started) * 1000)
            captured = queries.captured_queries
        query_ms = sum(float(q["time"]) for q in captured) * 1000
        print(
            f"\n{name}: HTTP {response.status_code}, median {statistics.median(times):.0f} ms, "
            f"{len(captured)} queries taking {query_ms:.0f} ms\n  {url}"
        )
        slowest = sorted(captured, key=lambda q: float(q["time"]), reverse=True)
        for query in slowest[:3]:
            print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
        for query in slowest[: args.explain]:
            if float(query["time"]) * 1000 < 20 or not query["sql"].lstrip().startswith("SELECT"):
                continue
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {query['sql']}")
                plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
            print(f"    plan of the slowest:\n{plan}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

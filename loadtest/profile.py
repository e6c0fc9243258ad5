"""Where a page's time goes, layer by layer, on the load test's data (`make profile`).

`python -m loadtest.profile [--page NAME|URL] [--repeat 5]` with DATABASE_URL set to the load
test's database: the copy a run leaves behind (`<name>_load`, e.g.
postgres://postgres@127.0.0.1:5432/portal_load after `make loadtest`), or one built without
running the load by `make loadtest-seed` (which prints its URL). It requests each page of the
scenario (or the one named: a name below, the start of names, or a path of the load team)
in-process with Django's test client as one of the load users, and prints per page the median
over the repeats of each layer of its time (loadtest/layers.py): middleware, queries (count
and time), model building (the ORM less the database), templates, and the view's own Python;
then the slowest queries with PostgreSQL's plan of the slowest one (EXPLAIN ANALYZE). No
server, no network: the figures are Django's own, wall-clock.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import statistics
import sys
import warnings
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
        ("findings", f"{base}/findings/", {}),
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


def pages_chosen(pages: list[tuple[str, str, dict]], page: str | None, team: str):
    """The pages ``page`` names: all without it; a path as it is (htmx when it says so in
    its query: ``hx=1``); else the page of that exact name, or those whose names start so."""
    if not page:
        return pages
    if page.startswith("/"):
        if not page.startswith(f"/t/{team}/"):
            raise SystemExit(f"profile: {page} is not a page of the load team (/t/{team}/...)")
        return [(page, page, HTMX if "hx=1" in page else {})]
    exact = [entry for entry in pages if entry[0] == page]
    chosen = exact or [entry for entry in pages if entry[0].startswith(page)]
    if not chosen:
        names = ", ".join(repr(name) for name, _, _ in pages)
        raise SystemExit(f"profile: no page {page!r}; the pages are {names}, or a /t/... path")
    return chosen


def breakdown(measured: list, statuses: list[int]) -> list[str]:
    """The lines of one page's breakdown: each layer's median over the repeats."""
    from loadtest.layers import ORDER, QUERIES

    def median(values):
        return statistics.median(values) if values else 0.0

    totals = [layers.total_ms for layers in measured]
    counts = [len(layers.queries) for layers in measured]
    lines = [f"  {'layer':34} {'median ms':>9} {'share':>6}"]
    total = median(totals)
    for name in ORDER:
        value = median([layers.ms.get(name, 0.0) for layers in measured])
        label = f"queries ({median(counts):g})" if name == QUERIES else name
        if name == "view":
            label = "view (its own Python)"
        share = f"{100 * value / total:5.0f}%" if total else ""
        lines.append(f"  {label:34} {value:>9.1f} {share:>6}")
    lines.append(f"  {'total (in Django)':34} {total:>9.1f}")
    lines.append(
        f"  over {len(measured)} requests, HTTP {sorted(set(statuses))}; the layers' medians "
        "need not add up to the total's"
    )
    return lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.profile")
    parser.add_argument("--page", help="a page's name (or the start of names), or a /t/ path")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--explain", type=int, default=1, help="plans to print per URL")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("profile: --repeat must be at least 1")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Fresh keys: published ones are refused with DEBUG off, and the seeded key is re-encrypted
    # with this process's keys below anyway.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("PORTAL_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    os.environ.setdefault("PORTAL_HTTPS", "0")
    os.environ.setdefault("SANDBOX_ENABLED", "1")
    os.environ.setdefault("PORTAL_STATIC_MANIFEST", "0")
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Static files are not served here: no need to have collected them.
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers")
    os.environ.setdefault("PORTAL_OUTBOUND_ALLOW_HTTP", "1")
    os.environ.setdefault("PORTAL_OUTBOUND_ALLOWED_NETWORKS", "127.0.0.0/8")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client, override_settings

    from loadtest import layers
    from loadtest.seed import TEAM_SLUG, connection_rekey
    from triage.models import Finding, Membership, Repository, Team

    if Team.objects.filter(slug=TEAM_SLUG).first() is None:
        raise SystemExit(
            f"profile: no load team in {settings.DATABASES['default']['NAME']}: set "
            "DATABASE_URL to a load test database (`make loadtest-seed` builds one)"
        )

    # The seeded key was encrypted with the keys of the run that seeded; use this process's.
    connection_rekey()
    team = Team.objects.get(slug=TEAM_SLUG)
    member = Membership.objects.filter(team=team, role="triager").select_related("user").first()
    repository = Repository.objects.filter(team=team).order_by("id").first()
    finding = Finding.objects.filter(team=team).order_by("id").first()
    pages = pages_chosen(_urls(team.slug, repository.pk, finding.pk), args.page, team.slug)
    print(
        f"{Finding.objects.filter(team=team).count():,} findings in "
        f"{settings.DATABASES['default']['NAME']}; as {member.user.username} ({member.role})"
    )
    middleware = [layers.OUTER_MIDDLEWARE, *settings.MIDDLEWARE, layers.INNER_MIDDLEWARE]
    with contextlib.ExitStack() as stack:
        stack.enter_context(override_settings(MIDDLEWARE=middleware))
        stack.enter_context(layers.instrument())
        client = Client()
        client.force_login(member.user)
        for name, url, headers in pages:
            client.get(url, **headers)  # warm caches and connections
            measured, statuses = [], []
            for _ in range(args.repeat):
                with layers.measuring() as measure:
                    response = client.get(url, **headers)
                measured.append(measure)
                statuses.append(response.status_code)
            print(f"\n{name}: {url}")
            print("\n".join(breakdown(measured, statuses)))
            _slowest(connection, measured[-1].queries, explain=args.explain)
    return 0


def _slowest(connection, queries: list[tuple[str, object, float]], *, explain: int) -> None:
    slowest = sorted(queries, key=lambda query: query[2], reverse=True)
    if slowest:
        print("  slowest queries (last request):")
    for sql, _, ms in slowest[:3]:
        print(f"  {ms:7.1f} ms  {sql[:300]}")
    for sql, params, ms in slowest[:explain]:
        if ms < 20 or not sql.lstrip().startswith("SELECT") or params is None:
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(f"      {row[0]}" for row in cursor.fetchall())
        print(f"    plan of the slowest:\n{plan}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

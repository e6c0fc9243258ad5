"""`make loadtest`: the portal under load, end to end, on one machine.

Steps: a fresh PostgreSQL database of its own (migrated), a large sandbox organization and a
team with users of every role, gunicorn with production-like settings serving both the
portal and the sandbox (the Kolega emulator the bulk changes write to), the portal's own full
sync to mirror the organization, a Celery worker for the bulk jobs, then locust: browsing
users and users running bulk status changes, for a bounded time. Prints per endpoint and in
total requests/s, p50/p95/p99 and errors as the clients saw them, and the server's own CPU
time per request (p50/p95, measured in the server process: loadtest/server_cpu.py); in total,
the share of the requests the users' schedules asked for that were served (loadtest/
measures.py). Writes them to loadtest-results.json (and the headline figures to
bench-results.json), and stops every process it started.

`python -m loadtest.run [--users 100] [--bulk-users 10] [--duration 60] [--findings 100000]`;
`--short` is the CI size (8 + 2 users, 15 s, 5,000 findings). The database is named after
DATABASE_URL's with `_load` appended unless it already says so; every run makes it a fresh
copy of a seeded database (`<name>_seed_...`) that is built once per size, because mirroring
100,000 findings through the sync takes many minutes (`--reseed` builds it again). Redis is
database 14 (short: 15; --redis-db) of REDIS_URL's server, emptied first. `--seed-only`
builds the seeded database and its copy without running the load, for `make profile`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    # `python loadtest/run.py` puts loadtest/ first on the path, not the project.
    sys.path.insert(0, str(ROOT))

from bench.registry import Figure  # noqa: E402
from loadtest import machine_cpu  # noqa: E402
from loadtest.measures import cpu_records_parse, cpu_summary  # noqa: E402
from loadtest.server_cpu import CPU_DIR_ENV  # noqa: E402

WORK_ROOT = ROOT / "var" / "loadtest"
WORK_DIR = WORK_ROOT
RESULTS_FILE = ROOT / "loadtest-results.json"
SHORT_RESULTS_FILE = ROOT / "loadtest-results-short.json"
BENCH_RESULTS_FILE = ROOT / "bench-results.json"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/portal_load"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
# Redis databases of their own (emptied at the start of a run), apart from the portal's.
REDIS_DB = 14
SHORT_REDIS_DB = 15
BIN = Path(sys.executable).parent
P95_TARGET_MS = 300.0
P99_TARGET_MS = 1000.0
SERVED_TARGET_PERCENT = 95.0
# Part of the seeded database's name: raise it when what loadtest/seed.py writes changes.
SEED_VERSION = 1
# Sized for two cores: a process per core plus one, threads to overlap database waits.
GUNICORN_WORKERS = 3
GUNICORN_THREADS = 4


def _say(message: str) -> None:
    print(f"loadtest: {message}", flush=True)


@dataclass(frozen=True)
class Databases:
    """The load test's databases on the PostgreSQL server of DATABASE_URL."""

    server_url: str  # the URL with the database name left out
    load: str  # what the server under load uses; a fresh copy of `seed` on every run
    seed: str  # seeded and synced once per size and seed version, then only copied

    def url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{name}"))

    def admin(self):
        import psycopg

        return psycopg.connect(self.url("postgres"), autocommit=True)

    def exists(self, name: str) -> bool:
        with self.admin() as conn:
            query = "SELECT 1 FROM pg_database WHERE datname = %s"
            return conn.execute(query, (name,)).fetchone() is not None

    def create(self, name: str, *, template: str | None = None) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{suffix}')

    def analyze(self, name: str) -> None:
        """Vacuum and gather the planner's statistics, as autovacuum would have long done on
        a database in use: freshly bulk-loaded tables without them get nested-loop plans that
        take minutes (a repository's report, for one)."""
        import psycopg

        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")

    def rename(self, old: str, new: str) -> None:
        with self.admin() as conn:
            conn.execute(f'ALTER DATABASE "{old}" RENAME TO "{new}"')


def _databases(url: str, *, findings: int, users: int, bulk_users: int) -> Databases:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise SystemExit("the load test needs PostgreSQL: set DATABASE_URL to a postgres:// URL")
    name = parts.path.lstrip("/") or "portal"
    if not name.endswith("_load"):
        name = f"{name}_load"
    seed = f"{name}_seed_{findings}f_{users}u_{bulk_users}b_v{SEED_VERSION}"
    return Databases(server_url=urlunsplit(parts._replace(path="")), load=name, seed=seed)


def _load_redis_url(url: str, database: int) -> str:
    """Database ``database`` of the Redis server of ``url``, emptied: no task queued and no
    cache entry left by an earlier run."""
    import redis

    url = urlunsplit(urlsplit(url)._replace(path=f"/{database}"))
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


def _environment(*, database_url: str, redis_url: str, bulk_users: int) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "PORTAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            # Plain HTTP on the loopback interface: no TLS in front of this server.
            "PORTAL_HTTPS": "0",
            # The sandbox is this same server, over plain HTTP on the loopback interface.
            "PORTAL_OUTBOUND_ALLOW_HTTP": "1",
            "PORTAL_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.0/8",
            "SANDBOX_ENABLED": "1",
            "PORTAL_STATIC_MANIFEST": "1",
            "STATIC_ROOT": str(WORK_DIR / "static"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PORTAL_VAR_DIR": str(WORK_DIR / "var"),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            "LOADTEST_TEAM": "load",
            "LOADTEST_PASSWORD": secrets.token_urlsafe(16),
            "LOADTEST_BULK_USERS": str(bulk_users),
        }
    )
    return env


def _run(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    result = subprocess.run(  # noqa: S603  (fixed argument lists, no shell)
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    return result.stdout


def _json_of(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def _process(name: str, args: list[str], env: dict[str, str]):
    """A background process with its output in var/loadtest/<name>.log, stopped on exit."""
    log_path = WORK_DIR / f"{name}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process, log_path
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        _say(f"stopped {name} (pid {process.pid})")


def _wait_until(ready, *, what: str, process, log_path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited:\n{log_path.read_text()[-4000:]}")
        if ready():
            return
        time.sleep(0.3)
    raise RuntimeError(
        f"{what} was not ready within {timeout:.0f}s:\n{log_path.read_text()[-4000:]}"
    )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310  (loopback URL)
            return response.status == 200
    except OSError:
        return False


def _gunicorn(env: dict[str, str], port: int, *, name: str):
    args = [
        str(BIN / "gunicorn"),
        "portal.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(GUNICORN_WORKERS),
        "--threads",
        str(GUNICORN_THREADS),
        "--worker-class",
        "gthread",
        "--timeout",
        "60",
        # Clients keep connections open between clicks and polls, as a reverse proxy in front
        # would let browsers do; with gunicorn's 2 s default, the server closes a connection
        # just as a 2 s poll reuses it, which a browser retries unseen and locust cannot.
        "--keep-alive",
        "75",
        "--log-level",
        "warning",
    ]
    return _process(name, args, env)


def _worker(env: dict[str, str]):
    args = [
        str(BIN / "celery"),
        "-A",
        "portal",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        "2",
        "--hostname",
        "loadtest@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    return _process("worker", args, env)


@contextmanager
def _sampling():
    sampler = machine_cpu.Sampler().start()
    try:
        yield sampler
    finally:
        sampler.stop()


def _server_cpu(results: dict) -> dict:
    """The server's CPU per request in the measured window, from the files its processes
    wrote; added to each endpoint's figures (and the total's) as server_cpu."""
    lines = []
    for path in sorted((WORK_DIR / "server-cpu").glob("*.tsv")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    start, end = results["window_epoch"]
    summary = cpu_summary(cpu_records_parse(lines), start, end)
    for name, figures in results["endpoints"].items():
        figures["server_cpu"] = summary["endpoints"].get(name)
    results["total"]["server_cpu"] = summary["total"]
    results["server_cpu"] = summary
    return summary


def _cell(figures: dict | None, key: str) -> str:
    return f"{figures[key]:>7.1f}" if figures else f"{'-':>7}"


def _table(results: dict) -> str:
    columns = ("requests", "requests_per_second", "p50_ms", "p95_ms", "p99_ms", "errors")
    header = f"{'endpoint':46} {'requests':>9} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
    header += f"{'p99 ms':>7} {'errors':>6} {'cpu p50':>7} {'cpu p95':>7}"
    lines = [header, "-" * len(header)]
    rows = [*results["sign_in"].items(), *results["endpoints"].items()]
    rows = [(name, figures) for name, figures in rows if figures["requests"]]
    rows.append(("TOTAL (HTTP, measured window)", results["total"]))
    for name, figures in rows:
        values = [figures[column] for column in columns]
        cpu = figures.get("server_cpu")
        lines.append(
            f"{name[:46]:46} {values[0]:>9,} {values[1]:>7.1f} {values[2]:>7.0f} "
            f"{values[3]:>7.0f} {values[4]:>7.0f} {values[5]:>6} "
            f"{_cell(cpu, 'p50_ms')} {_cell(cpu, 'p95_ms')}"
        )
    served = results["served"]
    lines.append(
        f"served: {served['served']:,} of {served['asked_for']:,.1f} requests asked for "
        f"({served['served_percent']:g} %; {served['due_but_not_sent']:,.1f} due but not sent)"
    )
    lines.append(
        "(ms on the client; cpu: the server's CPU time per request in ms, sign-ins not measured)"
    )
    routes = results.get("server_cpu", {}).get("routes", {})
    if routes:
        lines += [
            "",
            f"{'server CPU by route':46} {'requests':>9} {'cpu p50':>7} {'cpu p95':>7} "
            f"{'cpu s':>7}",
        ]
        for name, figures in sorted(routes.items(), key=lambda item: -item[1]["total_seconds"]):
            lines.append(
                f"{name[:46]:46} {figures['requests']:>9,} {figures['p50_ms']:>7.1f} "
                f"{figures['p95_ms']:>7.1f} {figures['total_seconds']:>7.2f}"
            )
    lines += machine_cpu.report_lines(results.get("machine_cpu"))
    return "\n".join(lines)


def _figures(results: dict) -> list[Figure]:
    total = results["total"]
    served = results["served"]["served_percent"]
    return [
        Figure("loadtest_requests_per_second", total["requests_per_second"], "requests/s"),
        Figure("loadtest_p50_ms", total["p50_ms"], "ms"),
        Figure(
            "loadtest_p95_ms",
            total["p95_ms"],
            "ms",
            f"p95 < {P95_TARGET_MS:g} ms",
            bool(total["requests"]) and total["p95_ms"] < P95_TARGET_MS,
        ),
        Figure(
            "loadtest_p99_ms",
            total["p99_ms"],
            "ms",
            f"p99 < {P99_TARGET_MS:g} ms",
            bool(total["requests"]) and total["p99_ms"] < P99_TARGET_MS,
        ),
        Figure(
            "loadtest_errors", results["errors"], "errors", "errors == 0", results["errors"] == 0
        ),
        Figure(
            "loadtest_served_percent",
            served,
            "%",
            f"served >= {SERVED_TARGET_PERCENT:g} %",
            served >= SERVED_TARGET_PERCENT,
        ),
    ]


def _record_bench_figures(figures: list[Figure]) -> None:
    existing = json.loads(BENCH_RESULTS_FILE.read_text()) if BENCH_RESULTS_FILE.exists() else {}
    for figure in figures:
        existing[figure.name] = figure.as_json()
    BENCH_RESULTS_FILE.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


def _seed(env: dict[str, str], databases: Databases, *, findings, users, bulk_users) -> None:
    """Seed the sandbox organization, the team and its users, and mirror the organization
    with the portal's full sync against a server of its own; the database is complete only
    once renamed to its final name, so an interrupted seeding is never reused."""
    partial = f"{databases.seed}_partial"
    databases.create(partial)
    env = {**env, "DATABASE_URL": databases.url(partial)}
    _run(env, "manage.py", "migrate", "--no-input")
    port = _free_port()
    seeded = _json_of(
        _run(
            env,
            "-m",
            "loadtest.seed",
            "prepare",
            "--findings",
            str(findings),
            "--browsing-users",
            str(users),
            "--bulk-users",
            str(bulk_users),
            "--base-url",
            f"http://127.0.0.1:{port}/sandbox",
        )
    )
    _say(
        f"sandbox organization: {seeded['sandbox_findings']:,} findings, "
        f"{seeded['sandbox_events']:,} events in {seeded['repositories']} repositories "
        f"({seeded['seconds']}s); {seeded['users']} users"
    )
    with _server(env, port, name="gunicorn-seed"):
        mirrored = _json_of(
            _run(
                env,
                "-m",
                "loadtest.seed",
                "mirror",
                "--connection",
                str(seeded["connection"]),
                timeout=3600,
            )
        )
    _say(
        f"mirrored {mirrored['findings']:,} findings and {mirrored['events']:,} events by a "
        f"full sync ({mirrored['sync_seconds']}s, {mirrored['sync_requests']} requests); "
        f"report snapshots in {mirrored['snapshot_seconds']}s"
    )
    if mirrored["findings"] != findings:
        raise RuntimeError(f"expected {findings} mirrored findings, got {mirrored['findings']}")
    databases.analyze(partial)
    databases.rename(partial, databases.seed)


@contextmanager
def _server(env: dict[str, str], port: int, *, name: str = "gunicorn"):
    with _gunicorn(env, port, name=name) as (server, log_path):
        _wait_until(
            lambda: _healthy(f"http://127.0.0.1:{port}/healthz"),
            what="gunicorn",
            process=server,
            log_path=log_path,
        )
        _say(f"{name} on port {port} ({GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads)")
        yield server


def run(
    *,
    users: int,
    bulk_users: int,
    duration: float,
    findings: int,
    short: bool,
    database_url: str,
    redis_url: str,
    reseed: bool = False,
    redis_db: int | None = None,
    seed_only: bool = False,
) -> dict:
    started = time.monotonic()
    databases = _databases(database_url, findings=findings, users=users, bulk_users=bulk_users)
    # One folder per database: runs on other databases (CI's, say) may go on at the same time.
    global WORK_DIR
    WORK_DIR = WORK_ROOT / databases.load
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    if redis_db is None:
        redis_db = SHORT_REDIS_DB if short else REDIS_DB
    redis_url = _load_redis_url(redis_url, redis_db)
    env = _environment(
        database_url=databases.url(databases.load), redis_url=redis_url, bulk_users=bulk_users
    )
    if reseed or not databases.exists(databases.seed):
        _say(f"seeding {databases.seed} (once for this size)")
        _seed(env, databases, findings=findings, users=users, bulk_users=bulk_users)
    else:
        _say(f"reusing the seeded database {databases.seed} (--reseed to build it again)")
    # Every run starts from the same data: a copy of the seeded database.
    databases.create(databases.load, template=databases.seed)
    _say(f"database {databases.load} (a copy of {databases.seed}), redis {redis_url}")
    _run(env, "manage.py", "migrate", "--no-input")
    # Statistics are copied with the database, but migrations may have added tables since.
    databases.analyze(databases.load)
    _run(env, "manage.py", "collectstatic", "--no-input")
    port = _free_port()
    host = f"http://127.0.0.1:{port}"
    ready = _json_of(_run(env, "-m", "loadtest.seed", "retarget", "--base-url", f"{host}/sandbox"))
    _say(
        f"{ready['findings']:,} mirrored findings, {ready['events']:,} events, "
        f"{ready['users']} users; report snapshots "
        + ("rebuilt" if ready["snapshots_rebuilt"] else "current")
    )
    if ready["findings"] != findings:
        raise RuntimeError(f"expected {findings} mirrored findings, got {ready['findings']}")
    if seed_only:
        return {"database_url": databases.url(databases.load), "findings": ready["findings"]}
    # The measured server writes down each request's CPU time (loadtest/server_cpu.py).
    server_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "loadtest.server_settings",
        CPU_DIR_ENV: str(WORK_DIR / "server-cpu"),
    }
    with ExitStack() as stack:
        stack.enter_context(_server(server_env, port))
        worker, worker_log = stack.enter_context(_worker(env))
        _wait_until(
            lambda: " ready." in worker_log.read_text(),
            what="the Celery worker",
            process=worker,
            log_path=worker_log,
        )
        _say(f"locust: {users} browsing + {bulk_users} bulk users for {duration:g}s")
        load_before = os.getloadavg()[0]
        # Every process's CPU, sampled through the run; the measured window is cut out below.
        sampler = stack.enter_context(_sampling())
        swarm_out = WORK_DIR / "swarm.json"
        _run(
            env,
            "-m",
            "loadtest.swarm",
            "--host",
            host,
            "--users",
            str(users),
            "--bulk-users",
            str(bulk_users),
            "--duration",
            str(duration),
            "--out",
            str(swarm_out),
            timeout=duration + 240 + 5 * (users + bulk_users),
        )
        results = json.loads(swarm_out.read_text())
        results["machine_cpu"] = machine_cpu.cpu_by_group(sampler.stop(), *results["window_epoch"])
        # Jobs still running when locust stopped stay pending; the finished ones are checked.
        jobs = results["bulk_jobs"] = _json_of(_run(env, "-m", "loadtest.seed", "jobs"))
        # A bulk change the sandbox does not hold is an error like any failed request.
        results["errors"] += jobs["failed"] + jobs["changed_but_not_in_sandbox"]
        # Other work on the machine skews every latency: keep how busy it was with the figures.
        results["load_average_1min"] = {
            "before": round(load_before, 2),
            "after": round(os.getloadavg()[0], 2),
        }
    _server_cpu(results)
    results["findings"] = ready["findings"]
    results["short"] = short
    results["server"] = f"gunicorn {GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads"
    results["cpu_count"] = os.cpu_count()
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.run", description=__doc__)
    parser.add_argument("--users", type=int, help="browsing users (default 100; short 8)")
    parser.add_argument("--bulk-users", type=int, help="bulk-change users (default 10; short 2)")
    parser.add_argument("--duration", type=float, help="measured seconds (default 60; short 15)")
    parser.add_argument("--findings", type=int, help="mirrored findings (100,000; short 5,000)")
    parser.add_argument("--short", action="store_true", help="the small CI size")
    parser.add_argument("--results", type=Path, help="where to write the figures (JSON)")
    parser.add_argument(
        "--reseed", action="store_true", help="seed and sync again instead of reusing the seed"
    )
    parser.add_argument(
        "--seed-only",
        action="store_true",
        help="build the seeded database and a copy of it ready to profile, run no load",
    )
    parser.add_argument(
        "--redis-db", type=int, help="the Redis database to empty and use (14; short 15)"
    )
    args = parser.parse_args(argv)
    sizes = (8, 2, 15.0, 5_000) if args.short else (100, 10, 60.0, 100_000)
    users = sizes[0] if args.users is None else args.users
    bulk_users = sizes[1] if args.bulk_users is None else args.bulk_users
    duration = sizes[2] if args.duration is None else args.duration
    findings = sizes[3] if args.findings is None else args.findings
    results = run(
        users=users,
        bulk_users=bulk_users,
        duration=duration,
        findings=findings,
        short=args.short,
        database_url=os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
        redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        reseed=args.reseed,
        redis_db=args.redis_db,
        seed_only=args.seed_only,
    )
    if args.seed_only:
        print(
            f"{results['findings']:,} findings in {results['database_url']}; profile a page "
            f"with: DATABASE_URL={results['database_url']} make profile PAGE=findings"
        )
        return 0
    print(_table(results))
    total = results["total"]
    print(
        f"\n{results['findings']:,} findings, {users} browsing + {bulk_users} bulk users, "
        f"{results['duration_seconds']}s measured after {results['signed_in']} sign-ins "
        f"({results['sign_in_seconds']}s): {total['requests_per_second']} requests/s, "
        f"p50 {total['p50_ms']} ms, p95 {total['p95_ms']} ms, p99 {total['p99_ms']} ms, "
        f"{results['errors']} errors, served {results['served']['served_percent']:g} %; "
        f"load average {results['load_average_1min']}"
    )
    jobs = results["bulk_jobs"]
    print(
        f"bulk jobs: {jobs['jobs']} started, {jobs['finished']} finished; items: "
        f"{jobs['changed']} changed, {jobs['unchanged']} unchanged, {jobs['failed']} failed, "
        f"{jobs['pending']} pending; changed but not so in the sandbox: "
        f"{jobs['changed_but_not_in_sandbox']}"
    )
    for failure in results["failures"] + results["exceptions"]:
        print(f"  failure: {failure}")
    figures = _figures(results)
    results["figures"] = {figure.name: figure.as_json() for figure in figures}
    results_file = args.results or (SHORT_RESULTS_FILE if args.short else RESULTS_FILE)
    results_file.write_text(json.dumps(results, indent=2) + "\n")
    # The short CI run is too small to stand for the figures.
    if not args.short:
        _record_bench_figures(figures)
    for figure in figures:
        if figure.met is not None:
            verdict = "met" if figure.met else "NOT MET"
            print(
                f"{figure.name}: {figure.value:g} {figure.unit} (target {figure.target}) {verdict}"
            )
    print(f"figures written to {results_file.name}")
    failed = [figure for figure in figures if figure.met is False]
    if args.short:
        # Latency on a shared CI machine is not the measure; errors are.
        failed = [figure for figure in failed if figure.name == "loadtest_errors"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

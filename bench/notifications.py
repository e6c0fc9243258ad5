"""Delivering 1,000 notifications to a local receiver that answers after 50 ms.

The receiver is a threaded HTTP server in this process. The deliveries are sent by real
Celery workers started as README ("Notifications") and `docker-compose.yml` run the mail
worker: `-Q mail --pool threads --concurrency 16` (deliveries wait on the network, so
threads), two of them (one per core, as the service's replicas). The notifications are 20
for each of 50 teams with a signed-webhook channel each, so no channel goes past its rate
limit (30 a minute by default); they are recorded in one transaction, as a sync records its
events, and the clock runs from the commit (which queues the tasks) until every delivery is
delivered.

`python -m bench.notifications <receiver-url>` is the measured child: it sets up the teams,
records the notifications and waits; it prints one JSON object.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench import common
from bench.registry import Figure, benchmark

NOTIFICATIONS = 1000
TEAMS = 50
RECEIVER_LATENCY_SECONDS = 0.05
TARGET_SECONDS = 20.0
# The mail worker as README and docker-compose.yml run it.
MAIL_WORKER_OPTIONS = ("-Q", "mail", "--pool", "threads", "--concurrency", "16")
# The `mail-worker` service's replicas: one process per core lifts the interpreter lock.
MAIL_WORKERS = 2
SECRET = "bench-signing-secret-0123456789"  # noqa: S105 (a bench channel's key)


@contextmanager
def local_receiver():
    """A local receiver answering every POST with 200 after 50 ms; yields (url, counter)."""
    received = {"count": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
            time.sleep(RECEIVER_LATENCY_SECONDS)
            with lock:
                received["count"] += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", received
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def _mail_workers(env: dict[str, str]):
    """`MAIL_WORKERS` mail workers, as the `mail-worker` service's replicas."""
    with ExitStack() as stack:
        yield [stack.enter_context(_mail_worker(env, n)) for n in range(MAIL_WORKERS)]


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _purge(env: dict[str, str]) -> None:
    """Messages a previous run left on the queue name deliveries of another database."""
    subprocess.run(  # noqa: S603 (argv built here, no outside input)
        [str(Path(sys.executable).parent / "celery"), "-A", "portal", "purge", "-f", "-Q", "mail"],
        cwd=common.ROOT,
        env=env,
        capture_output=True,
        check=False,
    )


@contextmanager
def _mail_worker(env: dict[str, str], number: int):
    log = common.VAR / f"notifications-worker-{number}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    celery = str(Path(sys.executable).parent / "celery")
    with log.open("w") as out:
        worker = subprocess.Popen(  # noqa: S603 (argv built here, no outside input)
            [
                celery,
                "-A",
                "portal",
                "worker",
                *MAIL_WORKER_OPTIONS,
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
                "--hostname",
                f"bench-mail-{number}@%h",
            ],
            cwd=common.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "ready." not in log.read_text():
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the mail worker did not start:\n{log.read_text()}")
                time.sleep(0.2)
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()


@benchmark("notifications")
def notifications_benchmark() -> list[Figure]:
    database_url = common.database_url("notifications")
    env = common.environment(database_url, **common.LOOPBACK_OUTBOUND)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=common.ROOT,
        env=env,
        capture_output=True,
        check=True,
    )
    _purge(env)
    with local_receiver() as (url, received), _mail_workers(env) as workers:
        idle = sum(_cpu_seconds(worker.pid) for worker in workers)
        result = common.run_child(
            ["-m", "bench.notifications", url], env, what="notifications benchmark"
        )
        worker_cpu = sum(_cpu_seconds(worker.pid) for worker in workers) - idle
    load = os.getloadavg()[0]
    seconds = result["seconds"]
    print(
        f"   {result['delivered']} delivered in {seconds:.1f}s, receiver got {received['count']}",
        flush=True,
    )
    met = seconds < TARGET_SECONDS and result["delivered"] == NOTIFICATIONS
    return [
        Figure("notifications_delivery_seconds", round(seconds, 2), "s", "< 20 s", met),
        Figure("notifications_delivered_per_second", round(result["delivered"] / seconds, 1), "/s"),
        Figure("notifications_record_seconds", round(result["record_seconds"], 2), "s"),
        Figure("notifications_receiver_requests", received["count"], "requests"),
        # The CPU the workers spent per delivery, and how busy the machine was meanwhile: on
        # a machine others share, the wall time follows the CPU this run was given.
        Figure(
            "notifications_worker_cpu_ms_per_delivery",
            round(worker_cpu * 1000 / max(result["delivered"], 1), 2),
            "ms",
        ),
        Figure("notifications_bench_load_average", round(load, 2), "1-min load"),
    ]


def _measure(receiver_url: str) -> dict:
    import django

    django.setup()
    from django.db import transaction
    from django.db.models import Max

    from triage.models import (
        Delivery,
        EventKind,
        NotificationChannel,
        NotificationRule,
        Team,
    )
    from triage.models.notifications import notification_record

    for n in range(TEAMS):
        team = Team.objects.create(name=f"Bench notify {n}", slug=f"bench-notify-{n}")
        channel = NotificationChannel.objects.create(
            team=team,
            name="Hooks",
            kind=NotificationChannel.Kind.WEBHOOK,
            url=receiver_url,
            url_hint="127.0.0.1",
            secret=SECRET,
        )
        NotificationRule.objects.create(
            team=team, channel=channel, event_kind=EventKind.SCAN_FINISHED
        )
    teams = list(Team.objects.filter(slug__startswith="bench-notify-").values_list("pk", flat=True))
    started = time.perf_counter()
    with transaction.atomic():
        for index in range(NOTIFICATIONS):
            notification_record(
                team_id=teams[index % len(teams)],
                event_kind=EventKind.SCAN_FINISHED,
                dedupe_key=f"bench:{index}",
                data={"scan_batch": {"repository": f"repo-{index}", "status": "completed"}},
            )
        # The outbox is written; its commit queues the deliveries: the clock starts here.
        recorded = time.perf_counter()
    deadline = time.monotonic() + 300
    delivered = 0
    while time.monotonic() < deadline:
        delivered = Delivery.objects.filter(state=Delivery.State.DELIVERED).count()
        if delivered >= NOTIFICATIONS:
            break
        time.sleep(0.2)  # the poll is the harness's, not the product's: keep it light
    seconds = time.perf_counter() - recorded
    last = Delivery.objects.aggregate(last=Max("delivered_at"))["last"]
    return {
        "seconds": seconds,
        "record_seconds": recorded - started,
        "delivered": delivered,
        "attempts": sum(Delivery.objects.values_list("attempts", flat=True)),
        "last_delivered_at": last.isoformat() if last else None,
    }


if __name__ == "__main__":
    print(json.dumps(_measure(sys.argv[1])))

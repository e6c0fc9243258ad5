"""The load test's split of the machine's CPU by kind of process over the measured window."""

import subprocess
import sys
import time

import pytest

from loadtest import machine_cpu
from loadtest.machine_cpu import OTHER, Sample, Sampler, cpu_by_group, group_of, report_lines

TICKS = machine_cpu.TICKS_PER_SECOND


@pytest.mark.parametrize(
    ("command", "group"),
    [
        ("/work/.venv/bin/python /work/.venv/bin/gunicorn portal.wsgi -w 3", "web (gunicorn)"),
        ("postgres: 15/main: postgres portal_load 127.0.0.1(5120) idle", "PostgreSQL"),
        ("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main", "PostgreSQL"),
        ("/work/.venv/bin/python -m celery -A portal worker -Q bulk", "Celery worker"),
        ("/work/.venv/bin/python -m loadtest.swarm --host http://127.0.0.1:5000", "load generator"),
        ("redis-server 127.0.0.1:6379", "Redis"),
        ("/usr/sbin/sshd -D", OTHER),
        ("", OTHER),
    ],
)
def test_each_process_is_put_with_its_kind(command, group):
    assert group_of(command) == group


def test_cores_are_what_each_kind_used_between_the_window_edges():
    web, pg, gone, new = "web (gunicorn)", "PostgreSQL", OTHER, OTHER
    samples = [
        # Before the window: not counted.
        Sample(99.0, 0, 0, {1: (0, web)}),
        Sample(100.0, 0, 0, {1: (10 * TICKS, web), 2: (0, pg), 3: (0, gone)}),
        Sample(
            101.0, TICKS, 2 * TICKS, {1: (11 * TICKS, web), 2: (TICKS // 2, pg), 3: (TICKS, gone)}
        ),
        # Process 3 ended, process 4 started between two samples: neither counts here.
        Sample(102.0, 2 * TICKS, 4 * TICKS, {1: (12 * TICKS, web), 2: (TICKS, pg), 4: (5, new)}),
        # After the window: not counted.
        Sample(103.0, 4 * TICKS, 6 * TICKS, {1: (20 * TICKS, web)}),
    ]

    summary = cpu_by_group(samples, 100.0, 102.0)

    assert summary["seconds"] == 2.0
    assert summary["by_group"]["web (gunicorn)"] == 1.0  # 2 s of CPU in 2 s
    assert summary["by_group"]["PostgreSQL"] == 0.5
    assert summary["by_group"][OTHER] == 0.5  # process 3's one second, then nothing
    assert summary["busy_cores"] == pytest.approx(0.5 * (machine_cpu.os.cpu_count() or 1))


def test_fewer_than_two_samples_in_the_window_say_nothing():
    assert cpu_by_group([Sample(100.0, 0, 0)], 99.0, 101.0) is None
    assert cpu_by_group([], 0.0, 1.0) is None
    assert report_lines(None) == []


def test_the_report_lists_the_kinds_busiest_first():
    summary = {
        "seconds": 60.0,
        "cores": 2,
        "busy_cores": 1.96,
        "by_group": {"web (gunicorn)": 1.2, "PostgreSQL": 0.5, OTHER: 0.1},
    }
    lines = report_lines(summary)
    assert "1.96 of 2 cores busy" in lines[1]
    assert [line.split()[0] for line in lines[2:]] == ["web", "PostgreSQL", OTHER]


@pytest.mark.skipif(not Sampler.available(), reason="reads /proc (Linux)")
def test_a_busy_process_is_seen_using_about_a_core():
    """A real child process spinning for two seconds, read from /proc by the thread the load
    test runs: its readings grow by about a core's worth of ticks a second, and the machine
    was busy at least that much (other work on the machine may add to it, not take away)."""
    sampler = Sampler(interval=0.25).start()
    started = time.time()
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 2\nwhile time.time() < end: pass"]
    )
    spinner.wait(timeout=30)
    ended = time.time()
    samples = sampler.stop()

    seen = [(s.at, s.processes[spinner.pid][0]) for s in samples if spinner.pid in s.processes]
    (first_at, first_ticks), (last_at, last_ticks) = seen[0], seen[-1]
    cores = (last_ticks - first_ticks) / TICKS / (last_at - first_at)
    # At least a part of a core whatever else runs (the suite runs it beside other work).
    assert 0.25 <= cores <= 1.1
    assert {s.processes[spinner.pid][1] for s in samples if spinner.pid in s.processes} == {OTHER}
    assert cpu_by_group(samples, started, ended)["busy_cores"] >= 0.25

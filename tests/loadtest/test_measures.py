"""The load test's served share and the server's CPU per request, from recorded data."""

import json

import pytest

from loadtest import run
from loadtest.measures import (
    CpuRecord,
    UserSchedule,
    cpu_records_parse,
    cpu_summary,
    percentile,
    served,
)


def test_a_user_keeping_to_its_schedule_is_served_every_request_of_the_window():
    user = UserSchedule(started=0.0, clock=0.0)
    # Requests due at 0, 3, 6 and 9, each answered 0.1 s later, 3 s of think time between.
    for _ in range(4):
        user.requests.append((user.clock, user.clock + 0.1, True))
        user.pause(3.0, now=user.clock + 0.1)

    figures = served([user], start=2.0, end=12.0)

    # 3, 6 and 9 are in the window; 0 was asked for before it; the next is due at 12.
    assert figures == {
        "asked_for": 3.0,
        "served": 3,
        "due_but_not_sent": 0.0,
        "served_percent": 100.0,
    }


def test_pausing_behind_schedule_sleeps_only_what_is_left():
    user = UserSchedule(started=10.0, clock=10.0)

    assert user.pause(3.0, now=11.0) == 2.0
    assert user.clock == 13.0
    # The server kept the user 5 s past its next request's time: no pause at all.
    assert user.pause(1.0, now=18.0) == 0.0
    assert user.clock == 14.0


def test_requests_failed_or_answered_after_the_window_are_asked_for_but_not_served():
    user = UserSchedule(started=0.0, clock=8.0)
    user.requests += [(1.0, 1.2, True), (2.0, 2.5, False), (4.0, 10.5, True), (8.0, 8.1, True)]
    user.clock = 12.0  # on schedule: next request due after the window

    figures = served([user], start=0.0, end=10.0)

    assert figures["asked_for"] == 4.0
    assert figures["served"] == 2
    assert figures["served_percent"] == 50.0


def test_a_user_behind_its_schedule_at_the_end_had_more_requests_due_at_its_own_pace():
    on_time = UserSchedule(started=0.0, clock=22.0)
    on_time.requests += [(t, t + 0.2, True) for t in (0.0, 5.0, 10.0, 15.0, 20.0)]
    # Four requests in its first 8 s of schedule (one per 2 s), then stuck: its clock says
    # its next request was due at 8, and the window closes at 20.
    behind = UserSchedule(started=0.0, clock=8.0)
    behind.requests += [(t, t + 0.1, True) for t in (0.0, 2.0, 4.0, 6.0)]

    figures = served([on_time, behind], start=0.0, end=20.0)

    # on_time: 0, 5, 10, 15 in the window, all served. behind: 4 served and 12 s unreached
    # at 4 requests per 8 s: 6 more due.
    assert figures["due_but_not_sent"] == 6.0
    assert figures["asked_for"] == 14.0
    assert figures["served"] == 8
    assert figures["served_percent"] == pytest.approx(100 * 8 / 14, abs=0.01)


def test_no_requests_asked_for_is_nothing_served_not_a_division_by_zero():
    assert served([], start=0.0, end=10.0)["served_percent"] == 0.0


def test_percentile_is_the_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_server_cpu_lines_are_parsed_and_a_line_cut_short_is_left_out():
    lines = [
        "100.000\t12.500\tGET\tfindings\tfindings\n",
        "100.500\t3.250\tGET\tdashboard\t\n",
        "101.0\t4.0\tGET\tfind",  # the server stopped while writing
        "x\t1\tGET\tfindings\tfindings",
    ]

    assert cpu_records_parse(lines) == [
        CpuRecord(100.0, 12.5, "GET", "findings", "findings"),
        CpuRecord(100.5, 3.25, "GET", "dashboard", ""),
    ]


def test_cpu_summary_keeps_the_window_and_groups_by_endpoint_and_route():
    records = [CpuRecord(50.0, 999.0, "POST", "login", "sign in: submit")]  # before the window
    records += [
        CpuRecord(100.0 + i, float(i + 1), "GET", "findings", "findings") for i in range(20)
    ]
    records += [
        CpuRecord(130.0, 30.0, "GET", "findings", "findings: another page (htmx)"),
        CpuRecord(131.0, 2.0, "GET", "healthz", ""),
        CpuRecord(200.0, 500.0, "GET", "findings", "findings"),  # after the window
    ]

    summary = cpu_summary(records, start=100.0, end=150.0)

    assert summary["endpoints"]["GET findings"] == {
        "requests": 20,
        "p50_ms": 10.0,
        "p95_ms": 19.0,
        "mean_ms": 10.5,
        "total_seconds": 0.21,
    }
    assert summary["endpoints"]["GET findings: another page (htmx)"]["p95_ms"] == 30.0
    # A request the client did not name has a route, not an endpoint.
    assert set(summary["endpoints"]) == {"GET findings", "GET findings: another page (htmx)"}
    assert summary["routes"]["findings"]["requests"] == 21
    assert summary["routes"]["healthz"]["requests"] == 1
    # The total is over the requests the users made (21), not the server's other work.
    assert summary["total"]["requests"] == 21


def _results(served_percent=97.0, p99=400.0) -> dict:
    endpoint = {
        "requests": 3,
        "requests_per_second": 0.2,
        "p50_ms": 40,
        "p95_ms": 90,
        "p99_ms": 90,
        "errors": 0,
    }
    return {
        "window_epoch": [100.0, 160.0],
        "sign_in": {"POST sign in: submit": {**endpoint}},
        "endpoints": {"GET findings": {**endpoint}, "GET reports": {**endpoint}},
        "total": {**endpoint, "requests": 6, "p99_ms": p99},
        "errors": 0,
        "served": {
            "asked_for": 100.0,
            "served": int(served_percent),
            "due_but_not_sent": 1.0,
            "served_percent": served_percent,
        },
    }


def test_the_report_joins_the_servers_cpu_files_to_the_client_figures(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "WORK_DIR", tmp_path)
    folder = tmp_path / "server-cpu"
    folder.mkdir()
    # Two gunicorn workers, each with its own file.
    (folder / "101.tsv").write_text(
        "110.0\t8.0\tGET\tfindings\tfindings\n120.0\t12.0\tGET\tfindings\tfindings\n"
    )
    (folder / "102.tsv").write_text(
        "130.0\t10.0\tGET\tfindings\tfindings\n90.0\t70.0\tPOST\tlogin\tsign in: submit\n"
    )
    results = _results()

    summary = run._server_cpu(results)

    assert results["endpoints"]["GET findings"]["server_cpu"]["p50_ms"] == 10.0
    assert results["endpoints"]["GET findings"]["server_cpu"]["p95_ms"] == 12.0
    assert results["endpoints"]["GET reports"]["server_cpu"] is None
    assert results["total"]["server_cpu"]["requests"] == 3
    assert summary["routes"] == {
        "findings": {
            "requests": 3,
            "p50_ms": 10.0,
            "p95_ms": 12.0,
            "mean_ms": 10.0,
            "total_seconds": 0.03,
        }
    }
    assert results["server_cpu"] is summary
    table = run._table(results)
    header, _, *rows = table.splitlines()
    assert rows[-2:] == [
        "server CPU by route                             requests cpu p50 cpu p95   cpu s",
        "findings                                               3    10.0    12.0    0.03",
    ]
    assert header.split()[-4:] == ["cpu", "p50", "cpu", "p95"]
    findings_row = next(row for row in rows if row.startswith("GET findings"))
    assert findings_row.split()[-2:] == ["10.0", "12.0"]
    reports_row = next(row for row in rows if row.startswith("GET reports"))
    assert reports_row.split()[-2:] == ["-", "-"]
    assert "served: 97 of 100.0 requests asked for (97 %; 1.0 due but not sent)" in table
    json.dumps(results)  # the figures are written as JSON


@pytest.mark.parametrize(
    ("served_percent", "p99", "unmet"),
    [
        (97.0, 400.0, set()),
        (94.9, 400.0, {"loadtest_served_percent"}),
        (99.0, 1000.0, {"loadtest_p99_ms"}),
    ],
)
def test_the_targets_are_p95_p99_errors_and_served(served_percent, p99, unmet):
    figures = run._figures(_results(served_percent=served_percent, p99=p99))

    targets = {figure.name: figure.target for figure in figures if figure.met is not None}
    assert targets == {
        "loadtest_p95_ms": "p95 < 300 ms",
        "loadtest_p99_ms": "p99 < 1000 ms",
        "loadtest_errors": "errors == 0",
        "loadtest_served_percent": "served >= 95 %",
    }
    assert {figure.name for figure in figures if figure.met is False} == unmet

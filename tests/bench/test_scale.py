"""SCALE: the sizes of the scaled benchmarks, the names of their figures, and how a run at
scale merges its figures beside those of the default size."""

import json

import pytest

from bench import __main__ as runner
from bench import scale
from bench.registry import BENCHMARKS, Figure


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("  ", None), ("1000000", 1_000_000), ("1_000_000", 1_000_000)],
)
def test_scale_is_read_as_a_number_of_findings(value, expected):
    assert scale.parse(value) == expected


@pytest.mark.parametrize("value", ["1e6", "-5", "million", "1,000,000", "10.5"])
def test_a_scale_that_is_not_a_whole_number_is_refused_clearly(value):
    with pytest.raises(ValueError, match="SCALE must be a whole number of findings"):
        scale.parse(value)


def test_a_scale_too_small_to_measure_is_refused():
    with pytest.raises(ValueError, match="at least 1,000 findings"):
        scale.parse("999")


@pytest.mark.parametrize(
    ("findings", "label"),
    [(1_000_000, "1m"), (200_000, "200k"), (2_500_000, "2500k"), (1234, "1234"), (3_000, "3k")],
)
def test_a_size_has_a_short_label(findings, label):
    assert scale.label(findings) == label


@pytest.mark.parametrize(
    ("name", "size", "expected"),
    [
        ("findings_page_p95_ms", 1_000_000, "findings_page_p95_ms_1m"),
        ("dashboard_p95_ms", 200_000, "dashboard_p95_ms_200k"),
        ("ownership_reevaluate_100k_s", 1_000_000, "ownership_reevaluate_1m_s"),
        ("ownership_first_evaluation_100k_s", 200_000, "ownership_first_evaluation_200k_s"),
        ("findings_page_p95_ms", 100_000, "findings_page_p95_ms"),
        ("findings_page_p95_ms", None, "findings_page_p95_ms"),
    ],
)
def test_figures_at_scale_are_named_after_the_scale(name, size, expected, monkeypatch):
    monkeypatch.delenv("SCALE", raising=False)
    assert scale.figure_name(name, size) == expected


def test_without_scale_each_benchmark_keeps_its_own_size(monkeypatch):
    monkeypatch.delenv("SCALE", raising=False)
    monkeypatch.setenv("BENCH_DASHBOARD_FINDINGS", "2000")
    assert scale.findings("BENCH_DASHBOARD_FINDINGS") == 2000
    assert scale.findings("BENCH_OWNERSHIP_FINDINGS") == 100_000
    assert scale.events("BENCH_REPORT_EVENTS", 500_000) == 500_000
    assert scale.events() == 0
    assert not scale.active()


def test_scale_sets_every_scaled_size_and_five_events_per_finding(monkeypatch):
    monkeypatch.setenv("SCALE", "1000000")
    monkeypatch.setenv("BENCH_DASHBOARD_FINDINGS", "2000")
    assert scale.findings("BENCH_DASHBOARD_FINDINGS") == 1_000_000
    assert scale.events("BENCH_REPORT_EVENTS", 500_000) == 5_000_000
    assert scale.events() == 5_000_000
    assert scale.active()


def test_scale_at_the_default_size_keeps_the_default_names_and_targets(monkeypatch):
    monkeypatch.setenv("SCALE", "100000")
    assert scale.findings("BENCH_DASHBOARD_FINDINGS") == 100_000
    assert not scale.active()
    assert scale.figure_name("dashboard_p95_ms", 100_000) == "dashboard_p95_ms"


def test_scale_runs_the_scaled_benchmarks_unless_others_are_named(monkeypatch):
    known = ["dashboard", "fixes", "findings_page", "sync", "campaigns"]
    monkeypatch.delenv("SCALE", raising=False)
    assert scale.benchmarks([], known) == known
    monkeypatch.setenv("SCALE", "200000")
    assert scale.benchmarks([], known) == ["dashboard", "findings_page", "sync"]
    assert scale.benchmarks(["fixes"], known) == ["fixes"]


def test_a_query_count_at_scale_is_held_to_the_count_at_the_default_size():
    results = {"dashboard_queries_per_request": {"value": 13}}
    same = scale.scaled_figure(
        Figure("dashboard_queries_per_request", 13, "queries"), 1_000_000, results
    )
    more = scale.scaled_figure(
        Figure("dashboard_queries_per_request", 14, "queries"), 1_000_000, results
    )
    assert (same.name, same.met) == ("dashboard_queries_per_request_1m", True)
    assert "13" in same.target
    assert more.met is False
    # Without a figure at the default size there is nothing to compare with.
    alone = scale.scaled_figure(Figure("dashboard_queries_per_request", 14, "q"), 1_000_000, {})
    assert alone.target is None and alone.met is None


@pytest.fixture
def one_benchmark(monkeypatch, tmp_path):
    """The runner with a single fake scaled benchmark (`dashboard`) and a results file of
    its own holding a figure of another benchmark."""
    results = tmp_path / "bench-results.json"
    results.write_text(json.dumps({"fixes_diff_p95_ms": {"value": 80.0, "unit": "ms"}}))
    monkeypatch.setattr(runner, "RESULTS_FILE", results)
    monkeypatch.setattr(runner, "discover", lambda: None)
    saved = dict(BENCHMARKS)
    BENCHMARKS.clear()
    BENCHMARKS["dashboard"] = lambda: [
        Figure("dashboard_p95_ms", 40.0, "ms", "p95 < 50 ms", True),
        Figure("dashboard_queries_per_request", 13, "queries"),
    ]
    yield results
    BENCHMARKS.clear()
    BENCHMARKS.update(saved)


def test_a_run_at_scale_writes_its_figures_beside_the_others(one_benchmark, monkeypatch):
    monkeypatch.delenv("SCALE", raising=False)
    assert runner.main([]) == 0
    monkeypatch.setenv("SCALE", "1000000")
    assert runner.main([]) == 0

    results = json.loads(one_benchmark.read_text())
    assert results["fixes_diff_p95_ms"]["value"] == 80.0
    assert results["dashboard_p95_ms"]["value"] == 40.0
    assert results["dashboard_p95_ms_1m"] == {
        "value": 40.0,
        "unit": "ms",
        "target": "p95 < 50 ms",
        "met": True,
    }
    assert results["dashboard_queries_per_request_1m"]["met"] is True


def test_a_bad_scale_stops_the_run_before_any_benchmark(one_benchmark, monkeypatch, capsys):
    monkeypatch.setenv("SCALE", "a million")
    assert runner.main([]) == 2
    assert "SCALE must be a whole number" in capsys.readouterr().out
    assert "dashboard_p95_ms" not in json.loads(one_benchmark.read_text())

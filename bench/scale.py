"""The one place that decides the size of the scaled benchmarks, and the names of their figures.

`SCALE=N make bench` runs the benchmarks of `SCALED` on N findings each, and on five times as
many finding events where a benchmark has events (the reports benchmark; the sync's sandbox
organization). Their figures are written under names of their own, so the figures measured
at the default size are kept beside them: `findings_page_p95_ms` becomes
`findings_page_p95_ms_1m` at SCALE=1000000, and a name that states the default size
(`ownership_reevaluate_100k_s`) states the scale instead (`ownership_reevaluate_1m_s`).

Without SCALE (or with SCALE=100000) every benchmark keeps its own size, its own variable
(`BENCH_DASHBOARD_FINDINGS`, ...) and its figures' names.
"""

from __future__ import annotations

import os
from dataclasses import replace

from bench.registry import Figure

DEFAULT_FINDINGS = 100_000
EVENTS_PER_FINDING = 5
SMALLEST = 1_000
# The benchmarks whose size SCALE sets; `make bench` with SCALE runs these alone.
SCALED = ("findings_page", "dashboard", "reports", "sync", "ownership")


def parse(value: str | None) -> int | None:
    """SCALE's number of findings, None when unset; a clear error for anything else."""
    if value is None or not value.strip():
        return None
    text = value.strip().replace("_", "")
    if not text.isdigit():
        raise ValueError(f"SCALE must be a whole number of findings (like 1000000), not {value!r}")
    findings = int(text)
    if findings < SMALLEST:
        raise ValueError(f"SCALE must be at least {SMALLEST:,} findings, not {findings:,}")
    return findings


def current() -> int | None:
    """The SCALE of this run (the environment is inherited by the benchmarks' processes)."""
    return parse(os.environ.get("SCALE"))


def active(scale: int | None = None) -> bool:
    """Whether the run is at a size other than the default: the scaled targets apply."""
    scale = current() if scale is None else scale
    return scale is not None and scale != DEFAULT_FINDINGS


def label(findings: int) -> str:
    """A short name for a size: 1m, 200k, 2500k, 1234."""
    if findings % 1_000_000 == 0:
        return f"{findings // 1_000_000}m"
    if findings % 1_000 == 0:
        return f"{findings // 1_000}k"
    return str(findings)


def figure_name(name: str, scale: int | None) -> str:
    """The name a figure of a scaled benchmark is written under at ``scale``."""
    if not active(scale):
        return name
    default = f"_{label(DEFAULT_FINDINGS)}"
    if f"{default}_" in name or name.endswith(default):
        return name.replace(default, f"_{label(scale)}", 1)
    return f"{name}_{label(scale)}"


def findings(variable: str, default: int = DEFAULT_FINDINGS) -> int:
    """The findings of a scaled benchmark: SCALE when set, else its own variable."""
    scale = current()
    return scale if scale is not None else int(os.environ.get(variable, default))


def events(variable: str | None = None, default: int = 0) -> int:
    """The finding events of a scaled benchmark: five per finding at SCALE, else its variable
    (else ``default``)."""
    scale = current()
    if scale is not None:
        return scale * EVENTS_PER_FINDING
    return int(os.environ.get(variable, default)) if variable else default


def benchmarks(names: list[str], known: list[str]) -> list[str]:
    """The benchmarks to run: those named, else the scaled ones at SCALE, else every one."""
    if names:
        return names
    return [name for name in known if name in SCALED] if current() is not None else known


def scaled_figure(figure: Figure, scale: int | None, results: dict) -> Figure:
    """``figure`` under its scaled name; a query count is held to the one at the default size
    written in ``results`` (no more queries per page with more data)."""
    name = figure_name(figure.name, scale)
    if name == figure.name:
        return figure
    baseline = results.get(figure.name, {}).get("value")
    if figure.name.endswith("_queries_per_request") and baseline is not None:
        return replace(
            figure,
            name=name,
            target=f"<= {baseline:g} (the count at {DEFAULT_FINDINGS:,} findings)",
            met=figure.value <= baseline,
        )
    return replace(figure, name=name)

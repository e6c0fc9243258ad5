"""`python -m bench [name ...]`: run the registered benchmarks (all by default; with SCALE,
the scaled ones: see `bench.scale`)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

import bench
from bench import scale
from bench.registry import BENCHMARKS

RESULTS_FILE = Path(__file__).resolve().parent.parent / "bench-results.json"


def discover() -> None:
    """Import every module of the package: each registers its own benchmarks."""
    for module in pkgutil.iter_modules(bench.__path__):
        if module.name not in ("__main__", "registry", "scale"):
            importlib.import_module(f"bench.{module.name}")


def main(argv: list[str]) -> int:
    try:
        size = scale.current()
    except ValueError as exc:
        print(exc)
        return 2
    discover()
    names = scale.benchmarks(argv, list(BENCHMARKS))
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmarks: {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    if size is not None:
        print(f"SCALE: {size:,} findings, {size * scale.EVENTS_PER_FINDING:,} events", flush=True)
    results = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.exists() else {}
    all_met = True
    for name in names:
        print(f"== {name}", flush=True)
        for measured in BENCHMARKS[name]():
            figure = (
                scale.scaled_figure(measured, size, results) if name in scale.SCALED else measured
            )
            results[figure.name] = figure.as_json()
            verdict = "" if figure.met is None else ("  met" if figure.met else "  NOT MET")
            target = f"  (target {figure.target})" if figure.target else ""
            print(f"{figure.name:38} {figure.value:>14,.2f} {figure.unit}{target}{verdict}")
            all_met = all_met and figure.met is not False
        RESULTS_FILE.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"figures written to {RESULTS_FILE.name}")
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

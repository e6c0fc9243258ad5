"""Benchmarks of the portal, run by `make bench` (`python -m bench`).

Each module registers its benchmark functions with `registry.benchmark`; `__main__` runs them,
prints the figures and merges them into `bench-results.json` at the repository root.
"""

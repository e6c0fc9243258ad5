"""The registry of benchmarks and the figures they report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Figure:
    """One measured figure and the target the issue sets for it (as the issue states it)."""

    name: str
    value: float
    unit: str
    target: str | None = None
    met: bool | None = None

    def as_json(self) -> dict:
        data = asdict(self)
        data.pop("name")
        return data


BENCHMARKS: dict[str, Callable[[], list[Figure]]] = {}


def benchmark(name: str) -> Callable[[Callable[[], list[Figure]]], Callable[[], list[Figure]]]:
    def register(function: Callable[[], list[Figure]]) -> Callable[[], list[Figure]]:
        BENCHMARKS[name] = function
        return function

    return register

"""Ends a test run with one line on the browser and worker tests it skipped, and how to run them.

A fresh clone without Chromium, PostgreSQL or Redis still passes `make test`; this line keeps
that from passing for a full run unnoticed.
"""

import pytest

SKIPPED = pytest.StashKey[dict]()

# What a skipped browser or worker test lacked, and how to give it that.
RUN_THEM = {
    "browser": (
        "Chromium",
        "install Debian's chromium (apt-get install chromium; /usr/bin/chromium)",
    ),
    "worker": (
        "PostgreSQL and Redis",
        "set DATABASE_URL to PostgreSQL and REDIS_URL, e.g. "
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal "
        "REDIS_URL=redis://127.0.0.1:6379/0 make test",
    ),
}


def _reason(report) -> str:
    longrepr = getattr(report, "longrepr", None)
    return str(longrepr[-1]) if isinstance(longrepr, tuple) else str(longrepr or "")


def skipped_by_kind(reports) -> dict[str, int]:
    """Skipped browser and worker tests, counted by what they lacked: a browser test that
    also needs a worker, skipped for want of PostgreSQL, counts under PostgreSQL and Redis."""
    counts = dict.fromkeys(RUN_THEM, 0)
    for report in reports:
        if not any(kind in report.keywords for kind in RUN_THEM):
            continue
        lacked_browser = "browser" in report.keywords and "chromium" in _reason(report).lower()
        counts["browser" if lacked_browser else "worker"] += 1
    return {kind: n for kind, n in counts.items() if n}


def skipped_line(counts: dict[str, int]) -> str:
    parts = [f"{n} for want of {RUN_THEM[kind][0]}" for kind, n in counts.items()]
    how = "; ".join(f"for {RUN_THEM[kind][0]}, {RUN_THEM[kind][1]}" for kind in counts)
    total = sum(counts.values())
    return (
        f"Skipped {total} browser and worker test{'s' if total != 1 else ''} "
        f"({', '.join(parts)}): {how}."
    )


def pytest_terminal_summary(terminalreporter):
    terminalreporter.config.stash[SKIPPED] = skipped_by_kind(
        terminalreporter.stats.get("skipped", [])
    )


def pytest_unconfigure(config):
    # After pytest's own closing line, so it is the last thing a person reads.
    counts = config.stash.get(SKIPPED, {})
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if counts and reporter is not None:
        reporter.write_line(skipped_line(counts), yellow=True, bold=True)

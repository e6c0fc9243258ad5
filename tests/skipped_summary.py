"""Ends a test run with one line on the browser and worker tests it skipped, and how to run them.

A fresh clone without Chromium, PostgreSQL or Redis still passes `make test`; this line keeps
that from passing for a full run unnoticed.
"""

import pytest

SKIPPED = pytest.StashKey[dict]()

RUN_THEM = {
    "browser": "install Debian's chromium (apt-get install chromium; /usr/bin/chromium)",
    "worker": (
        "set DATABASE_URL to PostgreSQL and REDIS_URL, e.g. "
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal "
        "REDIS_URL=redis://127.0.0.1:6379/0 make test"
    ),
}


def skipped_by_kind(reports) -> dict[str, int]:
    counts = dict.fromkeys(RUN_THEM, 0)
    for report in reports:
        for kind in RUN_THEM:
            if kind in report.keywords:
                counts[kind] += 1
                break
    return {kind: n for kind, n in counts.items() if n}


def skipped_line(counts: dict[str, int]) -> str:
    parts = [f"{n} {kind} test{'s' if n != 1 else ''}" for kind, n in counts.items()]
    how = "; ".join(f"for the {kind} tests, {RUN_THEM[kind]}" for kind in counts)
    return f"Skipped {' and '.join(parts)}: {how}."


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

"""Schemathesis from the command line against the live embedded default, as a user would run it.

Two workers send requests at once, and the stateful phase chains operations through the links
schemathesis infers from the contract (a scan started, then read; a fix created, then refined
and cancelled). The checks are those of ``tests/sandbox/test_contract.py``, with the same two
narrowed ones (``tests/sandbox/contract_checks.py``), and there must be no server error.
"""

import os
import re
import subprocess
import sys
from xml.etree import ElementTree

import pytest

from tests.embedded.conftest import ROOT, server_errors_in

pytestmark = [pytest.mark.slow, pytest.mark.contract]

CONTRACT = ROOT / "kolega-api" / "openapi.json"


def test_two_workers_and_the_stateful_phase_find_no_server_error(embedded_portal, tmp_path):
    portal = embedded_portal
    report = tmp_path / "junit.xml"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            str(CONTRACT),
            "--url",
            f"{portal.url}/sandbox",
            "--header",
            f"Authorization: Bearer {portal.key}",
            "--workers",
            "2",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--checks",
            "all",
            "--exclude-checks",
            "status_code_conformance,negative_data_rejection",
            "--max-examples",
            "15",
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
            "--no-color",
        ],
        cwd=ROOT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.sandbox.contract_checks"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = run.stdout + run.stderr
    print(output[-4000:])
    assert run.returncode == 0, output[-6000:]
    assert re.search(r"✅ +Stateful", output), "the stateful phase did not run and pass"
    assert re.search(r"Tested: 21\b", output), "not every operation was tested"
    assert "Server error" not in output
    suites = ElementTree.parse(report).getroot()  # noqa: S314 (the report this test wrote)
    assert int(suites.get("failures", 0)) == 0 and int(suites.get("errors", 0)) == 0
    assert server_errors_in(portal.logs / "web.log") == []

import json
import re

import pytest

from sandbox.demo_trees import TREES, load_tree
from sandbox.scanning import FixNotPossible, apply_diff, propose_fix, scan_tree
from sandbox.scanning.detection import Detection
from tests.sandbox.scanning.trees import all_detections, git_apply, read_tree, write_tree

# Problems that need a person: the fix only marks them with a TODO comment.
MANUAL = {
    "python.lang.security.weak-password-hash",
    "go.lang.security.weak-hash-md5-sha1",
    "go.lang.security.weak-cipher-des",
    "javascript.lang.security.eval-detected",
    "bash.security.curl-pipe-shell",
    "deep-ai.session-token-in-local-storage",
    "deep-ai.iam-wildcard-permissions",
    "sbom.CVE-2020-26160",  # a new major version of a Go module is a new import path
}
INSTRUCTIONS = "Keep behaviour; prefer environment variables for configuration."


def _git_result(tmp_path, files: dict[str, str], diff: str) -> dict[str, str]:
    write_tree(tmp_path, files)
    checked = git_apply(tmp_path, diff, check=True)
    assert checked.returncode == 0, checked.stderr
    applied = git_apply(tmp_path, diff, check=False)
    assert applied.returncode == 0, applied.stderr
    return read_tree(tmp_path)


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_fix_diffs_apply_with_git_and_with_apply_diff_alike(tmp_path, tree, variant):
    files = load_tree(tree)
    diff = propose_fix(files, all_detections(files), instructions=INSTRUCTIONS, variant=variant)
    assert diff.startswith("diff --git a/")
    assert _git_result(tmp_path, files, diff) == apply_diff(files, diff)


@pytest.mark.parametrize("tree", TREES)
def test_rescanning_the_fixed_tree_finds_only_the_manual_problems(tree):
    files = load_tree(tree)
    before = all_detections(files)
    fixed = apply_diff(files, propose_fix(files, before, instructions=INSTRUCTIONS))
    remaining = all_detections(fixed)
    assert {d.check_id for d in remaining} == {d.check_id for d in before} & MANUAL
    for detection in remaining:
        # Each one is flagged in the code right above where it was found.
        previous_line = fixed[detection.file_path].splitlines()[detection.line - 2]
        assert "TODO(security)" in previous_line and detection.check_id in previous_line


def test_one_detection_is_fixed_alone_with_a_parameterized_query():
    files = load_tree("acme/payments-api")
    [search] = [
        d
        for d in scan_tree(files, "semgrep_scan")
        if d.check_id == "python.lang.security.formatted-sql-query"
        and "ILIKE" in files[d.file_path].splitlines()[d.line - 1]
    ]
    diff = propose_fix(files, [search], instructions="")
    assert diff.count("diff --git") == 1
    assert (
        '+    rows = db.fetch_all("SELECT id, description FROM payments WHERE description '
        'ILIKE %s", (f"%{term}%",))' in diff
    )
    fixed = apply_diff(files, diff)
    assert search.fingerprint not in {d.fingerprint for d in scan_tree(fixed, "semgrep_scan")}
    assert len(scan_tree(fixed, "semgrep_scan")) == len(scan_tree(files, "semgrep_scan")) - 1


def test_fixes_use_the_expected_remediations():
    files = load_tree("acme/payments-api")
    diff = propose_fix(files, all_detections(files), instructions="")
    for expected in (
        "+    template = yaml.safe_load(request.get_data(as_text=True))",
        '+    subprocess.run(["tar", "czf", archive, "-C", EXPORT_DIR, f"{name}.csv"], check=True)',
        '+STRIPE_SECRET_KEY = os.environ["STRIPE_SECRET_KEY"]',
        "+PyYAML==5.4",
        "+@admin_required",
        "+USER app",
        "deleted file mode 100644",
    ):
        assert expected in diff


def test_a_refinement_gives_a_different_valid_diff_citing_the_instructions(tmp_path):
    files = load_tree("acme/web-frontend")
    detections = all_detections(files)
    first = propose_fix(files, detections, instructions="Use the config module.", variant=0)
    second = propose_fix(files, detections, instructions="Use the config module.", variant=1)
    third = propose_fix(files, detections, instructions="Use the config module.", variant=2)
    assert len({first, second, third}) == 3
    assert "Refinement 1: Use the config module." in second
    assert "Use the config module." not in first
    assert '"lodash": "^4.17.19"' in second  # another pinning style, as JSON takes no comment
    assert _git_result(tmp_path, files, second) == apply_diff(files, second)


def test_a_refined_key_removal_also_ignores_the_file():
    files = load_tree("acme/payments-api")
    [key] = [d for d in scan_tree(files, "secrets_scan") if d.check_id == "secrets.private-key"]
    first = propose_fix(files, [key], instructions="Rotate it.")
    second = propose_fix(files, [key], instructions="Rotate it.", variant=1)
    assert first != second
    assert "/deploy/webhook_signing_key.pem" in apply_diff(files, second)[".gitignore"]


def test_the_same_input_gives_the_same_diff():
    files = load_tree("acme/inventory-service")
    detections = all_detections(files)
    assert propose_fix(files, detections, instructions="x", variant=1) == propose_fix(
        files, list(reversed(detections)), instructions="x", variant=1
    )


def test_detections_are_found_again_after_the_code_moved():
    files = load_tree("acme/payments-api")
    detections = scan_tree(files, "semgrep_scan")
    moved = {
        path: ("# Maintained by the payments team.\n" + text if path.endswith(".py") else text)
        for path, text in files.items()
    }
    diff = propose_fix(moved, detections, instructions="")
    fixed = apply_diff(moved, diff)
    assert {d.check_id for d in scan_tree(fixed, "semgrep_scan")} == {
        "python.lang.security.weak-password-hash"
    }


def test_a_detection_with_no_fixer_gets_a_todo_at_its_line():
    files = load_tree("acme/web-frontend")
    [evaluation] = [d for d in scan_tree(files, "semgrep_scan") if "eval" in d.check_id]
    fixed = apply_diff(files, propose_fix(files, [evaluation], instructions=""))
    lines = fixed[evaluation.file_path].splitlines()
    assert (
        lines[evaluation.line - 1].strip().startswith("// TODO(security): eval of dynamic content")
    )
    assert lines[evaluation.line] == files[evaluation.file_path].splitlines()[evaluation.line - 1]


def test_detections_of_another_tree_cannot_be_fixed():
    payments = load_tree("acme/payments-api")
    stranger = Detection.from_dict(
        {
            **scan_tree(load_tree("acme/infra"), "semgrep_scan")[0].to_dict(),
            "file_path": "nowhere.tf",
        }
    )
    with pytest.raises(FixNotPossible):
        propose_fix(payments, [stranger], instructions="")


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("variant", [0, 1, 2, 3])
def test_fixed_python_and_json_files_still_parse(tree, variant):
    files = load_tree(tree)
    fixed = apply_diff(
        files, propose_fix(files, all_detections(files), instructions=INSTRUCTIONS, variant=variant)
    )
    for path, text in fixed.items():
        if path.endswith(".py"):
            compile(text, path, "exec")
        elif path.endswith(".json"):
            json.loads(text)


def test_detections_sharing_a_line_share_one_refinement_note():
    files = load_tree("acme/infra")
    diff = propose_fix(files, all_detections(files), instructions="Tighten it.", variant=1)
    assert "Refinement 1: Tighten it." in diff
    assert not re.search(r"^\+(\s*)# Refinement 1: .*\n\+\1# Refinement 1: ", diff, re.MULTILINE)
    dockerfile = apply_diff(files, diff)["docker/nginx.Dockerfile"].splitlines()
    assert dockerfile[0] == "# Refinement 1: Tighten it."
    assert dockerfile[1].startswith("FROM nginx:")


def test_sqlite_code_gets_question_mark_placeholders():
    files = {
        "store.py": (
            "import sqlite3\n\n\n"
            "def find(conn: sqlite3.Connection, name, limit):\n"
            "    return conn.execute(\n"
            "        \"SELECT * FROM users WHERE name = '%s' LIMIT %s\" % (name, limit)\n"
            "    )\n"
        )
    }
    diff = propose_fix(files, scan_tree(files, "semgrep_scan"), instructions="")
    fixed = apply_diff(files, diff)["store.py"]
    assert '"SELECT * FROM users WHERE name = ? LIMIT ?",\n        (name, limit),\n' in fixed
    assert scan_tree({"store.py": fixed}, "semgrep_scan") == []

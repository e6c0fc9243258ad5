import pytest

from sandbox.scanning import apply_diff
from sandbox.scanning.diffs import make_diff
from tests.sandbox.scanning.trees import git_apply, read_tree, write_tree

OLD = {
    "src/app.py": "".join(f"line {n}\n" for n in range(1, 30)),
    "notes.txt": "first\nlast without newline",
    "obsolete.cfg": "[section]\nkey = value\n",
}
NEW = {
    "src/app.py": "".join(
        f"line {n}\n" if n not in {3, 25} else f"changed {n}\nadded after {n}\n"
        for n in range(1, 30)
    ),
    "notes.txt": "first\nlast, now with a newline\n",
    "docs/new.md": "# New\n",
}


def test_make_diff_round_trips_through_apply_diff():
    diff = make_diff(OLD, NEW)
    assert diff.startswith("diff --git a/")
    assert "new file mode 100644" in diff and "deleted file mode 100644" in diff
    assert diff.count("@@ -") == 5  # two hunks in app.py, one per other file
    assert apply_diff(OLD, diff) == NEW


def test_git_applies_the_diff_the_same_way(tmp_path):
    write_tree(tmp_path, OLD)
    diff = make_diff(OLD, NEW)
    checked = git_apply(tmp_path, diff, check=True)
    assert checked.returncode == 0, checked.stderr
    assert git_apply(tmp_path, diff, check=False).returncode == 0
    assert read_tree(tmp_path) == apply_diff(OLD, diff) == NEW


def test_identical_trees_give_an_empty_diff():
    assert make_diff(OLD, dict(OLD)) == ""


def test_a_hunk_that_does_not_match_is_refused():
    diff = make_diff(OLD, NEW)
    drifted = {**OLD, "src/app.py": OLD["src/app.py"].replace("line 2\n", "line two\n")}
    with pytest.raises(ValueError, match="does not match"):
        apply_diff(drifted, diff)


def test_a_missing_file_or_an_existing_new_file_is_refused():
    diff = make_diff(OLD, NEW)
    with pytest.raises(ValueError):
        apply_diff({k: v for k, v in OLD.items() if k != "notes.txt"}, diff)
    with pytest.raises(ValueError):
        apply_diff({**OLD, "docs/new.md": "# Already here\n"}, diff)


def test_a_truncated_hunk_is_refused():
    diff = make_diff(OLD, NEW)
    with pytest.raises(ValueError):
        apply_diff(OLD, diff.rsplit("\n", 3)[0] + "\n")


def test_text_that_is_not_a_diff_is_refused():
    with pytest.raises(ValueError):
        apply_diff(OLD, "just some words\n")

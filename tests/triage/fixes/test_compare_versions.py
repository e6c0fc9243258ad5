"""Comparing two versions of a fix: the change between the files each version leaves, checked
against `git diff` of the two versions' trees; the page opens on the two latest versions and
lists the current diff once."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.factories import FixDiffVersionFactory, FixFactory, RepositoryFactory, sha
from tests.pages import team_url
from tests.scratch_git import files_written, git
from triage.diffs import parse_diff, versions_compared
from triage.models import FixDiffVersion, Role

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _lines(prefix: str, count: int) -> list[str]:
    return [f"{prefix} {n}" for n in range(1, count + 1)]


SOURCE = {"app/db.py": _lines("db", 60), "app/util.py": _lines("util", 30), "app/old.py": ["x"]}


def _version_1() -> dict[str, list[str] | None]:
    db = list(SOURCE["app/db.py"])
    db[9] = "db 10 quoted by hand"
    db[39:41] = ["db 40-41 joined"]
    util = list(SOURCE["app/util.py"])
    util.insert(5, "util logging added")
    return {"app/db.py": db, "app/util.py": util, "app/old.py": None}


def _version_2() -> dict[str, list[str] | None]:
    db = list(SOURCE["app/db.py"])
    db[9] = "db 10 with a parameter"
    db[19:19] = ["db 20 guard one", "db 20 guard two"]
    db[41:43] = ["db 40-41 joined"]  # the same change as version 1, two lines further down
    return {"app/db.py": db, "app/new.py": ["new 1", "new 2"]}


def _commit(repo: Path, files: dict, message: str) -> None:
    files_written(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def diffs(tmp_path_factory) -> dict[str, str]:
    """Each version's diff against the source, and git's diff from version 1 to version 2."""
    repo = tmp_path_factory.mktemp("repo")
    git(repo, "init", "-q", "-b", "source")
    _commit(repo, SOURCE, "source")
    git(repo, "checkout", "-q", "-b", "v1")
    _commit(repo, _version_1(), "version 1")
    git(repo, "checkout", "-q", "source")
    git(repo, "checkout", "-q", "-b", "v2")
    _commit(repo, _version_2(), "version 2")
    return {
        "v1": git(repo, "diff", "--no-renames", "source", "v1"),
        "v2": git(repo, "diff", "--no-renames", "source", "v2"),
        "v1..v2": git(repo, "diff", "--no-renames", "v1", "v2"),
    }


def _changes(parsed) -> dict[str, set[tuple]]:
    return {
        f.path: {
            (line.kind, line.old_no if line.kind == "del" else line.new_no, line.text)
            for line in f.lines
            if line.kind in ("add", "del")
        }
        for f in parsed.files
    }


def test_the_comparison_is_the_change_between_the_versions_files(diffs):
    compared = versions_compared(old_text=diffs["v1"], new_text=diffs["v2"])
    assert compared.state == "ok", compared.problems
    assert _changes(compared) == _changes(parse_diff(diffs["v1..v2"]))
    changes = {f.path: f.change for f in compared.files}
    # util.py back as it was, old.py kept again, new.py only in version 2.
    assert changes == {
        "app/db.py": "modified",
        "app/util.py": "modified",
        "app/old.py": "added",
        "app/new.py": "added",
    }
    db = next(f for f in compared.files if f.path == "app/db.py")
    # A change both versions make is no change between them, wherever it sits.
    assert not any("joined" in line.text for line in db.lines if line.kind in ("add", "del"))
    # Hunks start and end at lines a reader sees, not at lines neither diff shows.
    for at, line in enumerate(db.lines):
        if line.kind == "hunk":
            assert db.lines[at + 1].kind != "note" and db.lines[at - 1].kind != "note"
    assert db.lines[-1].kind != "note"
    # The lines read as code, not as lines of a diff.
    assert not any(line.text.startswith(("+", "-")) for line in db.lines)


def test_two_identical_versions_compare_empty(diffs):
    assert versions_compared(old_text=diffs["v1"], new_text=diffs["v1"]).state == "empty"


@pytest.fixture
def fix_with_two_versions(team, diffs):
    fix = FixFactory(repository=RepositoryFactory(team=team, name="app"), diff=diffs["v2"])
    FixDiffVersionFactory(fix=fix, diff=diffs["v1"])
    return fix


def test_the_compare_page_opens_on_the_two_latest_versions(
    fix_with_two_versions, diffs, member, client_as
):
    fix = fix_with_two_versions
    FixDiffVersion.objects.create(
        team=fix.team, fix=fix, number=2, sha256=sha(diffs["v1"] + "x"), diff=diffs["v1"]
    )
    response = client_as(member(Role.VIEWER)).get(
        team_url("fixes-compare", fix.team, fix_id=fix.pk)
    )
    body = response.content.decode()
    assert response.status_code == 200
    # Versions 1 and 2 are kept; the current diff is version 3: 2 → 3 by default.
    assert re.search(r'id="cmp-a".*?<option value="2" selected>Version 2<', body, re.S)
    assert re.search(r'id="cmp-b".*?<option value="3" selected>Version 3 \(current\)<', body, re.S)
    assert "db 20 guard one" in body and "db 10 with a parameter" in body
    # No diff of diffs: no line shown with a doubled prefix.
    assert "++" not in body and "+-" not in body and "-+" not in body


def test_compare_names_the_lines_of_each_versions_file(
    fix_with_two_versions, diffs, member, client_as
):
    fix = fix_with_two_versions
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("fixes-compare", fix.team, fix_id=fix.pk), {"a": 1, "b": 2})
        .content.decode()
    )
    # Version 2's line 10 replaces version 1's line 10; its guard lines are its lines 20-21.
    assert re.search(
        r'<tr class="diff-del"><td class="diff-gutter">10</td><td class="diff-gutter"></td>'
        r'<td class="diff-code">db 10 quoted by hand</td>',
        body,
    )
    assert re.search(
        r'<tr class="diff-add"><td class="diff-gutter"></td><td class="diff-gutter">21</td>'
        r'<td class="diff-code">db 20 guard two</td>',
        body,
    )


def test_the_same_version_on_both_sides_is_not_a_comparison(
    fix_with_two_versions, member, client_as
):
    fix = fix_with_two_versions
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("fixes-compare", fix.team, fix_id=fix.pk), {"a": 2, "b": 2})
        .content.decode()
    )
    assert "Choose two different versions." in body


def test_the_version_list_names_the_current_diff_once(
    fix_with_two_versions, diffs, member, client_as
):
    fix = fix_with_two_versions
    # Asking for approval keeps the current diff as version 2.
    FixDiffVersionFactory(fix=fix, number=2)
    body = (
        client_as(member(Role.VIEWER))
        .get(team_url("fixes-detail", fix.team, fix_id=fix.pk))
        .content.decode()
    )
    select = re.search(r'<select id="diff-version".*?</select>', body, re.S).group()
    options = re.findall(r"<option[^>]*>([^<]*)</option>", select)
    assert options == ["Version 2 (current)", "Version 1"]

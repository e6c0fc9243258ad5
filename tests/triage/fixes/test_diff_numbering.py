"""Line numbers of both diff views, checked against real `git diff` output.

A repository is made in a temporary folder, changed (several hunks, additions and removals of
different lengths, a file added, a file deleted, a last line without a line feed) and diffed
by git. Every numbered cell must name the line of the old or new file that it shows: the
unified view's first gutter and the split view's left column the old file's, the unified
view's second gutter and the split view's right column the new file's. git's own counts
(`--numstat`) and the files' contents are the reference, not the parser under test.
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
from html.parser import HTMLParser

import pytest

from tests.factories import FixFactory, RepositoryFactory
from tests.pages import team_url
from tests.scratch_git import files_written, git
from triage.diffs import highlight_file, parse_diff, render_split, render_unified
from triage.models import Role

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _numbered(prefix: str, start: int, end: int) -> list[str]:
    return [f"{prefix} line {n}" for n in range(start, end + 1)]


# Each line of the old files is unique, so a number is right exactly when the line it names
# holds the text shown beside it.
OLD_FILES = {
    "app/service.py": _numbered("service", 1, 60),
    "app/gone.py": _numbered("gone", 1, 7),
    "app/tail.txt": _numbered("tail", 1, 5),
}


def _new_service() -> list[str]:
    old = OLD_FILES["app/service.py"]
    new = list(old)
    # Hunk 1: one line replaced by three (more added than removed).
    new[14:15] = ["service added A", "service added B", "service added C"]
    # Hunk 2 (its old lines now sit two lines further down): three removed, one added.
    at = new.index("service line 30")
    new[at : at + 3] = ["service replaced 30-32"]
    # Hunk 3: a pure addition and, close by, a pure removal.
    at = new.index("service line 45")
    new.insert(at, "service inserted before 45")
    new.remove("service line 48")
    # At the very end: two lines gone, one added.
    new = [*new[:-2], "service new last"]
    return new


NEW_FILES = {
    "app/service.py": _new_service(),
    "app/added.py": _numbered("added", 1, 4),
    "app/tail.txt": [*OLD_FILES["app/tail.txt"][:-1], "tail line 5 changed"],
}
# Files whose last line has no line feed in the old or the new version.
NO_FINAL_NEWLINE_OLD = {"app/tail.txt"}
NO_FINAL_NEWLINE_NEW = {"app/tail.txt", "app/added.py"}


@pytest.fixture(scope="module")
def git_diff(tmp_path_factory) -> tuple[str, dict[str, tuple[int, int]]]:
    """The diff git makes of the change, and git's (added, removed) count per path."""
    repo = tmp_path_factory.mktemp("repo")
    git(repo, "init", "-q")
    files_written(repo, OLD_FILES, no_final_newline=NO_FINAL_NEWLINE_OLD)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "old")
    (repo / "app/gone.py").unlink()
    files_written(repo, NEW_FILES, no_final_newline=NO_FINAL_NEWLINE_NEW)
    git(repo, "add", "-A")
    text = git(repo, "diff", "--cached", "--no-color", "--no-renames")
    counts = {}
    for row in git(repo, "diff", "--cached", "--numstat", "--no-renames").splitlines():
        added, removed, path = row.split("\t")
        counts[path] = (int(added), int(removed))
    return text, counts


def test_the_git_diff_has_every_case(git_diff):
    text, counts = git_diff
    assert set(counts) == {"app/service.py", "app/gone.py", "app/added.py", "app/tail.txt"}
    assert "new file mode" in text and "deleted file mode" in text
    assert "\\ No newline at end of file" in text
    assert len(re.findall(r"^@@ ", text, re.M)) >= 6


def test_the_parser_counts_what_git_counts(git_diff):
    text, counts = git_diff
    parsed = parse_diff(text)
    assert parsed.state == "ok", parsed.problems
    assert {f.path: (f.additions, f.deletions) for f in parsed.files} == counts
    changes = {f.path: f.change for f in parsed.files}
    assert changes["app/added.py"] == "added" and changes["app/gone.py"] == "deleted"


class _Table(HTMLParser):
    """Rows of a rendered diff table: each cell's classes, comment button and text."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self._cell: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append({"class": attrs.get("class") or "", "cells": []})
        elif tag == "td":
            self._cell = {"class": attrs.get("class") or "", "button": None, "text": ""}
            self.rows[-1]["cells"].append(self._cell)
        elif tag == "button" and self._cell is not None:
            self._cell["button"] = (attrs["data-comment-side"], int(attrs["data-comment-line"]))

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def _rows(rendered: str) -> list[dict]:
    table = _Table()
    table.feed(str(rendered))
    return table.rows


def _files(text: str):
    for diff_file in parse_diff(text).files:
        yield highlight_file(diff_file)


def _check_number(side: str, number: int | None, code: str, path: str, kind: str) -> None:
    files = OLD_FILES if side == "old" else NEW_FILES
    lines = files.get(path)
    assert lines is not None, f"{path}: a {side} line number in a file with no {side} version"
    assert 1 <= number <= len(lines), f"{path}: {side} line {number} is not in the file"
    assert lines[number - 1] == code, (
        f"{path}: a {kind} line numbered {side} {number} shows {code!r}, "
        f"but that line of the {side} file is {lines[number - 1]!r}"
    )


def _check_unified_cell(cell, side: str, numbered: bool, code: str, path: str, kind: str) -> None:
    """A number cell of the unified view: the line's number in the ``side`` file with its
    comment button, or empty when the line is not in that file."""
    if not numbered:
        assert cell["button"] is None and cell["text"] == ""
        return
    assert cell["button"] and cell["button"][0] == side
    assert cell["text"] == str(cell["button"][1])
    _check_number(side, cell["button"][1], code, path, kind)


def _check_split_side(gutter, code_cell, side: str, path: str, kind: str) -> bool:
    """One side of a split row: a line numbered in the ``side`` file (True), or an empty cell
    (False)."""
    if gutter["button"] is None:
        assert code_cell["text"] == ""
        return False
    button_side, number = gutter["button"]
    assert button_side == side
    _check_number(side, number, html_lib.unescape(code_cell["text"]), path, kind)
    return True


def test_unified_view_numbers_each_side_from_its_own_file(git_diff):
    text, counts = git_diff
    for diff_file in _files(text):
        seen = {"add": 0, "del": 0, "ctx": 0}
        for row in _rows(render_unified(diff_file, file_index=0, threads={})):
            kind = row["class"].removeprefix("diff-")
            old_cell, new_cell, code_cell = row["cells"]
            if kind not in seen or code_cell["class"] != "diff-code":
                continue  # hunk headers and notes
            code = html_lib.unescape(code_cell["text"])
            seen[kind] += 1
            # A removed line is not in the new file, an added one not in the old: no number,
            # no comment button on that side.
            _check_unified_cell(old_cell, "old", kind in ("del", "ctx"), code, diff_file.path, kind)
            _check_unified_cell(new_cell, "new", kind in ("add", "ctx"), code, diff_file.path, kind)
        assert (seen["add"], seen["del"]) == counts[diff_file.path]


def test_split_view_numbers_the_left_from_the_old_file_and_the_right_from_the_new(git_diff):
    text, counts = git_diff
    for diff_file in _files(text):
        added = removed = context = 0
        for row in _rows(render_split(diff_file, file_index=0, threads={})):
            if row["class"] or len(row["cells"]) != 4:
                continue  # hunk headers and notes
            left_gutter, left_code, right_gutter, right_code = row["cells"]
            if _check_split_side(left_gutter, left_code, "old", diff_file.path, "left"):
                removed += "diff-del" in left_code["class"]
                context += "diff-ctx" in left_code["class"]
            if _check_split_side(right_gutter, right_code, "new", diff_file.path, "right"):
                added += "diff-add" in right_code["class"]
        assert (added, removed) == counts[diff_file.path]
        if diff_file.change == "modified":
            assert context > 0


def test_hunk_starts_as_git_states_them(git_diff):
    """Under `@@ -a,b +c,d @@` the left column starts at a and the right at c."""
    text, _ = git_diff
    service = next(f for f in _files(text) if f.path == "app/service.py")
    rows = _rows(render_split(service, file_index=0, threads={}))
    headers = [i for i, row in enumerate(rows) if row["class"] == "diff-hunk"]
    assert len(headers) >= 3
    for at in headers:
        header = re.match(r"@@ -(\d+),\d+ \+(\d+),\d+ @@", rows[at]["cells"][1]["text"])
        first = rows[at + 1]["cells"]
        assert first[0]["button"] == ("old", int(header.group(1)))
        assert first[2]["button"] == ("new", int(header.group(2)))


def test_a_comment_on_the_old_side_shows_beside_the_old_line(git_diff):
    text, _ = git_diff
    service = next(f for f in _files(text) if f.path == "app/service.py")
    removed = next(line for line in service.lines if line.kind == "del")
    context = next(
        line for line in service.lines if line.kind == "ctx" and line.old_no != line.new_no
    )
    threads = {
        ("old", removed.old_no): "THREAD-ON-REMOVED",
        ("old", context.old_no): "THREAD-ON-OLD-CONTEXT",
    }
    for render in (render_unified, render_split):
        rows = _rows(render(service, file_index=0, threads=threads))
        for marker, line in (
            ("THREAD-ON-REMOVED", removed),
            ("THREAD-ON-OLD-CONTEXT", context),
        ):
            at = next(i for i, row in enumerate(rows) if marker in row["cells"][0]["text"])
            above = [cell["button"] for cell in rows[at - 1]["cells"]]
            assert ("old", line.old_no) in above


def test_the_file_page_serves_the_corrected_numbers(git_diff, team, member, client_as):
    text, _ = git_diff
    fix = FixFactory(repository=RepositoryFactory(team=team, name="app"), diff=text)
    client = client_as(member(Role.VIEWER))
    index = next(f.index for f in parse_diff(text).files if f.path == "app/service.py")
    for view in ("unified", "split"):
        body = client.get(
            team_url("fixes-file", team, fix_id=fix.pk, file_index=index), {"view": view}
        ).content.decode()
        # Old numbers run up to the old file's length and new ones to the new file's.
        old_numbers = [int(n) for n in re.findall(r'data-comment-side="old" [^>]*>(\d+)<', body)]
        new_numbers = [int(n) for n in re.findall(r'data-comment-side="new" [^>]*>(\d+)<', body)]
        service_old = OLD_FILES["app/service.py"]
        assert all(n <= len(service_old) for n in old_numbers)
        assert old_numbers == sorted(old_numbers) and new_numbers == sorted(new_numbers)
        assert old_numbers[-1] == len(service_old)
        # Every line of the old file shown (removed or context) has its old number.
        section = text.split("diff --git a/app/service.py")[1].split("diff --git")[0]
        shown_old = [ln for ln in section.splitlines()[4:] if ln[:1] in (" ", "-")]
        assert len(old_numbers) == len(shown_old)
        assert new_numbers[-1] == len(NEW_FILES["app/service.py"])

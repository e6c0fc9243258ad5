"""Parsing and rendering unified diffs for review. Pure: no database, no Django models.

A diff is untrusted text from an AI agent. Nothing in it is ever marked safe except the
output of Pygments' HTML formatter, which escapes every character of the source, and
`visible_html`, which escapes every character and shows the invisible ones; everything else
goes through Django's autoescaping. Parsing never raises: what cannot be read is kept and
shown as malformed.

What a reviewer sees must be what ships: a line of the page is exactly one line of the diff.
Characters that draw nothing or move the text (a bare carriage return, form feeds, NUL,
bidirectional overrides of CVE-2021-42574, zero-width characters) are drawn as visible
markers, and highlighting that would change the number or the text of the lines is dropped
for plain escaped text.
"""

from __future__ import annotations

import bisect
import difflib
import html as html_lib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import zip_longest

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
GIT_HEADER = re.compile(r"^diff --git a/(.+?) b/(.+)$")
# Long files are highlighted line by line beyond this, which keeps one file's render bounded.
HIGHLIGHT_MAX_LINES = 3000

# Characters that draw nothing, draw something else or move the text around them.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# Trojan Source (CVE-2021-42574): embeddings, overrides and isolates reorder what is drawn.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
CONTROL_NAMES = {
    0x00: "NUL",
    0x07: "BELL",
    0x08: "BACKSPACE",
    0x0B: "LINE TABULATION",
    0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN",
    0x1B: "ESCAPE",
    0x7F: "DELETE",
    0x85: "NEXT LINE",
}
# Stands in for each hidden character while Pygments lexes a line: one ordinary character
# that no lexer turns into a line break. It is itself shown as hidden, so every occurrence in
# the highlighted output is one of the characters it replaced, in order.
HIGHLIGHT_PLACEHOLDER = "\ufffd"


@dataclass
class DiffLine:
    kind: str  # "add", "del", "ctx", "hunk", "note"
    text: str
    old_no: int | None = None
    new_no: int | None = None
    html: SafeString | str = ""

    def anchors(self) -> list[tuple[str, int]]:
        """Where a comment on this line can sit: (side, number) on each side it is on. A
        context line is on both sides, with the old file's number on the old side."""
        found = []
        if self.old_no is not None:
            found.append(("old", self.old_no))
        if self.new_no is not None:
            found.append(("new", self.new_no))
        return found


@dataclass
class DiffFile:
    index: int
    old_path: str
    new_path: str
    lines: list[DiffLine] = field(default_factory=list)
    additions: int = 0
    deletions: int = 0
    binary: bool = False
    malformed: bool = False

    @property
    def path(self) -> str:
        return self.new_path if self.new_path != "/dev/null" else self.old_path

    @property
    def changed(self) -> int:
        return self.additions + self.deletions

    @property
    def change(self) -> str:
        if self.old_path == "/dev/null":
            return "added"
        if self.new_path == "/dev/null":
            return "deleted"
        if self.old_path != self.new_path:
            return "renamed"
        return "modified"


@dataclass
class ParsedDiff:
    files: list[DiffFile]
    state: str  # "ok", "empty", "malformed"
    problems: list[str] = field(default_factory=list)
    # How many characters of each kind the diff hides: "bidirectional", "zero-width", "control".
    hidden_characters: dict[str, int] = field(default_factory=dict)

    @property
    def has_bidirectional_controls(self) -> bool:
        return bool(self.hidden_characters.get("bidirectional"))

    @property
    def additions(self) -> int:
        return sum(f.additions for f in self.files)

    @property
    def deletions(self) -> int:
        return sum(f.deletions for f in self.files)

    @property
    def line_count(self) -> int:
        return sum(len(f.lines) for f in self.files)


def _strip_prefix(path: str) -> str:
    path = path.split("\t", 1)[0].strip()
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


def parse_diff(text: str | None) -> ParsedDiff:
    """Split a unified diff into files, hunks and numbered lines."""
    if text is None or not text.strip():
        return ParsedDiff(files=[], state="empty")
    files: list[DiffFile] = []
    problems: list[str] = []
    current: DiffFile | None = None
    old_no = new_no = 0
    old_left = new_left = 0
    in_hunk = False

    def start(old_path: str, new_path: str) -> DiffFile:
        created = DiffFile(index=len(files), old_path=old_path, new_path=new_path)
        files.append(created)
        return created

    # Lines end at a line feed only. A carriage return is content (and shown) unless every
    # line of the diff ends with one: then the diff itself came with CRLF line endings.
    crlf = text.count("\n") > 0 and text.count("\r\n") == text.count("\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if crlf:
        lines = [line.removesuffix("\r") for line in lines]
    hidden = hidden_characters_summary("\n".join(lines))
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        git = GIT_HEADER.match(line)
        if git:
            current = start(git.group(1), git.group(2))
            in_hunk = False
            continue
        if line.startswith("--- ") and i < len(lines) and lines[i].startswith("+++ "):
            old_path = _strip_prefix(line[4:])
            new_path = _strip_prefix(lines[i][4:])
            i += 1
            if current is None or current.lines or in_hunk:
                current = start(old_path, new_path)
            else:
                current.old_path, current.new_path = old_path, new_path
            in_hunk = False
            continue
        hunk = HUNK_HEADER.match(line)
        if hunk:
            if current is None:
                current = start("(unnamed)", "(unnamed)")
                current.malformed = True
                problems.append("A hunk comes before any file header.")
            old_no, new_no = int(hunk.group(1)), int(hunk.group(3))
            old_left = int(hunk.group(2)) if hunk.group(2) is not None else 1
            new_left = int(hunk.group(4)) if hunk.group(4) is not None else 1
            current.lines.append(DiffLine(kind="hunk", text=line))
            in_hunk = True
            continue
        if current is None:
            problems.append(f"Text outside any file: {line[:80]!r}")
            continue
        if not in_hunk:
            if line.startswith("Binary files") or line.startswith("GIT binary patch"):
                current.binary = True
            elif line[:1] in ("+", "-", " ") and line.strip():
                current.malformed = True
                problems.append(f"{current.path}: a changed line outside any hunk: {line[:80]!r}")
            # index, mode and rename lines of a git header carry nothing to review
            continue
        if line.startswith("\\"):
            current.lines.append(DiffLine(kind="note", text=line[1:].strip()))
            continue
        marker, body = (line[:1], line[1:]) if line else (" ", "")
        if marker == "+" and new_left > 0:
            current.lines.append(DiffLine(kind="add", text=body, new_no=new_no))
            current.additions += 1
            new_no += 1
            new_left -= 1
        elif marker == "-" and old_left > 0:
            current.lines.append(DiffLine(kind="del", text=body, old_no=old_no))
            current.deletions += 1
            old_no += 1
            old_left -= 1
        elif marker == " " and old_left > 0 and new_left > 0:
            current.lines.append(DiffLine(kind="ctx", text=body, old_no=old_no, new_no=new_no))
            old_no += 1
            new_no += 1
            old_left -= 1
            new_left -= 1
        else:
            current.malformed = True
            problems.append(f"{current.path}: a line does not fit its hunk: {line[:80]!r}")
            in_hunk = False
            continue
        if old_left <= 0 and new_left <= 0:
            in_hunk = False
    if not files:
        return ParsedDiff(
            files=[],
            state="malformed",
            problems=problems or ["No file found."],
            hidden_characters=hidden,
        )
    state = "malformed" if problems else "ok"
    return ParsedDiff(files=files, state=state, problems=problems[:20], hidden_characters=hidden)


@lru_cache(maxsize=256)
def _lexer_for(path: str):
    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


_FORMATTER = HtmlFormatter(nowrap=True)


def highlight_file(diff_file: DiffFile) -> DiffFile:
    """Fill each code line's `html` with Pygments token spans (escaped source text).

    Pygments turns a bare carriage return into a line break, so hidden characters are
    replaced before lexing and drawn as markers after. The output is kept only when it has
    exactly one line per source line and each line's text is the source line's text;
    otherwise every line is shown as plain escaped text.
    """
    code = [line for line in diff_file.lines if line.kind in ("add", "del", "ctx")]
    if not code:
        return diff_file
    lexer = _lexer_for(diff_file.path)
    if len(code) > HIGHLIGHT_MAX_LINES:
        lexer = TextLexer(stripnl=False, ensurenl=False)
    masked = [_hidden_pattern().sub(HIGHLIGHT_PLACEHOLDER, line.text) for line in code]
    # One pass over the file's lines keeps multi-line tokens (strings, comments) mostly right.
    source = "\n".join(masked) + "\n"
    rendered = highlight(source, lexer, _FORMATTER).split("\n")
    if rendered and rendered[-1] == "":
        rendered.pop()
    if len(rendered) != len(code) or any(
        _text_of_html(html) != text for html, text in zip(rendered, masked, strict=True)
    ):
        for line in code:
            line.html = visible_html(line.text)
        return diff_file
    for line, html in zip(code, rendered, strict=True):
        line.html = _unmask(html, line.text)
    return diff_file


_TAG = re.compile(r"<[^>]*>")


def _text_of_html(html: str) -> str:
    return html_lib.unescape(_TAG.sub("", html))


def _unmask(html: str, text: str) -> SafeString:
    """Put back, in order, a marker for each hidden character the placeholders stand for."""
    markers = iter([_marker(match.group()) for match in _hidden_pattern().finditer(text)])
    # Pygments escaped the source and the placeholder is no markup: every occurrence is one.
    return mark_safe(  # noqa: S308 - escaped by Pygments; markers are built from code points
        re.sub(HIGHLIGHT_PLACEHOLDER, lambda _: next(markers), html)
    )


def is_hidden_character(char: str) -> bool:
    """A character a reader would not see as itself: controls (but the tab and the line
    feed), format characters (bidirectional controls, zero-width ones), line and paragraph
    separators."""
    return _hidden_pattern().fullmatch(char) is not None


@lru_cache(maxsize=1)
def _hidden_pattern() -> re.Pattern[str]:
    """One character class of every hidden character, built once from the Unicode database."""
    ranges: list[tuple[int, int]] = []
    # Planes 2 to 13 hold no control, format or separator character; 15 and 16 are private use.
    for point in (*range(0x20000), *range(0xE0000, 0xF0000)):
        char = chr(point)
        # A tab indents and a line feed ends the line: both are seen as what they are.
        if char in "\t\n" or (
            char != HIGHLIGHT_PLACEHOLDER and unicodedata.category(char) not in HIDDEN_CATEGORIES
        ):
            continue
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1] = (ranges[-1][0], point)
        else:
            ranges.append((point, point))
    members = "".join(
        f"\\U{start:08x}" if start == end else f"\\U{start:08x}-\\U{end:08x}"
        for start, end in ranges
    )
    return re.compile(f"[{members}]")


def hidden_character_kind(char: str) -> str:
    if char in BIDI_CONTROLS:
        return "bidirectional"
    if char in ZERO_WIDTH:
        return "zero-width"
    return "control"


def hidden_characters_summary(text: str) -> dict[str, int]:
    """How many hidden characters of each kind the text has (kinds absent are left out)."""
    counts: dict[str, int] = {}
    for match in _hidden_pattern().finditer(text):
        kind = hidden_character_kind(match.group())
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def _character_name(char: str) -> str:
    point = ord(char)
    name = CONTROL_NAMES.get(point) or unicodedata.name(char, "")
    return f"U+{point:04X} {name}".strip() if name else f"U+{point:04X} control character"


def _marker(char: str) -> str:
    point = ord(char)
    if point < 0x20:
        shown = chr(0x2400 + point)  # the Control Pictures block: ␀ … ␟
    elif point == 0x7F:
        shown = "\u2421"  # ␡
    else:
        shown = f"U+{point:04X}"
    return (
        f'<span class="diff-hidden-char diff-hidden-{hidden_character_kind(char)}" '
        f'data-codepoint="{point:04X}" title="{escape(_character_name(char))}">{shown}</span>'
    )


def visible_html(text: str) -> SafeString:
    """The text escaped, with every hidden character drawn as a marker naming it."""
    out = []
    start = 0
    for match in _hidden_pattern().finditer(text):
        out.append(escape(text[start : match.start()]))
        out.append(_marker(match.group()))
        start = match.end()
    out.append(escape(text[start:]))
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped or a marker


@dataclass
class SideBySideRow:
    kind: str  # "hunk", "note", "pair"
    left: DiffLine | None = None
    right: DiffLine | None = None
    text: str = ""


def side_by_side(diff_file: DiffFile) -> list[SideBySideRow]:
    """Pair removed lines with the added lines that replace them; context on both sides."""
    rows: list[SideBySideRow] = []
    dels: list[DiffLine] = []
    adds: list[DiffLine] = []

    def flush():
        for left, right in zip_longest(dels, adds):
            rows.append(SideBySideRow(kind="pair", left=left, right=right))
        dels.clear()
        adds.clear()

    for line in diff_file.lines:
        if line.kind == "del":
            if adds:
                flush()
            dels.append(line)
        elif line.kind == "add":
            adds.append(line)
        else:
            flush()
            if line.kind == "ctx":
                rows.append(SideBySideRow(kind="pair", left=line, right=line))
            else:
                rows.append(SideBySideRow(kind=line.kind, text=line.text))
    flush()
    return rows


# Lines of the source file that neither version's diff shows: both versions keep them as they
# are, so they stand as one token in each and always compare equal.
@dataclass(frozen=True)
class _Unseen:
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start + 1


def _hunks_of(diff_file: DiffFile) -> list[tuple[int, int, list[DiffLine]]]:
    """(old start, old count, changed and context lines) of each hunk of a file."""
    hunks: list[tuple[int, int, list[DiffLine]]] = []
    for line in diff_file.lines:
        if line.kind == "hunk":
            header = HUNK_HEADER.match(line.text)
            if header is None:
                continue
            count = int(header.group(2)) if header.group(2) is not None else 1
            hunks.append((int(header.group(1)), count, []))
        elif line.kind in ("add", "del", "ctx") and hunks:
            hunks[-1][2].append(line)
    return hunks


def _file_after(diff_file: DiffFile | None, *, source: dict[int, str], in_source: bool):
    """The file as a version of the fix leaves it: its diff's new side put into what is known
    of the source file. None when the version has no such file."""
    if diff_file is None:
        hunks = []
        if not in_source:
            return None
    elif diff_file.change == "deleted":
        return None
    else:
        hunks = _hunks_of(diff_file)
    tokens: list = []
    position = 1

    known = sorted(source)

    def keep_source(upto: int) -> None:
        nonlocal position
        while position <= upto:
            if position in source:
                tokens.append(source[position])
                position += 1
                continue
            # Jump over the unseen run at once: hunk headers are untrusted and may name
            # line numbers in the billions.
            following = bisect.bisect_right(known, position)
            end = min(upto, known[following] - 1) if following < len(known) else upto
            tokens.append(_Unseen(position, end))
            position = end + 1

    for old_start, old_count, lines in hunks:
        # A hunk that removes nothing (`-5,0`) inserts after its old start line.
        keep_source(old_start - 1 if old_count else old_start)
        tokens.extend(line.text for line in lines if line.kind in ("ctx", "add"))
        position = old_start + old_count if old_count else old_start + 1
    keep_source(max(source, default=0))
    return tokens


def _numbers(tokens: list) -> list[int]:
    """The line number, in its version of the file, at which each token starts."""
    numbers, at = [], 1
    for token in tokens:
        numbers.append(at)
        at += token.size if isinstance(token, _Unseen) else 1
    return numbers


def _size(tokens: list) -> int:
    return sum(token.size if isinstance(token, _Unseen) else 1 for token in tokens)


def _span(numbers: list[int], tokens: list, first: int, last: int) -> tuple[int, int]:
    """Start and length of a hunk on one side, as git writes them: an empty side names the
    line before it."""
    size = _size(tokens[first:last])
    if size:
        return numbers[first], size
    return (numbers[first] - 1 if first < len(numbers) else _size(tokens)), 0


def versions_compared(*, old_text: str, new_text: str) -> ParsedDiff:
    """What changed in the files between two versions of a fix's diff.

    Both diffs change the same source files. Each version's files are rebuilt from its
    diff's new side and the source lines either diff shows, then compared file by file:
    the result reads like a diff of the files from one version to the other (no diff of
    diffs), numbered by each version's file. Source lines neither diff shows stand as one
    unchanged note.
    """
    old_parsed, new_parsed = parse_diff(old_text), parse_diff(new_text)
    old_files = {f.path: f for f in old_parsed.files}
    new_files = {f.path: f for f in new_parsed.files}
    problems: list[str] = []
    files: list[DiffFile] = []
    for path in [*old_files, *(p for p in new_files if p not in old_files)]:
        versions = (old_files.get(path), new_files.get(path))
        source: dict[int, str] = {}
        in_source = False
        for diff_file in versions:
            if diff_file is None or diff_file.change == "added":
                continue
            in_source = True
            shown = [line for line in diff_file.lines if line.kind in ("ctx", "del")]
            disagree = [
                line for line in shown if source.setdefault(line.old_no, line.text) != line.text
            ]
            if disagree:
                problems.append(f"{path}: the two versions start from different files.")
        before = _file_after(versions[0], source=source, in_source=in_source)
        after = _file_after(versions[1], source=source, in_source=in_source)
        if before == after:
            continue
        compared = DiffFile(
            index=len(files),
            old_path=path if before is not None else "/dev/null",
            new_path=path if after is not None else "/dev/null",
        )
        _compare_tokens(compared, before or [], after or [])
        files.append(compared)
    if not files:
        return ParsedDiff(files=[], state="empty")
    return ParsedDiff(files=files, state="malformed" if problems else "ok", problems=problems[:20])


def _compare_tokens(diff_file: DiffFile, before: list, after: list) -> None:
    old_numbers, new_numbers = _numbers(before), _numbers(after)
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for group in matcher.get_grouped_opcodes(3):
        group = _without_unseen_edges(group, before)
        old_start, old_size = _span(old_numbers, before, group[0][1], group[-1][2])
        new_start, new_size = _span(new_numbers, after, group[0][3], group[-1][4])
        diff_file.lines.append(
            DiffLine(kind="hunk", text=f"@@ -{old_start},{old_size} +{new_start},{new_size} @@")
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
                    token = before[i]
                    if isinstance(token, _Unseen):
                        diff_file.lines.append(
                            DiffLine(
                                kind="note",
                                text=f"{token.size} line{'s' if token.size != 1 else ''} "
                                "that neither version changes",
                            )
                        )
                    else:
                        diff_file.lines.append(
                            DiffLine(
                                kind="ctx", text=token, old_no=old_numbers[i], new_no=new_numbers[j]
                            )
                        )
                continue
            for i in range(i1, i2):
                diff_file.lines.append(_changed("del", before[i], old_no=old_numbers[i]))
                diff_file.deletions += not isinstance(before[i], _Unseen)
            for j in range(j1, j2):
                diff_file.lines.append(_changed("add", after[j], new_no=new_numbers[j]))
                diff_file.additions += not isinstance(after[j], _Unseen)


def _without_unseen_edges(group: list[tuple], before: list) -> list[tuple]:
    """A hunk starts and ends at lines a reader can see: unseen source lines at its edges
    are context that says nothing."""
    group = list(group)
    tag, i1, i2, j1, j2 = group[0]
    if tag == "equal":
        while i1 < i2 and isinstance(before[i1], _Unseen):
            i1, j1 = i1 + 1, j1 + 1
        group[0] = (tag, i1, i2, j1, j2)
    tag, i1, i2, j1, j2 = group[-1]
    if tag == "equal":
        while i2 > i1 and isinstance(before[i2 - 1], _Unseen):
            i2, j2 = i2 - 1, j2 - 1
        group[-1] = (tag, i1, i2, j1, j2)
    return group


def _changed(kind: str, token, **numbers) -> DiffLine:
    if isinstance(token, _Unseen):  # never seen in practice: both versions keep them
        return DiffLine(kind="note", text=f"{token.size} lines not shown by either diff")
    return DiffLine(kind=kind, text=token, **numbers)


# Rendering rows in Python rather than with a template loop: a file of thousands of lines
# renders in milliseconds. Every piece of diff text goes through `escape` (or is Pygments'
# already escaped output); nothing else from the diff reaches the page.


def _code(line: DiffLine) -> str:
    return str(line.html) if line.html else visible_html(line.text)


def _line_button(*, side: str, number: int, file_index: int) -> str:
    where = "old file" if side == "old" else "new file"
    return (
        f'<button type="button" class="diff-line-no" data-comment-side="{side}" '
        f'data-comment-line="{number}" data-comment-file="{file_index}" '
        f'aria-label="Comment on line {number} of the {where}">{number}</button>'
    )


def _gutter(line: DiffLine | None, side: str, file_index: int) -> str:
    """The line-number cell of one side: the line's number in that side's file, or empty
    when the line is not in that file (an added line has no old number)."""
    number = None
    if line is not None:
        number = line.old_no if side == "old" else line.new_no
    if number is None:
        return '<td class="diff-gutter"></td>'
    button = _line_button(side=side, number=number, file_index=file_index)
    return f'<td class="diff-gutter">{button}</td>'


def _threads_of(lines, threads: dict[tuple[str, int], str]) -> list[str]:
    """The comment threads anchored on these lines, each once, old side first."""
    out = []
    seen = set()
    for line in lines:
        if line is None:
            continue
        for key in line.anchors():
            if key in threads and key not in seen:
                seen.add(key)
                out.append(threads[key])
    return out


def render_unified(
    diff_file: DiffFile, *, file_index: int, threads: dict[tuple[str, int], str]
) -> SafeString:
    """Table rows of the unified view; `threads` maps (side, line) to rendered comments.

    The first gutter carries the old file's line numbers, the second the new file's: a
    removed line has only an old number, an added line only a new one."""
    out = []
    for line in diff_file.lines:
        if line.kind == "hunk":
            out.append(
                '<tr class="diff-hunk"><td class="diff-gutter"></td><td class="diff-gutter"></td>'
                f'<td class="diff-code">{visible_html(line.text)}</td></tr>'
            )
        elif line.kind == "note":
            out.append(
                '<tr class="diff-ctx"><td class="diff-gutter"></td><td class="diff-gutter"></td>'
                f'<td class="muted small">{visible_html(line.text)}</td></tr>'
            )
        else:
            out.append(
                f'<tr class="diff-{line.kind}">{_gutter(line, "old", file_index)}'
                f"{_gutter(line, 'new', file_index)}"
                f'<td class="diff-code">{_code(line)}</td></tr>'
            )
            for thread in _threads_of([line], threads):
                out.append(f'<tr class="diff-comments"><td colspan="3">{thread}</td></tr>')
    return mark_safe("".join(out))  # noqa: S308 - built from escaped parts only


def render_split(
    diff_file: DiffFile, *, file_index: int, threads: dict[tuple[str, int], str]
) -> SafeString:
    """Table rows of the side-by-side view: the old file on the left with its own line
    numbers, the new file on the right with its own."""
    out = []
    for row in side_by_side(diff_file):
        if row.kind in ("hunk", "note"):
            css = "diff-hunk" if row.kind == "hunk" else "diff-ctx"
            out.append(
                f'<tr class="{css}"><td class="diff-gutter"></td>'
                f'<td class="diff-code" colspan="3">{visible_html(row.text)}</td></tr>'
            )
            continue
        cells = []
        for line, changed, side in ((row.left, "del", "old"), (row.right, "add", "new")):
            if line is None:
                cells.append('<td class="diff-gutter"></td><td></td>')
                continue
            css = f"diff-{changed}" if line.kind == changed else "diff-ctx"
            cells.append(
                f"{_gutter(line, side, file_index)}"
                f'<td class="{css}"><span class="diff-code">{_code(line)}</span></td>'
            )
        out.append(f"<tr>{''.join(cells)}</tr>")
        for thread in _threads_of([row.left, row.right], threads):
            out.append(f'<tr class="diff-comments"><td colspan="4">{thread}</td></tr>')
    return mark_safe("".join(out))  # noqa: S308 - built from escaped parts only

"""CODEOWNERS files: their lines, their patterns and which pattern a path matches.

The syntax is GitHub's: one pattern and its owners per line, `#` starts a comment, patterns
follow gitignore's rules (a leading `/` or a `/` inside anchors the pattern at the repository's
root, a trailing `/` matches a directory's contents, `*` and `?` stay within one path segment,
`**` spans segments) without gitignore's negation (`!`) and character ranges (`[...]`), which
CODEOWNERS does not support. Of the patterns matching a path, the last one wins.

Nothing here knows the portal: owners are returned as written and resolved by the caller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An owner as CODEOWNERS writes one: @name, @organization/team-name, or an email address.
OWNER = re.compile(r"@[\w.-]+(?:/[\w.-]+)?|[^@\s]+@[^@\s]+\.[^@\s]+")
MAX_PATTERN_LENGTH = 500


class PatternError(ValueError):
    """A pattern CODEOWNERS cannot hold; the message says what is wrong with it."""


@dataclass(frozen=True)
class CodeownersLine:
    number: int
    pattern: str
    owners: tuple[str, ...]


@dataclass(frozen=True)
class CodeownersError:
    number: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.number}: {self.message}"


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regular expression matching exactly the file paths ``pattern`` covers."""
    if not pattern:
        raise PatternError("the pattern is empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise PatternError(f"the pattern is longer than {MAX_PATTERN_LENGTH} characters")
    if pattern.startswith("!"):
        raise PatternError("CODEOWNERS does not support negated patterns (starting with !)")
    if "[" in pattern or "]" in pattern:
        raise PatternError("CODEOWNERS does not support character ranges ([...])")
    if pattern.startswith("\\#"):
        pattern = pattern[1:]
    anchored = pattern.startswith("/")
    body = pattern[1:] if anchored else pattern
    directory = body.endswith("/")
    body = body[:-1] if directory else body
    if not body:
        raise PatternError("the pattern names no path")
    segments = body.split("/")
    if "" in segments:
        raise PatternError("the pattern has an empty path segment (//)")
    if any("**" in segment and segment != "**" for segment in segments):
        raise PatternError("** must be a whole path segment, as in docs/**/*.md")
    # A slash before the end anchors the pattern at the root, as in gitignore.
    anchored = anchored or len(segments) > 1
    if directory:
        segments.append("**")
    if not anchored and segments[0] != "**":
        segments.insert(0, "**")
    return re.compile(_segments_regex(segments))


def _segments_regex(segments: list[str]) -> str:
    last = len(segments) - 1
    parts = []
    need_slash = False
    for index, segment in enumerate(segments):
        if segment == "**":
            if index == 0:
                parts.append(".+" if index == last else "(?:.+/)?")
                need_slash = False
            elif index == last:
                parts.append("/.+")
            else:
                parts.append("(?:/.+)?")
                need_slash = True
            continue
        if need_slash:
            parts.append("/")
        parts.append("".join(_character_regex(character) for character in segment))
        need_slash = True
    # A name may be a directory: it covers everything below it. `docs/*` covers only the
    # files directly in docs/, as GitHub documents.
    if segments[-1] not in {"*", "**"}:
        parts.append("(?:/.*)?")
    return "".join(parts) + r"\Z"


def _character_regex(character: str) -> str:
    if character == "*":
        return "[^/]*"
    if character == "?":
        return "[^/]"
    return re.escape(character)


def owner_for_path(rules: list[tuple[re.Pattern[str], object]], path: str) -> object | None:
    """The owner of the last rule whose pattern matches ``path``; None when none matches."""
    for regex, owner in reversed(rules):
        if regex.match(path):
            return owner
    return None


def codeowners_parse(text: str) -> tuple[list[CodeownersLine], list[CodeownersError]]:
    """The rule lines of a CODEOWNERS file and an error for each line that is not one.

    Blank lines and comments are skipped. Each rule line has one pattern and at most one owner
    (the portal gives a finding one owner); a pattern without owners means "no owner", as in
    CODEOWNERS.
    """
    lines: list[CodeownersLine] = []
    errors: list[CodeownersError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = _without_comment(raw).strip()
        if not content:
            continue
        pattern, *owners = content.split()
        problem = _line_problem(pattern, owners)
        if problem:
            errors.append(CodeownersError(number, problem))
        else:
            lines.append(CodeownersLine(number, pattern, tuple(owners)))
    return lines, errors


def _without_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    # A "#" after a space starts a comment; "\#" at the start is a pattern.
    match = re.search(r"\s#", line)
    return line[: match.start()] if match else line


def _line_problem(pattern: str, owners: list[str]) -> str:
    try:
        pattern_regex(pattern)
    except PatternError as exc:
        return f"{pattern!r}: {exc}."
    if pattern.startswith("@"):
        return f"{pattern!r} looks like an owner, but a line starts with a path pattern."
    if len(owners) > 1:
        return (
            f"{len(owners)} owners ({' '.join(owners)}); the portal gives each finding one "
            "owner, so write one squad or member per line."
        )
    for owner in owners:
        if not OWNER.fullmatch(owner):
            return f"{owner!r} is not an owner: write @squad-name, @username or an email address."
    return ""

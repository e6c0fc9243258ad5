"""Git-style unified diffs between two versions of a tree, and strict application of them."""

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher

_NO_NEWLINE = "\\ No newline at end of file"
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _range(start: int, stop: int) -> str:
    # As GNU diff: a one-line range omits its length, an empty one names the line before it.
    length = stop - start
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def _body_line(prefix: str, line: str) -> list[str]:
    if line.endswith("\n"):
        return [prefix + line[:-1]]
    return [prefix + line, _NO_NEWLINE]


def _file_diff(path: str, old: str | None, new: str | None) -> list[str]:
    old_lines = old.splitlines(keepends=True) if old is not None else []
    new_lines = new.splitlines(keepends=True) if new is not None else []
    out = [f"diff --git a/{path} b/{path}"]
    if old is None:
        out += ["new file mode 100644", "--- /dev/null", f"+++ b/{path}"]
    elif new is None:
        out += ["deleted file mode 100644", f"--- a/{path}", "+++ /dev/null"]
    else:
        out += [f"--- a/{path}", f"+++ b/{path}"]
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for group in matcher.get_grouped_opcodes(3):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@")
        for tag, old_start, old_stop, new_start, new_stop in group:
            if tag == "equal":
                for line in old_lines[old_start:old_stop]:
                    out += _body_line(" ", line)
                continue
            for line in old_lines[old_start:old_stop]:
                out += _body_line("-", line)
            for line in new_lines[new_start:new_stop]:
                out += _body_line("+", line)
    return out


def make_diff(old_files: dict[str, str], new_files: dict[str, str]) -> str:
    """A unified diff (git format, paths a/ and b/) turning ``old_files`` into ``new_files``."""
    out: list[str] = []
    for path in sorted(old_files.keys() | new_files.keys()):
        old, new = old_files.get(path), new_files.get(path)
        if old != new:
            out += _file_diff(path, old, new)
    return "\n".join(out) + "\n" if out else ""


@dataclass
class _Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class _FilePatch:
    old_path: str | None
    new_path: str | None
    hunks: list[_Hunk] = field(default_factory=list)


def _strip_prefix(path: str) -> str | None:
    path = path.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    if path.startswith(("a/", "b/")):
        return path[2:]
    return path


def _parse(diff: str) -> list[_FilePatch]:
    patches: list[_FilePatch] = []
    lines = diff.splitlines()
    index = 0
    current: _FilePatch | None = None
    while index < len(lines):
        line = lines[index]
        if line.startswith("diff --git "):
            current = None
        elif (
            line.startswith("--- ")
            and index + 1 < len(lines)
            and lines[index + 1].startswith("+++ ")
        ):
            current = _FilePatch(_strip_prefix(line[4:]), _strip_prefix(lines[index + 1][4:]))
            patches.append(current)
            index += 1
        elif line.startswith("@@"):
            header = _HUNK_HEADER.match(line)
            if header is None or current is None:
                raise ValueError(f"malformed hunk header: {line!r}")
            old_start, old_count, new_start, new_count = header.groups()
            hunk = _Hunk(
                int(old_start),
                1 if old_count is None else int(old_count),
                int(new_start),
                1 if new_count is None else int(new_count),
            )
            current.hunks.append(hunk)
            index = _read_hunk(lines, index + 1, hunk)
            continue
        index += 1
    if not patches:
        raise ValueError("no file changes in diff")
    return patches


def _read_hunk(lines: list[str], index: int, hunk: _Hunk) -> int:
    old_seen = new_seen = 0
    while index < len(lines) and (old_seen < hunk.old_count or new_seen < hunk.new_count):
        line = lines[index]
        if line.startswith(_NO_NEWLINE[:2]):
            index += 1
            continue
        kind, text = (line[0], line[1:]) if line else (" ", "")
        if kind not in " -+":
            raise ValueError(f"unexpected line in hunk: {line!r}")
        hunk.lines.append((kind, text + "\n"))
        old_seen += kind in " -"
        new_seen += kind in " +"
        index += 1
        if index < len(lines) and lines[index].startswith(_NO_NEWLINE[:2]):
            hunk.lines[-1] = (kind, text)
            index += 1
    if old_seen != hunk.old_count or new_seen != hunk.new_count:
        raise ValueError("hunk is shorter than its header says")
    return index


def _apply_file(text: str, patch: _FilePatch) -> str:
    source = text.splitlines(keepends=True)
    result: list[str] = []
    cursor = 0
    for hunk in patch.hunks:
        start = hunk.old_start if hunk.old_count == 0 else hunk.old_start - 1
        if start < cursor or start > len(source):
            raise ValueError(f"hunk at line {hunk.old_start} of {patch.old_path} is out of order")
        result.extend(source[cursor:start])
        cursor = start
        for kind, line in hunk.lines:
            if kind in " -":
                if cursor >= len(source) or source[cursor] != line:
                    raise ValueError(
                        f"hunk does not match {patch.old_path} at line {cursor + 1}: "
                        f"expected {line!r}"
                    )
                cursor += 1
            if kind in " +":
                result.append(line)
    result.extend(source[cursor:])
    return "".join(result)


def apply_diff(files: dict[str, str], diff: str) -> dict[str, str]:
    """``files`` with ``diff`` applied; ValueError when any hunk does not match exactly."""
    result = dict(files)
    for patch in _parse(diff):
        if patch.old_path is None:
            if patch.new_path is None or patch.new_path in result:
                raise ValueError(f"cannot create {patch.new_path}: it already exists")
            result[patch.new_path] = _apply_file("", patch)
            continue
        if patch.old_path not in result:
            raise ValueError(f"{patch.old_path} is not in the tree")
        patched = _apply_file(result[patch.old_path], patch)
        if patch.new_path is None:
            if patched:
                raise ValueError(f"deleting {patch.old_path} leaves content behind")
            del result[patch.old_path]
        else:
            del result[patch.old_path]
            result[patch.new_path] = patched
    return result

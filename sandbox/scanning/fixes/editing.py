"""A file being edited by fixes: its lines, comment syntax, and import bookkeeping."""

import re
import sys
from dataclasses import dataclass, field

from sandbox.scanning.detection import Detection
from sandbox.scanning.rules.text_code import is_dockerfile

_HASH_COMMENTS = (".py", ".tf", ".sh", ".bash", ".yml", ".yaml", ".toml", ".txt", ".conf", ".cfg")
_SLASH_COMMENTS = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".go", ".mod", ".java", ".kt")
_MARKUP_COMMENTS = (".html", ".xml", ".md")


@dataclass(frozen=True)
class FixRequest:
    """What every fixer may consult besides the file it edits."""

    files: dict[str, str]
    instructions: str
    variant: int


@dataclass
class FileEdit:
    path: str
    lines: list[str]
    deleted: bool = False
    python_imports: set[str] = field(default_factory=set)
    go_imports: set[str] = field(default_factory=set)
    # Go refuses to compile unused imports: these are dropped if a fix removed their last use.
    go_unused: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, path: str, text: str) -> "FileEdit":
        return cls(path=path, lines=text.splitlines(keepends=True))

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def line(self, number: int) -> str:
        """Line ``number`` (1-based) without its line ending."""
        return self.lines[number - 1].rstrip("\r\n")

    def set_line(self, number: int, text: str) -> None:
        ending = self.lines[number - 1][len(self.line(number)) :]
        self.lines[number - 1] = text + (ending or "\n")

    def insert_lines(self, number: int, texts: list[str]) -> None:
        """Inserts ``texts`` before line ``number`` (1-based; one past the end appends)."""
        if number > len(self.lines) and self.lines and not self.lines[-1].endswith("\n"):
            self.lines[-1] += "\n"
        self.lines[number - 1 : number - 1] = [text + "\n" for text in texts]

    def replace_text(self, start: int, end: int, old: str, new: str) -> bool:
        """Replaces the first ``old`` found in lines ``start``..``end`` (1-based, inclusive)."""
        block = "".join(self.lines[start - 1 : end])
        if old not in block:
            return False
        self.lines[start - 1 : end] = block.replace(old, new, 1).splitlines(keepends=True)
        return True

    def indentation(self, number: int) -> str:
        if not 1 <= number <= len(self.lines):
            return ""
        return re.match(r"[ \t]*", self.lines[number - 1]).group(0)


def comment_markers(path: str, line: str = "") -> tuple[str, str] | None:
    """How to write a comment at ``line`` of ``path``: (opening, closing), or None if impossible."""
    name = path.rsplit("/", 1)[-1]
    if path.endswith((".jsx", ".tsx")) and line.lstrip().startswith("<"):
        return "{/* ", " */}"
    if path.endswith(_SLASH_COMMENTS):
        return "// ", ""
    if path.endswith(_HASH_COMMENTS) or is_dockerfile(path) or name in {"Makefile", ".gitignore"}:
        return "# ", ""
    if path.endswith(_MARKUP_COMMENTS):
        return "<!-- ", " -->"
    return None


def insert_comment(edit: FileEdit, number: int, text: str) -> bool:
    """Puts a comment line above line ``number``, indented like it; False if the file has none."""
    target = edit.line(number) if 1 <= number <= len(edit.lines) else ""
    markers = comment_markers(edit.path, target)
    if markers is None:
        return False
    opening, closing = markers
    edit.insert_lines(number, [f"{edit.indentation(number)}{opening}{text}{closing}"])
    return True


def todo_text(detection: Detection) -> str:
    cwe = ", ".join(detection.cwe)
    return f"TODO(security): {detection.title} ({cwe}, {detection.check_id}); needs a manual fix."


def refinement_text(request: FixRequest) -> str:
    summary = " ".join(request.instructions.split())
    if len(summary) > 100:
        summary = summary[:97].rstrip() + "..."
    return f"Refinement {request.variant}: {summary or 'reviewed again without new instructions'}"


def add_python_import(lines: list[str], module: str) -> None:
    statement = f"import {module}\n"
    if statement in lines:
        return
    block_start = next(
        (index for index, line in enumerate(lines) if line.startswith(("import ", "from "))),
        None,
    )
    if block_start is None:
        lines[0:0] = [statement, "\n"]
        return
    block_end = block_start
    while block_end < len(lines) and lines[block_end].startswith(("import ", "from ")):
        block_end += 1
    first_module = re.split(r"[\s.]", lines[block_start].split(maxsplit=1)[1])[0]
    if first_module not in sys.stdlib_module_names:
        # The first block holds third-party imports: the standard library goes in its own group.
        lines[block_start:block_start] = [statement, "\n"]
        return
    for index in range(block_start, block_end):
        line = lines[index]
        if line.startswith("from ") or line.split()[1] > module:
            lines.insert(index, statement)
            return
    lines.insert(block_end, statement)


def add_go_import(lines: list[str], package: str) -> None:
    quoted = f'"{package}"'
    if any(line.strip() == quoted for line in lines):
        return
    start = next((index for index, line in enumerate(lines) if line.startswith("import (")), None)
    if start is None:
        package_line = next(
            index for index, line in enumerate(lines) if line.startswith("package ")
        )
        lines[package_line + 1 : package_line + 1] = ["\n", f"import {quoted}\n"]
        return
    index = start + 1
    while index < len(lines) and lines[index].strip() not in {"", ")"}:
        if lines[index].strip() > quoted:
            break
        index += 1
    lines.insert(index, f"\t{quoted}\n")


def drop_unused_go_import(lines: list[str], package: str) -> None:
    quoted = f'"{package}"'
    alias = package.rsplit("/", 1)[-1]
    body = "".join(line for line in lines if line.strip() != quoted)
    if re.search(rf"\b{re.escape(alias)}\.", body):
        return
    lines[:] = [line for line in lines if line.strip() != quoted]

"""Helpers for tests over the demo trees: find planted lines, write trees for git."""

import subprocess
from pathlib import Path

from sandbox.scanning import SCAN_TYPES, Detection, scan_tree


def line_of(files: dict[str, str], path: str, text: str) -> int:
    """1-based number of the only line of ``path`` containing ``text``."""
    numbers = [
        number for number, line in enumerate(files[path].splitlines(), start=1) if text in line
    ]
    assert len(numbers) == 1, f"{text!r} found on lines {numbers} of {path}"
    return numbers[0]


def all_detections(files: dict[str, str]) -> list[Detection]:
    return [detection for scan_type in SCAN_TYPES for detection in scan_tree(files, scan_type)]


def found(detections: list[Detection], check_id: str, path: str) -> list[Detection]:
    return [d for d in detections if d.check_id == check_id and d.file_path == path]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)


def read_tree(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def git_apply(root: Path, diff: str, *, check: bool) -> subprocess.CompletedProcess[str]:
    arguments = ["git", "apply", "--check"] if check else ["git", "apply"]
    return subprocess.run(arguments, cwd=root, input=diff, text=True, capture_output=True)

"""A scratch git repository, for tests that hold the portal's reading of a diff against
git's own."""

import subprocess
from pathlib import Path

# Git reads no configuration of the person running the tests (HOME is the repository):
# a fixed author, and line ends kept as written.
ENVIRONMENT = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(repo: Path, *args: str) -> str:
    """What ``git <args>`` prints, run in ``repo``."""
    return subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env={**ENVIRONMENT, "HOME": str(repo)},
    ).stdout


def files_written(
    repo: Path, files: dict[str, list[str] | None], *, no_final_newline: set[str] = frozenset()
) -> None:
    """Write each file's lines (``None`` deletes it); the paths in ``no_final_newline`` end
    without a line feed."""
    for path, lines in files.items():
        target = repo / path
        if lines is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        end = "" if path in no_final_newline else "\n"
        target.write_text("\n".join(lines) + end)

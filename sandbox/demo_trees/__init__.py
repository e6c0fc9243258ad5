"""Small source trees with planted security problems, scanned by the sandbox's scanners."""

from pathlib import Path

_ROOT = Path(__file__).with_name("trees")

# Folder names use "__" for the "/" of a full repository name.
TREES: tuple[str, ...] = tuple(
    sorted(folder.name.replace("__", "/", 1) for folder in _ROOT.iterdir() if folder.is_dir())
)


def load_tree(full_name: str) -> dict[str, str]:
    """Every file of a demo tree as relative POSIX path -> text."""
    if full_name not in TREES:
        raise KeyError(f"no demo tree named {full_name!r}")
    folder = _ROOT / full_name.replace("/", "__", 1)
    return {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }

"""``propose_fix``: a unified diff that fixes a set of detections in a source tree."""

from collections import defaultdict
from collections.abc import Callable

from sandbox.scanning.deep_ai import curated_at
from sandbox.scanning.detection import Detection, scan_type_of
from sandbox.scanning.diffs import make_diff
from sandbox.scanning.fixes.editing import (
    FileEdit,
    FixRequest,
    add_go_import,
    add_python_import,
    drop_unused_go_import,
    insert_comment,
    refinement_text,
    todo_text,
)
from sandbox.scanning.fixes.python_fixes import PYTHON_FIXERS
from sandbox.scanning.fixes.sbom_fixes import fix_dependency
from sandbox.scanning.fixes.secret_fixes import fix_secret
from sandbox.scanning.fixes.text_fixes import TEXT_FIXERS
from sandbox.scanning.scan import scan_tree

Fixer = Callable[[FileEdit, Detection, FixRequest], bool]


class FixNotPossible(ValueError):
    """None of the detections is in the tree any more, or none can be changed."""


def fix_curated(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    lines = [edit.line(number) for number in range(1, len(edit.lines) + 1)]
    found = curated_at(
        file_path=edit.path, lines=lines, line=detection.line, check_id=detection.check_id
    )
    if found is None or found[0].replacement is None:
        return False
    finding, start = found
    indent = edit.indentation(start + 1)
    del edit.lines[start : start + len(finding.anchor)]
    edit.insert_lines(start + 1, [indent + line for line in finding.replacement])
    return True


def _fixer_for(detection: Detection) -> Fixer | None:
    scan_type = detection.scan_type or scan_type_of(detection.check_id)
    if scan_type == "secrets_scan":
        return fix_secret
    if scan_type == "sbom_scan":
        return fix_dependency
    if scan_type == "deep_ai_scan":
        return fix_curated
    return PYTHON_FIXERS.get(detection.check_id) or TEXT_FIXERS.get(detection.check_id)


def _located(files: dict[str, str], detections: list[Detection]) -> list[Detection]:
    """The detections at their current lines: found again by fingerprint where possible."""
    current: dict[str, Detection] = {}
    for scan_type in sorted({d.scan_type or scan_type_of(d.check_id) for d in detections}):
        for detection in scan_tree(files, scan_type):
            current[detection.fingerprint] = detection
    located = {}
    for detection in detections:
        fresh = current.get(detection.fingerprint)
        if fresh is not None:
            located[fresh.fingerprint] = fresh
        elif detection.file_path in files:
            line_count = max(len(files[detection.file_path].splitlines()), 1)
            line = min(max(detection.line, 1), line_count)
            located[detection.fingerprint] = Detection.from_dict(
                {**detection.to_dict(), "line": line}
            )
    return list(located.values())


def _apply_one(edit: FileEdit, detection: Detection, request: FixRequest) -> None:
    fixer = _fixer_for(detection)
    fixed = False
    if fixer is not None:
        try:
            fixed = fixer(edit, detection, request)
        except (ValueError, SyntaxError, IndexError, StopIteration):
            # Code that no longer looks like what the fixer expects gets the manual route.
            fixed = False
    if edit.deleted:
        return
    if not fixed:
        insert_comment(edit, detection.line, todo_text(detection))
    note = refinement_text(request)
    # Several detections on one line share a single note.
    already_noted = detection.line <= len(edit.lines) and note in edit.line(detection.line)
    if request.variant and not already_noted:
        insert_comment(edit, detection.line, note)


def _finish(edit: FileEdit) -> None:
    for module in sorted(edit.python_imports):
        add_python_import(edit.lines, module)
    for package in sorted(edit.go_imports):
        add_go_import(edit.lines, package)
    for package in sorted(edit.go_unused - edit.go_imports):
        drop_unused_go_import(edit.lines, package)


def _record_deletion(new_files: dict[str, str], path: str, request: FixRequest) -> None:
    if not request.variant:
        return
    # A refinement also keeps the removed file from being committed again.
    ignore = new_files.get(".gitignore", "")
    if ignore and not ignore.endswith("\n"):
        ignore += "\n"
    new_files[".gitignore"] = ignore + f"# {refinement_text(request)}\n/{path}\n"


def propose_fix(
    files: dict[str, str], detections: list[Detection], *, instructions: str, variant: int = 0
) -> str:
    """A git-style unified diff fixing ``detections`` in ``files``.

    Detections are found again by fingerprint, so lines that moved since the scan are handled.
    A detection without a mechanical fix gets a TODO comment at its line. ``variant`` (the number
    of refinements) yields a different diff for the same input, citing ``instructions``.
    Raises FixNotPossible when nothing in the tree can be changed.
    """
    request = FixRequest(files=files, instructions=instructions, variant=variant)
    by_file: dict[str, list[Detection]] = defaultdict(list)
    for detection in _located(files, detections):
        by_file[detection.file_path].append(detection)
    new_files = dict(files)
    for path in sorted(by_file):
        edit = FileEdit.of(path, files[path])
        # Bottom-up, so that lines inserted for one detection never move the next one.
        for detection in sorted(by_file[path], key=lambda d: (-d.line, d.check_id, d.fingerprint)):
            _apply_one(edit, detection, request)
            if edit.deleted:
                break
        if edit.deleted:
            del new_files[path]
            _record_deletion(new_files, path, request)
            continue
        _finish(edit)
        new_files[path] = edit.text
    diff = make_diff(files, new_files)
    if not diff:
        raise FixNotPossible("none of the detections can be changed in this tree")
    return diff

"""``scan_tree``: runs one scan type over a source tree given as path -> text."""

from collections.abc import Callable

from sandbox.scanning.deep_ai import scan_deep
from sandbox.scanning.detection import SCAN_TYPES, Detection, Hit, detections_from_hits
from sandbox.scanning.rules.python_code import scan_python
from sandbox.scanning.rules.secrets import scan_secrets
from sandbox.scanning.rules.text_code import scan_text_code
from sandbox.scanning.sbom import scan_manifest


def _code(*, file_path: str, text: str) -> list[Hit]:
    if file_path.endswith(".py"):
        return scan_python(file_path=file_path, text=text)
    return scan_text_code(file_path=file_path, text=text)


_SCANNERS: dict[str, Callable[..., list[Hit]]] = {
    "secrets_scan": scan_secrets,
    "semgrep_scan": _code,
    "sbom_scan": scan_manifest,
    "deep_ai_scan": scan_deep,
}


def scan_tree(files: dict[str, str], scan_type: str) -> list[Detection]:
    """Detections of ``scan_type`` in ``files``, ordered by file, line and check id."""
    if scan_type not in SCAN_TYPES:
        raise ValueError(
            f"unknown scan type {scan_type!r}; expected one of {', '.join(SCAN_TYPES)}"
        )
    scanner = _SCANNERS[scan_type]
    hits = []
    for file_path in sorted(files):
        hits.extend(scanner(file_path=file_path, text=files[file_path]))
    return detections_from_hits(scan_type=scan_type, hits=hits, files=files)

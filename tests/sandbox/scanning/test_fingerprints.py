import pytest

from sandbox.demo_trees import TREES, load_tree
from sandbox.scanning import SCAN_TYPES, scan_tree
from sandbox.scanning.detection import Detection


def _shifted(files: dict[str, str]) -> dict[str, str]:
    """Every file with lines added at the top where the format allows it."""
    shifted = {}
    for path, text in files.items():
        if path.endswith((".py", ".tf", ".yml", ".sh", ".txt")) or "Dockerfile" in path:
            prefix = "# Reviewed by the platform team.\n\n" if not text.startswith("#!") else ""
            shifted[path] = prefix + text
        elif path.endswith((".go", ".ts", ".tsx", ".js")) or path == "go.mod":
            shifted[path] = "// Reviewed by the platform team.\n\n" + text
        else:
            shifted[path] = text
    return shifted


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("scan_type", SCAN_TYPES)
def test_fingerprints_survive_lines_moving(tree, scan_type):
    files = load_tree(tree)
    before = scan_tree(files, scan_type)
    after = scan_tree(_shifted(files), scan_type)
    assert {d.fingerprint for d in after} == {d.fingerprint for d in before}
    moved = {d.fingerprint: d.line for d in after}
    for detection in before:
        shift = 0 if _shifted(files)[detection.file_path] == files[detection.file_path] else 2
        assert moved[detection.fingerprint] == detection.line + shift


def test_fingerprints_are_unique_and_differ_between_scan_types():
    fingerprints = [
        d.fingerprint
        for tree in TREES
        for scan_type in SCAN_TYPES
        for d in scan_tree(load_tree(tree), scan_type)
    ]
    assert len(fingerprints) == len(set(fingerprints))


def test_identical_lines_in_one_file_get_distinct_fingerprints():
    files = {"a.py": "import pickle\n\ndef f(x):\n    pickle.loads(x)\n    pickle.loads(x)\n"}
    first, second = scan_tree(files, "semgrep_scan")
    assert first.fingerprint != second.fingerprint


def test_scans_are_deterministic_and_ordered():
    files = load_tree("acme/payments-api")
    for scan_type in SCAN_TYPES:
        detections = scan_tree(files, scan_type)
        assert detections == scan_tree(dict(reversed(list(files.items()))), scan_type)
        keys = [(d.file_path, d.line, d.check_id) for d in detections]
        assert keys == sorted(keys)


def test_an_unknown_scan_type_is_refused():
    with pytest.raises(ValueError, match="unknown scan type"):
        scan_tree({}, "dast_scan")


def test_a_detection_round_trips_through_a_dict():
    detection = scan_tree(load_tree("acme/payments-api"), "sbom_scan")[0]
    data = detection.to_dict()
    assert isinstance(data["cwe"], list)
    assert Detection.from_dict(data) == detection

from sandbox.demo_trees import load_tree
from sandbox.scanning import scan_tree
from tests.sandbox.scanning.trees import line_of


def test_missing_authorization_on_the_refund_route():
    files = load_tree("acme/payments-api")
    detections = {d.check_id: d for d in scan_tree(files, "deep_ai_scan")}
    missing = detections["deep-ai.missing-authorization"]
    assert missing.file_path == "app/routes/admin.py"
    assert missing.line == line_of(files, "app/routes/admin.py", "def force_refund(")
    assert missing.cwe == ("CWE-862",)
    assert missing.owasp == ("A01:2021 - Broken Access Control",)
    assert missing.severity == "critical"
    assert missing.cvss_base_score is not None
    idor = detections["deep-ai.insecure-direct-object-reference"]
    assert idor.line == line_of(files, "app/routes/payments.py", 'WHERE id = %s", (payment_id,)')
    assert idor.cwe == ("CWE-639",)


def test_every_tree_has_its_curated_findings():
    check_ids = {
        tree: {d.check_id for d in scan_tree(load_tree(tree), "deep_ai_scan")}
        for tree in ("acme/web-frontend", "acme/inventory-service", "acme/infra")
    }
    assert check_ids == {
        "acme/web-frontend": {"deep-ai.session-token-in-local-storage"},
        "acme/inventory-service": {"deep-ai.route-outside-auth-group"},
        "acme/infra": {"deep-ai.iam-wildcard-permissions"},
    }


def test_a_curated_finding_follows_its_anchor_and_keeps_its_fingerprint():
    files = load_tree("acme/payments-api")
    admin = files["app/routes/admin.py"]
    moved = {
        **files,
        "app/routes/admin.py": admin.replace(
            'bp = Blueprint("admin", __name__)\n',
            'bp = Blueprint("admin", __name__)\n\n# Refund policy: see the support handbook.\n\n',
        ),
    }
    [before] = [d for d in scan_tree(files, "deep_ai_scan") if d.file_path == "app/routes/admin.py"]
    [after] = [d for d in scan_tree(moved, "deep_ai_scan") if d.file_path == "app/routes/admin.py"]
    assert after.line == before.line + 3
    assert after.fingerprint == before.fingerprint


def test_a_curated_finding_disappears_when_its_code_is_gone():
    files = load_tree("acme/payments-api")
    guarded = files["app/routes/admin.py"].replace(
        "def force_refund(", "@login_required\n@admin_required\ndef force_refund("
    )
    changed = {**files, "app/routes/admin.py": guarded}
    assert "deep-ai.missing-authorization" not in {
        d.check_id for d in scan_tree(changed, "deep_ai_scan")
    }

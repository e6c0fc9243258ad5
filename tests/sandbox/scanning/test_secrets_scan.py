import pytest

from sandbox.demo_trees import load_tree
from sandbox.scanning import scan_tree
from tests.sandbox.scanning.trees import found, line_of

PLANTED = [
    ("acme/payments-api", "app/config.py", "sk_live_", "secrets.stripe-live-key"),
    ("acme/payments-api", "app/config.py", "AKIA", "secrets.aws-access-key-id"),
    (
        "acme/payments-api",
        "app/config.py",
        "AWS_SECRET_ACCESS_KEY =",
        "secrets.aws-secret-access-key",
    ),
    (
        "acme/payments-api",
        "app/services/notifications.py",
        "hooks.slack.com",
        "secrets.slack-webhook",
    ),
    (
        "acme/payments-api",
        "deploy/webhook_signing_key.pem",
        "BEGIN RSA PRIVATE KEY",
        "secrets.private-key",
    ),
    ("acme/web-frontend", "src/api/client.ts", "ghp_", "secrets.github-token"),
    ("acme/inventory-service", "internal/store/store.go", "postgres://", "secrets.password-in-url"),
    ("acme/infra", "terraform/providers.tf", "access_key", "secrets.aws-access-key-id"),
    ("acme/infra", "terraform/providers.tf", "secret_key", "secrets.aws-secret-access-key"),
    ("acme/infra", "terraform/rds.tf", "password", "secrets.hardcoded-password"),
    ("acme/infra", "docker-compose.yml", "POSTGRES_PASSWORD", "secrets.hardcoded-password"),
]


@pytest.mark.parametrize(("tree", "path", "marker", "check_id"), PLANTED)
def test_each_planted_secret_is_found_at_its_line(tree, path, marker, check_id):
    files = load_tree(tree)
    detections = found(scan_tree(files, "secrets_scan"), check_id, path)
    assert [d.line for d in detections] == [line_of(files, path, marker)]
    detection = detections[0]
    assert "CWE-798" in detection.cwe
    assert detection.owasp == ("A07:2021 - Identification and Authentication Failures",)
    assert detection.category == "secrets"
    assert detection.scan_type == "secrets_scan"
    assert detection.severity in {"critical", "high", "medium"}


def test_secrets_scan_reports_nothing_else_on_the_demo_trees():
    planted = {(tree, path, check_id) for tree, path, _marker, check_id in PLANTED}
    reported = {
        (tree, d.file_path, d.check_id)
        for tree in {entry[0] for entry in PLANTED}
        for d in scan_tree(load_tree(tree), "secrets_scan")
    }
    assert reported == planted


def test_a_removed_secret_is_no_longer_reported():
    files = load_tree("acme/web-frontend")
    line = line_of(files, "src/api/client.ts", "ghp_")
    lines = files["src/api/client.ts"].splitlines(keepends=True)
    lines[line - 1] = 'const GITHUB_TOKEN = process.env.GITHUB_TOKEN ?? "";\n'
    changed = {**files, "src/api/client.ts": "".join(lines)}
    assert found(scan_tree(files, "secrets_scan"), "secrets.github-token", "src/api/client.ts")
    assert not found(
        scan_tree(changed, "secrets_scan"), "secrets.github-token", "src/api/client.ts"
    )


def test_environment_lookups_and_placeholders_are_not_secrets():
    files = {
        "settings.py": 'PASSWORD = os.environ["DB_PASSWORD"]\nURL = "postgres://app@db/app"\n',
        "compose.yml": 'POSTGRES_PASSWORD: "${POSTGRES_PASSWORD}"\n',
    }
    assert scan_tree(files, "secrets_scan") == []

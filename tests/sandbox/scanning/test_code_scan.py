import pytest

from sandbox.demo_trees import load_tree
from sandbox.scanning import scan_tree
from tests.sandbox.scanning.trees import found, line_of

INJECTION = "A03:2021 - Injection"

PLANTED = [
    # tree, file, text on the reported line (or text and offset to it), check id, CWE, OWASP
    (
        "acme/payments-api",
        "app/routes/payments.py",
        # The call starts on the line above the formatted string.
        ('f"SELECT id, amount_cents', -1),
        "python.lang.security.formatted-sql-query",
        "CWE-89",
        INJECTION,
    ),
    (
        "acme/payments-api",
        "app/routes/payments.py",
        "ILIKE '%\" + term",
        "python.lang.security.formatted-sql-query",
        "CWE-89",
        INJECTION,
    ),
    (
        "acme/payments-api",
        "app/routes/reports.py",
        "yaml.load(",
        "python.lang.security.deserialization.yaml-unsafe-load",
        "CWE-502",
        "A08:2021 - Software and Data Integrity Failures",
    ),
    (
        "acme/payments-api",
        "app/routes/reports.py",
        "pickle.loads(",
        "python.lang.security.deserialization.pickle-load",
        "CWE-502",
        "A08:2021 - Software and Data Integrity Failures",
    ),
    (
        "acme/payments-api",
        "app/routes/reports.py",
        "shell=True",
        "python.lang.security.subprocess-shell-true",
        "CWE-78",
        INJECTION,
    ),
    (
        "acme/payments-api",
        "app/auth.py",
        "hashlib.md5(",
        "python.lang.security.weak-password-hash",
        "CWE-916",
        "A02:2021 - Cryptographic Failures",
    ),
    (
        "acme/payments-api",
        "wsgi.py",
        "debug=True",
        "python.flask.security.debug-enabled",
        "CWE-489",
        "A05:2021 - Security Misconfiguration",
    ),
    (
        "acme/payments-api",
        "Dockerfile",
        "FROM python",
        "dockerfile.security.missing-user",
        "CWE-250",
        "A05:2021 - Security Misconfiguration",
    ),
    (
        "acme/web-frontend",
        "src/components/SearchResults.js",
        ".innerHTML",
        "javascript.browser.security.insecure-innerhtml",
        "CWE-79",
        INJECTION,
    ),
    (
        "acme/web-frontend",
        "src/components/CommentList.tsx",
        "dangerouslySetInnerHTML",
        "typescript.react.security.dangerouslysetinnerhtml",
        "CWE-79",
        INJECTION,
    ),
    (
        "acme/web-frontend",
        "server/render.js",
        "${req.query.q}",
        "javascript.express.security.reflected-xss",
        "CWE-79",
        INJECTION,
    ),
    (
        "acme/web-frontend",
        "src/pages/ReportBuilder.tsx",
        "eval(formula)",
        "javascript.lang.security.eval-detected",
        "CWE-95",
        INJECTION,
    ),
    (
        "acme/inventory-service",
        "internal/handlers/items.go",
        "fmt.Sprintf(",
        "go.lang.security.sqli.string-formatted-query",
        "CWE-89",
        INJECTION,
    ),
    (
        "acme/inventory-service",
        "internal/handlers/export.go",
        'exec.Command("sh", "-c"',
        "go.lang.security.exec-shell-command",
        "CWE-78",
        INJECTION,
    ),
    (
        "acme/inventory-service",
        "internal/auth/token.go",
        "md5.Sum(",
        "go.lang.security.weak-hash-md5-sha1",
        "CWE-328",
        "A02:2021 - Cryptographic Failures",
    ),
    (
        "acme/inventory-service",
        "internal/auth/token.go",
        "des.NewCipher(",
        "go.lang.security.weak-cipher-des",
        "CWE-327",
        "A02:2021 - Cryptographic Failures",
    ),
    (
        "acme/inventory-service",
        "Dockerfile",
        "FROM alpine:latest",
        "dockerfile.security.image-latest-tag",
        "CWE-1357",
        "A06:2021 - Vulnerable and Outdated Components",
    ),
    (
        "acme/infra",
        "terraform/main.tf",
        '"public-read"',
        "terraform.aws.security.s3-bucket-public-acl",
        "CWE-732",
        "A01:2021 - Broken Access Control",
    ),
    (
        "acme/infra",
        "terraform/main.tf",
        # The open CIDR four lines into the described ingress block.
        ("SSH from anywhere", 4),
        "terraform.aws.security.security-group-open-ingress",
        "CWE-284",
        "A05:2021 - Security Misconfiguration",
    ),
    (
        "acme/infra",
        "docker/nginx.Dockerfile",
        "FROM nginx:latest",
        "dockerfile.security.image-latest-tag",
        "CWE-1357",
        "A06:2021 - Vulnerable and Outdated Components",
    ),
    (
        "acme/infra",
        "scripts/deploy.sh",
        "| bash",
        "bash.security.curl-pipe-shell",
        "CWE-494",
        "A08:2021 - Software and Data Integrity Failures",
    ),
]


@pytest.mark.parametrize(("tree", "path", "marker", "check_id", "cwe", "owasp"), PLANTED)
def test_each_planted_code_problem_is_found_at_its_line(tree, path, marker, check_id, cwe, owasp):
    files = load_tree(tree)
    text, offset = marker if isinstance(marker, tuple) else (marker, 0)
    expected = line_of(files, path, text) + offset
    [detection] = [
        d for d in found(scan_tree(files, "semgrep_scan"), check_id, path) if d.line == expected
    ]
    assert cwe in detection.cwe
    assert detection.owasp == (owasp,)
    assert detection.references
    assert detection.scan_type == "semgrep_scan"


def test_injection_findings_carry_cvss():
    detections = scan_tree(load_tree("acme/payments-api"), "semgrep_scan")
    sql = found(detections, "python.lang.security.formatted-sql-query", "app/routes/payments.py")
    assert {d.cvss_base_score for d in sql} == {8.8}
    assert {d.cvss_severity for d in sql} == {"high"}
    assert all(d.cvss_vector.startswith("CVSS:3.1/") for d in sql)


def test_safe_variants_are_not_reported():
    files = {
        "app.py": (
            "import hashlib\nimport subprocess\nimport yaml\n\n"
            "def load(text, name, cur):\n"
            "    yaml.load(text, Loader=yaml.SafeLoader)\n"
            "    yaml.safe_load(text)\n"
            '    subprocess.run(["tar", "czf", name], check=True)\n'
            '    cur.execute("SELECT * FROM t WHERE id = %s", (name,))\n'
            "    hashlib.md5(text, usedforsecurity=False)\n"
        ),
        "web.js": 'el.innerHTML = "";\nel.textContent = value;\n// el.innerHTML = value;\n',
        "Dockerfile": "FROM python:3.12-slim\nUSER app\n",
    }
    assert scan_tree(files, "semgrep_scan") == []


def test_web_ports_open_to_the_internet_and_egress_are_not_reported():
    files = load_tree("acme/infra")
    lines = {
        d.line
        for d in scan_tree(files, "semgrep_scan")
        if d.check_id == "terraform.aws.security.security-group-open-ingress"
    }
    assert lines == {line_of(files, "terraform/main.tf", "SSH from anywhere") + 4}


def test_a_dockerfile_that_drops_root_is_not_reported():
    files = load_tree("acme/infra")
    assert not [
        d for d in scan_tree(files, "semgrep_scan") if d.file_path == "docker/worker.Dockerfile"
    ]


def test_os_system_with_a_variable_is_command_injection():
    files = {"job.py": "import os\n\ndef run(name):\n    os.system('rm -rf /tmp/' + name)\n"}
    [detection] = scan_tree(files, "semgrep_scan")
    assert detection.check_id == "python.lang.security.os-system-injection"
    assert detection.line == 4
    assert detection.cwe == ("CWE-78",)


def test_a_removed_problem_disappears_and_a_new_one_appears():
    files = load_tree("acme/payments-api")
    reports = files["app/routes/reports.py"]
    changed = {
        **files,
        "app/routes/reports.py": reports.replace("pickle.loads(blob)", "json.loads(blob)"),
        "app/jobs.py": "import os\n\ndef purge(path):\n    os.system('rm -rf ' + path)\n",
    }
    before = {(d.file_path, d.check_id) for d in scan_tree(files, "semgrep_scan")}
    after = {(d.file_path, d.check_id) for d in scan_tree(changed, "semgrep_scan")}
    pickle = ("app/routes/reports.py", "python.lang.security.deserialization.pickle-load")
    assert pickle in before and pickle not in after
    assert after - before == {("app/jobs.py", "python.lang.security.os-system-injection")}

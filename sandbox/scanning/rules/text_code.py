"""Pattern rules of ``semgrep_scan`` for JS/TS, Go, Terraform, Dockerfiles and shell scripts."""

import re
from dataclasses import dataclass

from sandbox.scanning.detection import Hit, Rule
from sandbox.scanning.taxonomy import (
    BROKEN_ACCESS_CONTROL,
    CRYPTOGRAPHIC_FAILURES,
    INJECTION,
    INTEGRITY_FAILURES,
    SECURITY_MISCONFIGURATION,
    VULNERABLE_COMPONENTS,
    cheat_sheet,
    cwe_url,
)

JS_SUFFIXES = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs")
_XSS_REFERENCES = (cwe_url("CWE-79"), cheat_sheet("Cross_Site_Scripting_Prevention"))
_SQL_REFERENCES = (cwe_url("CWE-89"), cheat_sheet("Query_Parameterization"))
_INJECTION_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
_XSS_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"


@dataclass(frozen=True)
class LinePattern:
    rule: Rule
    suffixes: tuple[str, ...]
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None


INNER_HTML = Rule(
    check_id="javascript.browser.security.insecure-innerhtml",
    title="HTML built from data assigned to innerHTML",
    message=(
        "A value that is not sanitised is written to innerHTML, so markup in it runs as script. "
        "Use textContent or build DOM nodes."
    ),
    severity="high",
    category="xss",
    cwe=("CWE-79",),
    owasp=(INJECTION,),
    references=_XSS_REFERENCES,
    cvss_vector=_XSS_VECTOR,
)
DANGEROUS_HTML = Rule(
    check_id="typescript.react.security.dangerouslysetinnerhtml",
    title="Unsanitised HTML rendered with dangerouslySetInnerHTML",
    message=(
        "React renders this value as raw HTML. Render it as text, or sanitise it first "
        "(e.g. DOMPurify.sanitize)."
    ),
    severity="high",
    category="xss",
    cwe=("CWE-79",),
    owasp=(INJECTION,),
    references=_XSS_REFERENCES,
    cvss_vector=_XSS_VECTOR,
)
EXPRESS_XSS = Rule(
    check_id="javascript.express.security.reflected-xss",
    title="Request data reflected into an HTML response",
    message="A request parameter is written into HTML without escaping; escape it before sending.",
    severity="high",
    category="xss",
    cwe=("CWE-79",),
    owasp=(INJECTION,),
    references=_XSS_REFERENCES,
    cvss_vector=_XSS_VECTOR,
)
JS_EVAL = Rule(
    check_id="javascript.lang.security.eval-detected",
    title="eval of dynamic content",
    message="eval runs any JavaScript in the string; parse the input with a dedicated evaluator.",
    severity="high",
    category="code-injection",
    cwe=("CWE-95",),
    owasp=(INJECTION,),
    references=(cwe_url("CWE-95"),),
)
GO_SQL = Rule(
    check_id="go.lang.security.sqli.string-formatted-query",
    title="SQL query built with fmt.Sprintf or concatenation",
    message="Values are formatted into the SQL text; pass them as $n query arguments instead.",
    severity="high",
    category="sql-injection",
    cwe=("CWE-89",),
    owasp=(INJECTION,),
    references=_SQL_REFERENCES,
    cvss_vector=_INJECTION_VECTOR,
)
GO_SHELL = Rule(
    check_id="go.lang.security.exec-shell-command",
    title="Command run through sh -c",
    message=(
        'exec.Command("sh", "-c", ...) hands the string to a shell, so values concatenated '
        "into it can run commands. Call the program directly with separate arguments."
    ),
    severity="high",
    category="command-injection",
    cwe=("CWE-78",),
    owasp=(INJECTION,),
    references=(cwe_url("CWE-78"), cheat_sheet("OS_Command_Injection_Defense")),
    cvss_vector=_INJECTION_VECTOR,
)
GO_WEAK_HASH = Rule(
    check_id="go.lang.security.weak-hash-md5-sha1",
    title="MD5 or SHA-1 used for a security purpose",
    message="MD5/SHA-1 are broken; use SHA-256 (or a password/key derivation function).",
    severity="medium",
    category="weak-cryptography",
    cwe=("CWE-328",),
    owasp=(CRYPTOGRAPHIC_FAILURES,),
    references=(cwe_url("CWE-328"),),
)
GO_DES = Rule(
    check_id="go.lang.security.weak-cipher-des",
    title="DES cipher",
    message="DES keys are brute-forced in hours; use AES-GCM (crypto/aes + cipher.NewGCM).",
    severity="high",
    category="weak-cryptography",
    cwe=("CWE-327",),
    owasp=(CRYPTOGRAPHIC_FAILURES,),
    references=(cwe_url("CWE-327"),),
)
S3_PUBLIC_ACL = Rule(
    check_id="terraform.aws.security.s3-bucket-public-acl",
    title="S3 bucket readable by everyone",
    message='The canned ACL makes every object in the bucket public. Use acl = "private".',
    severity="high",
    category="misconfiguration",
    cwe=("CWE-732",),
    owasp=(BROKEN_ACCESS_CONTROL,),
    references=(cwe_url("CWE-732"),),
)
OPEN_INGRESS = Rule(
    check_id="terraform.aws.security.security-group-open-ingress",
    title="Security group open to the whole internet",
    message=(
        "Ingress from 0.0.0.0/0 on a non-web port exposes the service to every host on the "
        "internet; restrict it to known ranges."
    ),
    severity="high",
    category="misconfiguration",
    cwe=("CWE-284",),
    owasp=(SECURITY_MISCONFIGURATION,),
    references=(cwe_url("CWE-284"),),
)
RDS_PUBLIC = Rule(
    check_id="terraform.aws.security.rds-publicly-accessible",
    title="Database reachable from the internet",
    message="publicly_accessible = true gives the instance a public address; keep it private.",
    severity="high",
    category="misconfiguration",
    cwe=("CWE-284",),
    owasp=(SECURITY_MISCONFIGURATION,),
    references=(cwe_url("CWE-284"),),
)
RDS_UNENCRYPTED = Rule(
    check_id="terraform.aws.security.rds-storage-unencrypted",
    title="Database storage not encrypted",
    message="storage_encrypted = false leaves data and snapshots unencrypted at rest.",
    severity="medium",
    category="misconfiguration",
    cwe=("CWE-311",),
    owasp=(CRYPTOGRAPHIC_FAILURES,),
    references=(cwe_url("CWE-311"),),
)
DOCKER_LATEST = Rule(
    check_id="dockerfile.security.image-latest-tag",
    title="Base image not pinned to a version",
    message=(
        "The :latest (or missing) tag changes under you; builds are not reproducible and can "
        "pull a compromised or breaking image. Pin a version tag."
    ),
    severity="low",
    category="supply-chain",
    cwe=("CWE-1357",),
    owasp=(VULNERABLE_COMPONENTS,),
    references=(cwe_url("CWE-1357"),),
)
DOCKER_ROOT = Rule(
    check_id="dockerfile.security.missing-user",
    title="Container runs as root",
    message=(
        "The final stage sets no USER, so the process runs as root; a compromise of the "
        "service gives root in the container. Add a non-root USER."
    ),
    severity="medium",
    category="misconfiguration",
    cwe=("CWE-250",),
    owasp=(SECURITY_MISCONFIGURATION,),
    references=(cwe_url("CWE-250"),),
)
CURL_PIPE_SHELL = Rule(
    check_id="bash.security.curl-pipe-shell",
    title="Script downloaded and piped into a shell",
    message="Code fetched over the network runs without any integrity check; pin and verify it.",
    severity="medium",
    category="supply-chain",
    cwe=("CWE-494",),
    owasp=(INTEGRITY_FAILURES,),
    references=(cwe_url("CWE-494"),),
)

LINE_PATTERNS = (
    LinePattern(
        INNER_HTML,
        JS_SUFFIXES,
        re.compile(r"\.(?:inner|outer)HTML\s*(?:\+)?=(?!=)"),
        # A constant without interpolation (e.g. clearing the element) is harmless.
        unless=re.compile(r"HTML\s*=\s*([\"'])[^\"'+`$]*\1\s*;?\s*$"),
    ),
    LinePattern(
        DANGEROUS_HTML,
        JS_SUFFIXES,
        re.compile(r"dangerouslySetInnerHTML\s*=\s*\{\{\s*__html\s*:"),
        unless=re.compile(r"__html\s*:\s*(?:DOMPurify\.)?sanitize\("),
    ),
    LinePattern(
        EXPRESS_XSS,
        JS_SUFFIXES,
        re.compile(
            r"res\.(?:send|write|end)\s*\(.*(?:\$\{\s*req\.(?:query|params|body)"
            r"|\+\s*req\.(?:query|params|body))"
        ),
    ),
    LinePattern(JS_EVAL, JS_SUFFIXES, re.compile(r"(?<![\w.])eval\s*\(")),
    LinePattern(
        GO_SQL,
        (".go",),
        re.compile(
            r"\.(?:Query|QueryRow|Exec|QueryContext|QueryRowContext|ExecContext)\s*\("
            r"\s*(?:ctx,\s*)?(?:fmt\.Sprintf\(|\"[^\"]*\"\s*\+)"
        ),
    ),
    LinePattern(
        GO_SHELL,
        (".go",),
        re.compile(
            r"exec\.Command(?:Context)?\(\s*(?:ctx,\s*)?\"(?:/bin/)?(?:ba)?sh\"\s*,\s*\"-c\""
        ),
    ),
    LinePattern(GO_WEAK_HASH, (".go",), re.compile(r"\b(?:md5|sha1)\.(?:Sum|New)\(")),
    LinePattern(GO_DES, (".go",), re.compile(r"\bdes\.(?:NewCipher|NewTripleDESCipher)\(")),
    LinePattern(
        S3_PUBLIC_ACL,
        (".tf",),
        re.compile(r"^\s*acl\s*=\s*\"(?:public-read|public-read-write|authenticated-read)\""),
    ),
    LinePattern(RDS_PUBLIC, (".tf",), re.compile(r"^\s*publicly_accessible\s*=\s*true\b")),
    LinePattern(RDS_UNENCRYPTED, (".tf",), re.compile(r"^\s*storage_encrypted\s*=\s*false\b")),
    LinePattern(
        CURL_PIPE_SHELL,
        (".sh", ".bash", "Makefile"),
        re.compile(r"\b(?:curl|wget)\b[^|#]*\|\s*(?:sudo\s+)?(?:ba|z)?sh\b"),
    ),
)

TEXT_RULES = (
    *(pattern.rule for pattern in LINE_PATTERNS),
    OPEN_INGRESS,
    DOCKER_LATEST,
    DOCKER_ROOT,
)

_COMMENT_PREFIXES = {".go": "//", ".tf": "#", ".sh": "#", ".bash": "#"}
_WEB_PORTS = {"80", "443"}


def is_dockerfile(file_path: str) -> bool:
    name = file_path.rsplit("/", 1)[-1]
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def _is_comment(file_path: str, line: str) -> bool:
    stripped = line.lstrip()
    if file_path.endswith(JS_SUFFIXES):
        return stripped.startswith(("//", "/*", "*"))
    for suffix, prefix in _COMMENT_PREFIXES.items():
        if file_path.endswith(suffix):
            return stripped.startswith(prefix)
    return False


def _open_ingress_hits(file_path: str, lines: list[str]) -> list[Hit]:
    hits = []
    block_start = None
    depth = 0
    block: dict[str, str] = {}
    cidr_line = None
    for number, line in enumerate(lines, start=1):
        stripped = line.split("#", 1)[0].strip()
        if block_start is None:
            if re.match(r"ingress\s*\{", stripped):
                block_start, depth, block, cidr_line = number, 1, {}, None
            continue
        depth += stripped.count("{") - stripped.count("}")
        assignment = re.match(r"(\w+)\s*=\s*(.+)", stripped)
        if assignment:
            block[assignment.group(1)] = assignment.group(2)
            if assignment.group(1) in {"cidr_blocks", "ipv6_cidr_blocks"} and re.search(
                r"\"(?:0\.0\.0\.0/0|::/0)\"", assignment.group(2)
            ):
                cidr_line = number
        if depth <= 0:
            ports = {block.get("from_port", ""), block.get("to_port", "")}
            if cidr_line is not None and not ports <= _WEB_PORTS:
                hits.append(Hit(rule=OPEN_INGRESS, file_path=file_path, line=cidr_line))
            block_start = None
    return hits


def _dockerfile_hits(file_path: str, lines: list[str]) -> list[Hit]:
    hits = []
    stage_names: set[str] = set()
    final_from = None
    final_user = None
    for number, line in enumerate(lines, start=1):
        instruction = re.match(
            r"\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", line, re.I
        )
        if instruction:
            image, stage = instruction.group(1), instruction.group(2)
            final_from, final_user = number, None
            if stage:
                stage_names.add(stage.lower())
            last_segment = image.rsplit("/", 1)[-1]
            tag = last_segment.rpartition(":")[2] if ":" in last_segment else ""
            pinned = tag not in {"", "latest"} or "@" in image
            if not pinned and image.lower() not in stage_names and image != "scratch":
                hits.append(Hit(rule=DOCKER_LATEST, file_path=file_path, line=number))
            continue
        user = re.match(r"\s*USER\s+(\S+)", line, re.I)
        if user:
            final_user = user.group(1)
    if final_from is not None and (final_user is None or final_user.split(":")[0] in {"root", "0"}):
        hits.append(Hit(rule=DOCKER_ROOT, file_path=file_path, line=final_from))
    return hits


def scan_text_code(*, file_path: str, text: str) -> list[Hit]:
    lines = text.splitlines()
    hits = []
    for pattern in LINE_PATTERNS:
        if not file_path.endswith(pattern.suffixes):
            continue
        for number, line in enumerate(lines, start=1):
            if _is_comment(file_path, line) or not pattern.pattern.search(line):
                continue
            if pattern.unless is not None and pattern.unless.search(line):
                continue
            hits.append(Hit(rule=pattern.rule, file_path=file_path, line=number))
    if file_path.endswith(".tf"):
        hits.extend(_open_ingress_hits(file_path, lines))
    if is_dockerfile(file_path):
        hits.extend(_dockerfile_hits(file_path, lines))
    return hits

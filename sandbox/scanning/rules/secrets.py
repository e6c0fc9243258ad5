"""Secret formats looked for by ``secrets_scan``: one regular expression per credential kind."""

import re
from dataclasses import dataclass

from sandbox.scanning.detection import Hit, Rule
from sandbox.scanning.taxonomy import AUTHENTICATION_FAILURES, cheat_sheet, cwe_url

_SECRETS_REFERENCES = (cwe_url("CWE-798"), cheat_sheet("Secrets_Management"))


def _secret_rule(check_id: str, title: str, severity: str, cwe: tuple[str, ...] = ("CWE-798",)):
    return Rule(
        check_id=check_id,
        title=title,
        message=(
            f"{title} committed to the repository. Anyone with read access can use it: "
            "revoke it, then load it from the environment or a secrets manager."
        ),
        severity=severity,
        category="secrets",
        cwe=cwe,
        owasp=(AUTHENTICATION_FAILURES,),
        references=_SECRETS_REFERENCES,
    )


@dataclass(frozen=True)
class SecretPattern:
    rule: Rule
    pattern: re.Pattern[str]


SECRET_PATTERNS = (
    SecretPattern(
        _secret_rule("secrets.aws-access-key-id", "AWS access key ID", "critical"),
        re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ),
    SecretPattern(
        _secret_rule("secrets.aws-secret-access-key", "AWS secret access key", "critical"),
        re.compile(
            r"(?i)(?:aws_secret_access_key|aws_secret_key|secret_key)[\"']?\s*[:=]\s*"
            r"[\"'][A-Za-z0-9/+=]{40}[\"']"
        ),
    ),
    SecretPattern(
        _secret_rule("secrets.github-token", "GitHub personal access token", "high"),
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    ),
    SecretPattern(
        _secret_rule("secrets.stripe-live-key", "Stripe live secret key", "critical"),
        re.compile(r"\b[sr]k_live_[0-9A-Za-z]{24,99}\b"),
    ),
    SecretPattern(
        _secret_rule("secrets.private-key", "Private key", "critical", cwe=("CWE-798", "CWE-321")),
        re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    ),
    SecretPattern(
        _secret_rule("secrets.slack-webhook", "Slack incoming webhook URL", "medium"),
        re.compile(
            r"https://hooks\.slack\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{24}"
        ),
    ),
    SecretPattern(
        _secret_rule("secrets.password-in-url", "Password embedded in a connection URL", "high"),
        re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@\"'$]+:(?P<password>[^/\s:@\"'${}]{6,})@"),
    ),
    SecretPattern(
        _secret_rule("secrets.hardcoded-password", "Hard-coded password", "high"),
        re.compile(r"(?i)[a-z_]*(?:password|passwd|pwd)[\"']?\s*[:=]\s*[\"'][^\"'\s${}]{8,}[\"']"),
    ),
)

# Binary-ish or generated files are never worth reading line by line.
_SKIPPED_SUFFIXES = (".lock", ".sum", ".min.js", ".png", ".jpg", ".svg")


def scan_secrets(*, file_path: str, text: str) -> list[Hit]:
    if file_path.endswith(_SKIPPED_SUFFIXES):
        return []
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        for secret in SECRET_PATTERNS:
            if secret.pattern.search(line):
                hits.append(Hit(rule=secret.rule, file_path=file_path, line=number))
    return hits

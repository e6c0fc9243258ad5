"""OWASP Top 10 (2021) labels and reference links shared by the rule sets."""

BROKEN_ACCESS_CONTROL = "A01:2021 - Broken Access Control"
CRYPTOGRAPHIC_FAILURES = "A02:2021 - Cryptographic Failures"
INJECTION = "A03:2021 - Injection"
INSECURE_DESIGN = "A04:2021 - Insecure Design"
SECURITY_MISCONFIGURATION = "A05:2021 - Security Misconfiguration"
VULNERABLE_COMPONENTS = "A06:2021 - Vulnerable and Outdated Components"
AUTHENTICATION_FAILURES = "A07:2021 - Identification and Authentication Failures"
INTEGRITY_FAILURES = "A08:2021 - Software and Data Integrity Failures"


def cwe_url(cwe: str) -> str:
    return f"https://cwe.mitre.org/data/definitions/{cwe.removeprefix('CWE-')}.html"


def cheat_sheet(name: str) -> str:
    return f"https://cheatsheetseries.owasp.org/cheatsheets/{name}_Cheat_Sheet.html"

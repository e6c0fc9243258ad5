"""``deep_ai_scan``: curated findings a reviewing model would report, tied to the code by anchors.

Each finding names a file and a run of consecutive source lines (compared without surrounding
whitespace). It is reported wherever that run appears, so it follows the code when lines move,
and disappears once the code no longer contains it (e.g. after the fix below is applied).
"""

from dataclasses import dataclass

from sandbox.scanning.detection import Hit, Rule
from sandbox.scanning.taxonomy import (
    BROKEN_ACCESS_CONTROL,
    INSECURE_DESIGN,
    cheat_sheet,
    cwe_url,
)

MISSING_AUTHORIZATION = Rule(
    check_id="deep-ai.missing-authorization",
    title="Privileged endpoint without an authorization check",
    message=(
        "This back-office route changes payments but carries neither login_required nor "
        "admin_required, unlike the other routes of the blueprint: any anonymous client can "
        "refund any payment."
    ),
    severity="critical",
    category="access-control",
    cwe=("CWE-862",),
    owasp=(BROKEN_ACCESS_CONTROL,),
    references=(cwe_url("CWE-862"), cheat_sheet("Authorization")),
    cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H",
)
IDOR = Rule(
    check_id="deep-ai.insecure-direct-object-reference",
    title="Payment looked up by id without checking its owner",
    message=(
        "get_payment loads any payment by its numeric id; a logged-in customer can read other "
        "customers' payments by counting ids. Scope the query to the current customer."
    ),
    severity="high",
    category="access-control",
    cwe=("CWE-639",),
    owasp=(BROKEN_ACCESS_CONTROL,),
    references=(cwe_url("CWE-639"), cheat_sheet("Insecure_Direct_Object_Reference_Prevention")),
    cvss_vector="CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
)
UNPROTECTED_ROUTE = Rule(
    check_id="deep-ai.route-outside-auth-group",
    title="Destructive route registered outside the authenticated group",
    message=(
        "DELETE /api/items/:sku is registered on the bare router instead of the group guarded by "
        "auth.RequireToken(), so anyone can delete stock items without a token."
    ),
    severity="critical",
    category="access-control",
    cwe=("CWE-306",),
    owasp=(BROKEN_ACCESS_CONTROL,),
    references=(cwe_url("CWE-306"), cheat_sheet("Authorization")),
    cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H",
)
TOKEN_IN_LOCAL_STORAGE = Rule(
    check_id="deep-ai.session-token-in-local-storage",
    title="Session token kept in localStorage",
    message=(
        "The bearer token is stored in localStorage, readable by any script on the origin; "
        "together with the XSS sinks in this app, one injected script steals every session. "
        "Keep the session in an HttpOnly, Secure, SameSite cookie."
    ),
    severity="medium",
    category="session-management",
    cwe=("CWE-922",),
    owasp=(INSECURE_DESIGN,),
    references=(cwe_url("CWE-922"), cheat_sheet("HTML5_Security")),
)
WILDCARD_IAM = Rule(
    check_id="deep-ai.iam-wildcard-permissions",
    title="CI deployer role may do anything in the account",
    message=(
        "The deployer policy allows every action on every resource. A leaked CI credential "
        "becomes full account takeover; grant only the services the pipeline deploys."
    ),
    severity="high",
    category="access-control",
    cwe=("CWE-269",),
    owasp=(BROKEN_ACCESS_CONTROL,),
    references=(cwe_url("CWE-269"),),
)

DEEP_RULES = (MISSING_AUTHORIZATION, IDOR, UNPROTECTED_ROUTE, TOKEN_IN_LOCAL_STORAGE, WILDCARD_IAM)


@dataclass(frozen=True)
class CuratedFinding:
    rule: Rule
    file_path: str
    anchor: tuple[str, ...]
    # Which anchor line the finding points at.
    reported_line: int = 0
    # Lines replacing the anchor (indented relative to its first line); None: needs a human.
    replacement: tuple[str, ...] | None = None


CURATED_FINDINGS = (
    CuratedFinding(
        rule=MISSING_AUTHORIZATION,
        file_path="app/routes/admin.py",
        anchor=('@bp.post("/refunds/<int:payment_id>")', "def force_refund(payment_id):"),
        reported_line=1,
        replacement=(
            '@bp.post("/refunds/<int:payment_id>")',
            "@login_required",
            "@admin_required",
            "def force_refund(payment_id):",
        ),
    ),
    CuratedFinding(
        rule=IDOR,
        file_path="app/routes/payments.py",
        anchor=('payment = db.fetch_one("SELECT * FROM payments WHERE id = %s", (payment_id,))',),
        replacement=(
            "payment = db.fetch_one(",
            '    "SELECT * FROM payments WHERE id = %s AND customer_id = %s",',
            '    (payment_id, g.user["id"]),',
            ")",
        ),
    ),
    CuratedFinding(
        rule=UNPROTECTED_ROUTE,
        file_path="cmd/inventory/main.go",
        anchor=('r.DELETE("/api/items/:sku", h.DeleteItem)',),
        replacement=('authed.DELETE("/items/:sku", h.DeleteItem)',),
    ),
    CuratedFinding(
        rule=TOKEN_IN_LOCAL_STORAGE,
        file_path="src/auth/session.ts",
        anchor=("window.localStorage.setItem(TOKEN_KEY, token);",),
    ),
    CuratedFinding(
        rule=WILDCARD_IAM,
        file_path="terraform/iam.tf",
        anchor=('actions   = ["*"]', 'resources = ["*"]'),
    ),
)


def _stripped(line: str) -> str:
    return line.strip()


def anchor_starts(finding: CuratedFinding, lines: list[str]) -> list[int]:
    """0-based indexes where the finding's anchor begins in ``lines``."""
    wanted = tuple(_stripped(line) for line in finding.anchor)
    size = len(wanted)
    stripped = [_stripped(line) for line in lines]
    return [
        index
        for index in range(len(stripped) - size + 1)
        if tuple(stripped[index : index + size]) == wanted
    ]


def curated_at(
    *, file_path: str, lines: list[str], line: int, check_id: str
) -> tuple[CuratedFinding, int] | None:
    """The curated finding reported at ``line`` (1-based) and its anchor start, if still there."""
    for finding in CURATED_FINDINGS:
        if finding.file_path != file_path or finding.rule.check_id != check_id:
            continue
        for start in anchor_starts(finding, lines):
            if start + finding.reported_line + 1 == line:
                return finding, start
    return None


def scan_deep(*, file_path: str, text: str) -> list[Hit]:
    lines = text.splitlines()
    hits = []
    for finding in CURATED_FINDINGS:
        if finding.file_path != file_path:
            continue
        for start in anchor_starts(finding, lines):
            hits.append(
                Hit(
                    rule=finding.rule,
                    file_path=file_path,
                    line=start + finding.reported_line + 1,
                    key="\n".join(finding.anchor),
                )
            )
    return hits

"""The result type of every scan, and how a detection is fingerprinted."""

import hashlib
from dataclasses import asdict, dataclass, field

from sandbox.scanning.cvss import base_score, severity_of

SCAN_TYPES = ("secrets_scan", "semgrep_scan", "sbom_scan", "deep_ai_scan")
SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Detection:
    check_id: str
    title: str
    message: str
    severity: str
    category: str
    file_path: str
    line: int
    cwe: tuple[str, ...]
    owasp: tuple[str, ...]
    references: tuple[str, ...]
    cvss_base_score: float | None
    cvss_severity: str | None
    cvss_vector: str | None
    fingerprint: str
    scan_type: str = ""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        for key in ("cwe", "owasp", "references"):
            data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> "Detection":
        values = dict(data)
        for key in ("cwe", "owasp", "references"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)


@dataclass(frozen=True)
class Rule:
    """What a rule reports; hits of the rule add where."""

    check_id: str
    title: str
    message: str
    severity: str
    category: str
    cwe: tuple[str, ...]
    owasp: tuple[str, ...]
    references: tuple[str, ...] = ()
    cvss_vector: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.check_id}: unknown severity {self.severity!r}")


@dataclass(frozen=True)
class Hit:
    """One place a rule matched. ``key`` overrides the line text as the identity of the hit."""

    rule: Rule
    file_path: str
    line: int
    key: str | None = None
    title: str | None = None
    message: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def normalized(text: str) -> str:
    return " ".join(text.split())


def fingerprint_of(
    *, scan_type: str, check_id: str, file_path: str, key: str, occurrence: int
) -> str:
    # The line number is left out on purpose: a finding keeps its identity when code above it moves.
    material = "\x1f".join((scan_type, check_id, file_path, normalized(key), str(occurrence)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]


def detections_from_hits(
    *, scan_type: str, hits: list[Hit], files: dict[str, str]
) -> list[Detection]:
    """Detections in a deterministic order, fingerprinted so that moving lines keeps them."""
    ordered = sorted(
        hits, key=lambda hit: (hit.file_path, hit.line, hit.rule.check_id, hit.key or "")
    )
    seen: dict[tuple[str, str, str], int] = {}
    detections = []
    for hit in ordered:
        lines = files[hit.file_path].splitlines()
        key = hit.key if hit.key is not None else lines[hit.line - 1]
        identity = (hit.rule.check_id, hit.file_path, normalized(key))
        occurrence = seen.get(identity, 0)
        seen[identity] = occurrence + 1
        rule = hit.rule
        score = base_score(rule.cvss_vector) if rule.cvss_vector else None
        detections.append(
            Detection(
                check_id=rule.check_id,
                title=hit.title or rule.title,
                message=hit.message or rule.message,
                severity=rule.severity,
                category=rule.category,
                file_path=hit.file_path,
                line=hit.line,
                cwe=rule.cwe,
                owasp=rule.owasp,
                references=rule.references,
                cvss_base_score=score,
                cvss_severity=severity_of(score) if score is not None else None,
                cvss_vector=rule.cvss_vector,
                fingerprint=fingerprint_of(
                    scan_type=scan_type,
                    check_id=rule.check_id,
                    file_path=hit.file_path,
                    key=key,
                    occurrence=occurrence,
                ),
                scan_type=scan_type,
            )
        )
    return detections


def scan_type_of(check_id: str) -> str:
    """The scan type that reports a check id (for detections restored without one)."""
    if check_id.startswith("secrets."):
        return "secrets_scan"
    if check_id.startswith("sbom."):
        return "sbom_scan"
    if check_id.startswith("deep-ai."):
        return "deep_ai_scan"
    return "semgrep_scan"

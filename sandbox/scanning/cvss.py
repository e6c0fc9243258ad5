"""CVSS v3.1 base scores computed from vectors, so data files carry only the vector."""

import math

_WEIGHTS = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def _round_up(value: float) -> float:
    # The specification's Roundup avoids floating point artefacts such as 4.000000001 -> 4.1.
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000
    return (math.floor(scaled / 10_000) + 1) / 10.0


def base_score(vector: str) -> float:
    """Base score of a ``CVSS:3.1/AV:../AC:..`` vector; ValueError when it is malformed."""
    parts = vector.split("/")
    if not parts or not parts[0].startswith("CVSS:3."):
        raise ValueError(f"not a CVSS v3 vector: {vector!r}")
    metrics = dict(part.split(":", 1) for part in parts[1:])
    try:
        scope = metrics["S"]
        impact_subscore = 1 - (
            (1 - _WEIGHTS["C"][metrics["C"]])
            * (1 - _WEIGHTS["I"][metrics["I"]])
            * (1 - _WEIGHTS["A"][metrics["A"]])
        )
        exploitability = (
            8.22
            * _WEIGHTS["AV"][metrics["AV"]]
            * _WEIGHTS["AC"][metrics["AC"]]
            * _PRIVILEGES[scope][metrics["PR"]]
            * _WEIGHTS["UI"][metrics["UI"]]
        )
    except KeyError as missing:
        raise ValueError(f"incomplete CVSS vector {vector!r}: {missing}") from None
    if scope == "U":
        impact = 6.42 * impact_subscore
    else:
        impact = 7.52 * (impact_subscore - 0.029) - 3.25 * (impact_subscore - 0.02) ** 15
    if impact <= 0:
        return 0.0
    if scope == "U":
        return _round_up(min(impact + exploitability, 10))
    return _round_up(min(1.08 * (impact + exploitability), 10))


def severity_of(score: float) -> str:
    """Qualitative rating of a base score (CVSS v3.1 specification, table 14)."""
    if score >= 9.0:
        return "critical"
    if score >= 7.0:
        return "high"
    if score >= 4.0:
        return "medium"
    if score > 0:
        return "low"
    return "none"

"""The bundled advisory list that ``sbom_scan`` matches dependency pins against."""

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sandbox.scanning.versions import Version

_DATA = Path(__file__).with_name("advisories.json")


@dataclass(frozen=True)
class Advisory:
    id: str
    package: str
    ecosystem: str
    summary: str
    introduced: str
    fixed: str
    cvss_vector: str
    cwe: tuple[str, ...]
    remediation: str = ""

    def affects(self, version: Version) -> bool:
        # "0" means every version, including pre-releases and Go pseudo-versions of v0.0.0.
        if self.introduced != "0" and version < Version(self.introduced):
            return False
        return version < Version(self.fixed)


def normalized_package(ecosystem: str, name: str) -> str:
    if ecosystem == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    if ecosystem == "npm":
        return name.lower()
    return name


@cache
def load_advisories() -> tuple[Advisory, ...]:
    records = json.loads(_DATA.read_text(encoding="utf-8"))
    return tuple(
        Advisory(**{**record, "cwe": tuple(record["cwe"])})
        for record in sorted(records, key=lambda record: record["id"])
    )


def advisories_for(*, ecosystem: str, package: str) -> list[Advisory]:
    wanted = normalized_package(ecosystem, package)
    return [
        advisory
        for advisory in load_advisories()
        if advisory.ecosystem == ecosystem
        and normalized_package(ecosystem, advisory.package) == wanted
    ]

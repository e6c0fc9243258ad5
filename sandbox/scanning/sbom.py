"""``sbom_scan``: dependency pins read from manifests, matched against the bundled advisories."""

import json
import re
from dataclasses import dataclass

from sandbox.scanning.advisories import Advisory, advisories_for, normalized_package
from sandbox.scanning.cvss import base_score, severity_of
from sandbox.scanning.detection import Hit, Rule
from sandbox.scanning.taxonomy import VULNERABLE_COMPONENTS
from sandbox.scanning.versions import parse_version


@dataclass(frozen=True)
class Dependency:
    ecosystem: str
    name: str
    version: str
    file_path: str
    line: int


def _manifest_kind(file_path: str) -> str | None:
    name = file_path.rsplit("/", 1)[-1]
    if re.fullmatch(r"requirements[\w.-]*\.txt", name) or (
        "/requirements/" in f"/{file_path}" and name.endswith(".txt")
    ):
        return "requirements"
    return {"package.json": "npm", "go.mod": "go", "pom.xml": "maven"}.get(name)


def _lower_bound(spec: str) -> str | None:
    # Without a lock file the lowest version a range admits is the one that may be installed.
    match = re.match(r"\s*(?:===|==|>=|~=|\^|~|=)?\s*v?(\d[\w.+-]*)", spec)
    return match.group(1) if match else None


def _requirements(file_path: str, text: str) -> list[Dependency]:
    dependencies = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line or line.startswith(("-", "git+", "http:", "https:")):
            continue
        match = re.match(
            r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*(===|==|>=|~=)\s*([^,\s]+)", line
        )
        if match:
            dependencies.append(
                Dependency("PyPI", match.group(1), match.group(3), file_path, number)
            )
    return dependencies


def _package_json(file_path: str, text: str) -> list[Dependency]:
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError:
        return []
    lines = text.splitlines()
    dependencies = []
    for section in ("dependencies", "devDependencies", "optionalDependencies"):
        declared = manifest.get(section)
        if not isinstance(declared, dict):
            continue
        section_line = next(
            (index for index, line in enumerate(lines) if f'"{section}"' in line), 0
        )
        for name, spec in declared.items():
            version = _lower_bound(spec) if isinstance(spec, str) else None
            if version is None:
                continue
            line_index = next(
                (
                    index
                    for index in range(section_line, len(lines))
                    if re.search(rf'"{re.escape(name)}"\s*:', lines[index])
                ),
                section_line,
            )
            dependencies.append(Dependency("npm", name, version, file_path, line_index + 1))
    return dependencies


def _go_mod(file_path: str, text: str) -> list[Dependency]:
    dependencies = []
    in_block = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("//", 1)[0].strip()
        if line.startswith("require ("):
            in_block = True
            continue
        if in_block and line == ")":
            in_block = False
            continue
        if line.startswith("require "):
            line = line.removeprefix("require ").strip()
        elif not in_block:
            continue
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith("v"):
            dependencies.append(Dependency("Go", parts[0], parts[1], file_path, number))
    return dependencies


def _pom(file_path: str, text: str) -> list[Dependency]:
    lines = text.splitlines()
    properties: dict[str, tuple[str, int]] = {}
    in_properties = False
    for number, line in enumerate(lines, start=1):
        if "<properties>" in line:
            in_properties = True
        if in_properties:
            match = re.search(r"<([\w.-]+)>([^<]+)</\1>", line)
            if match:
                properties[match.group(1)] = (match.group(2).strip(), number)
        if "</properties>" in line:
            in_properties = False
    dependencies = []
    current: dict[str, tuple[str, int]] | None = None
    for number, line in enumerate(lines, start=1):
        if "<dependency>" in line:
            current = {}
        if current is not None:
            for tag in ("groupId", "artifactId", "version"):
                match = re.search(rf"<{tag}>([^<]+)</{tag}>", line)
                if match:
                    current[tag] = (match.group(1).strip(), number)
        if "</dependency>" in line and current is not None:
            if {"groupId", "artifactId", "version"} <= current.keys():
                version, version_line = current["version"]
                reference = re.fullmatch(r"\$\{([\w.-]+)\}", version)
                if reference and reference.group(1) in properties:
                    version, version_line = properties[reference.group(1)]
                name = f"{current['groupId'][0]}:{current['artifactId'][0]}"
                dependencies.append(Dependency("Maven", name, version, file_path, version_line))
            current = None
    return dependencies


_PARSERS = {"requirements": _requirements, "npm": _package_json, "go": _go_mod, "maven": _pom}


def dependencies_in(*, file_path: str, text: str) -> list[Dependency]:
    kind = _manifest_kind(file_path)
    return _PARSERS[kind](file_path, text) if kind else []


def advisory_rule(advisory: Advisory) -> Rule:
    return Rule(
        check_id=f"sbom.{advisory.id}",
        title=f"{advisory.id}: {advisory.summary}",
        message=advisory.summary,
        severity=severity_of(base_score(advisory.cvss_vector)),
        category="vulnerable-dependency",
        cwe=advisory.cwe,
        owasp=(VULNERABLE_COMPONENTS,),
        references=(f"https://nvd.nist.gov/vuln/detail/{advisory.id}",),
        cvss_vector=advisory.cvss_vector,
    )


def vulnerable_dependencies(*, file_path: str, text: str) -> list[tuple[Dependency, Advisory]]:
    found = []
    for dependency in dependencies_in(file_path=file_path, text=text):
        version = parse_version(dependency.version)
        if version is None:
            continue
        for advisory in advisories_for(ecosystem=dependency.ecosystem, package=dependency.name):
            if advisory.affects(version):
                found.append((dependency, advisory))
    return found


def scan_manifest(*, file_path: str, text: str) -> list[Hit]:
    hits = []
    for dependency, advisory in vulnerable_dependencies(file_path=file_path, text=text):
        package = normalized_package(dependency.ecosystem, dependency.name)
        remediation = advisory.remediation or f"Upgrade to {advisory.fixed} or later."
        hits.append(
            Hit(
                rule=advisory_rule(advisory),
                file_path=file_path,
                line=dependency.line,
                key=f"{dependency.ecosystem}:{package}",
                title=f"{dependency.name} {dependency.version}: {advisory.summary} ({advisory.id})",
                message=(
                    f"{dependency.name} {dependency.version} ({dependency.ecosystem}) is "
                    f"affected by {advisory.id}: {advisory.summary}. {remediation}"
                ),
            )
        )
    return hits

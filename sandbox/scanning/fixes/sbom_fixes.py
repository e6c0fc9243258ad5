"""Fixes for vulnerable dependency pins: raise the pin to the advisory's fixed version."""

import re

from sandbox.scanning.advisories import load_advisories
from sandbox.scanning.detection import Detection
from sandbox.scanning.fixes.editing import FileEdit, FixRequest
from sandbox.scanning.versions import Version, parse_version

# Refining a package.json fix walks through these range styles.
_NPM_RANGE_PREFIXES = ("", "^", "~", ">=")


def _raised(current: str, fixed: str) -> str | None:
    version = parse_version(current)
    if version is None:
        return None
    return fixed if version < Version(fixed) else current


def fix_dependency(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    advisory_id = detection.check_id.removeprefix("sbom.")
    advisory = next((item for item in load_advisories() if item.id == advisory_id), None)
    if advisory is None:
        return False
    line = edit.line(detection.line)
    name = edit.path.rsplit("/", 1)[-1]
    if name == "package.json":
        match = re.search(r"(\"[^\"]+\"\s*:\s*\")([^\"]*)(\")", line)
        current = re.sub(r"^[\^~>=<\s]+", "", match.group(2)) if match else ""
        target = _raised(current, advisory.fixed) if match else None
        if target is None:
            return False
        prefix = _NPM_RANGE_PREFIXES[request.variant % len(_NPM_RANGE_PREFIXES)]
        fixed = line[: match.start(2)] + prefix + target + line[match.end(2) :]
    elif name == "go.mod":
        match = re.search(r"(\S+)\s+v(\S+)", line)
        if match is None:
            return False
        target = _raised(match.group(2), advisory.fixed)
        current_major, target_major = (
            Version(match.group(2)).release[0],
            Version(advisory.fixed).release[0],
        )
        # From v2 on, a new major version is a different module path that every import must use.
        if target is None or (target_major != current_major and target_major >= 2):
            return False
        fixed = line[: match.start(2)] + target + line[match.end(2) :]
    elif name == "pom.xml":
        match = re.search(r">([^<]+)<", line)
        target = _raised(match.group(1), advisory.fixed) if match else None
        if target is None:
            return False
        fixed = line[: match.start(1)] + target + line[match.end(1) :]
    else:
        match = re.search(r"(===|==|>=|~=)\s*([^\s,;#]+)", line)
        target = _raised(match.group(2), advisory.fixed) if match else None
        if target is None:
            return False
        fixed = line[: match.start(2)] + target + line[match.end(2) :]
    edit.set_line(detection.line, fixed)
    return True

"""A tiny scanner with the interface of ``sandbox.scanning``, for life-cycle tests.

It flags every line holding ``password =`` (as the real ``Detection`` type); the fix replaces
the literal with an environment lookup. Life-cycle tests use it so they do not depend on the
real rules.
"""

import hashlib
import types

from sandbox.scanning.detection import Detection


def scan_tree(files: dict[str, str], scan_type: str) -> list[Detection]:
    found = []
    for path, content in sorted(files.items()):
        for number, line in enumerate(content.splitlines(), start=1):
            if "password =" in line and "environ" not in line:
                key = f"{scan_type}:{path}:{line.strip()}"
                found.append(
                    Detection(
                        check_id="fake.hardcoded-password",
                        title="Hard-coded password",
                        message=f"Hard-coded password in {path}",
                        severity="high",
                        category="secrets",
                        file_path=path,
                        line=number,
                        cwe=("CWE-798",),
                        owasp=("A07:2021",),
                        references=(),
                        cvss_base_score=7.5,
                        cvss_severity="high",
                        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
                        fingerprint=hashlib.sha256(key.encode()).hexdigest(),
                        scan_type=scan_type,
                    )
                )
    return found


def _fixed_line(line: str, variant: int) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    name = line.split("=")[0].strip()
    lookup = 'os.environ["PASSWORD"]' if variant == 0 else 'os.environ.get("PASSWORD", "")'
    return f"{indent}{name} = {lookup}"


def propose_fix(files, detections, *, instructions: str, variant: int) -> str:
    chunks = []
    for path in sorted({d.file_path for d in detections}):
        lines = files[path].splitlines()
        targets = {d.line for d in detections if d.file_path == path}
        chunks.append(f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n")
        for number in sorted(targets):
            old = lines[number - 1]
            chunks.append(f"@@ -{number},1 +{number},1 @@\n-{old}\n+{_fixed_line(old, variant)}\n")
    return "".join(chunks)


def apply_diff(files: dict[str, str], diff: str) -> dict[str, str]:
    result = dict(files)
    path = None
    old = None
    for line in diff.splitlines():
        if line.startswith("+++ b/"):
            path = line[6:]
        elif line.startswith("-") and not line.startswith("---"):
            old = line[1:]
        elif line.startswith("+") and not line.startswith("+++") and path and old is not None:
            result[path] = result[path].replace(old, line[1:], 1)
            old = None
    return result


def as_module() -> types.ModuleType:
    module = types.ModuleType("sandbox.scanning")
    for name in ("Detection", "scan_tree", "propose_fix", "apply_diff"):
        setattr(module, name, globals()[name])
    return module

"""Fixes for hard-coded secrets: read the value from the environment, or drop it."""

import re

from sandbox.scanning.detection import Detection
from sandbox.scanning.fixes.editing import FileEdit, FixRequest, comment_markers
from sandbox.scanning.rules.secrets import SECRET_PATTERNS

_ASSIGNED_NAME = re.compile(
    r"^\s*(?:export\s+|const\s+|let\s+|var\s+|final\s+)?[\"']?([A-Za-z_][\w.-]*)[\"']?\s*(?::[^=\"']*)?[:=]"
)
_STRING_LITERAL = re.compile(r"([\"'`])((?:(?!\1)[^\\]|\\.)*)\1")
# Provider credentials Terraform already reads from the standard environment variables.
_TERRAFORM_ENVIRONMENT_CREDENTIALS = {"access_key", "secret_key", "token"}


def _environment_name(name: str) -> str:
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"\W", "_", snake).upper()


def _secret_literal(line: str, check_id: str) -> re.Match[str] | None:
    pattern = next(secret.pattern for secret in SECRET_PATTERNS if secret.rule.check_id == check_id)
    found = pattern.search(line)
    if found is None:
        return None
    for literal in _STRING_LITERAL.finditer(line):
        if literal.start() < found.end() and found.start() < literal.end():
            return literal
    return None


def fix_secret(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    if detection.check_id == "secrets.private-key":
        return _remove_key_file(edit)
    line = edit.line(detection.line)
    if detection.check_id == "secrets.password-in-url":
        fixed = re.sub(r"(://[^/\s:@\"']+):[^/\s:@\"'${}]{6,}@", r"\1@", line)
        edit.set_line(detection.line, fixed)
        return fixed != line
    literal = _secret_literal(line, detection.check_id)
    assigned = _ASSIGNED_NAME.match(line)
    if literal is None or assigned is None:
        return False
    name = assigned.group(1)
    variable = _environment_name(name)
    path = edit.path
    odd = request.variant % 2 == 1
    if path.endswith(".py"):
        edit.python_imports.add("os")
        lookup = f'os.environ.get("{variable}", "")' if odd else f'os.environ["{variable}"]'
    elif path.endswith((".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs")):
        lookup = f'process.env["{variable}"] || ""' if odd else f'process.env.{variable} ?? ""'
    elif path.endswith(".go"):
        edit.go_imports.add("os")
        lookup = f'os.Getenv("{variable}")'
        line = re.sub(r"^(\s*)const\b", r"\1var", line)
    elif path.endswith(".tf"):
        return _fix_terraform_secret(edit, detection, request, name=name, literal=literal)
    elif path.endswith((".yml", ".yaml", ".env", ".sh", ".bash")):
        lookup = f'"${{{variable}:?{variable} is not set}}"' if odd else f'"${{{variable}}}"'
    else:
        return False
    line = _secret_literal_replaced(line, detection.check_id, lookup)
    edit.set_line(detection.line, line)
    return True


def _secret_literal_replaced(line: str, check_id: str, replacement: str) -> str:
    literal = _secret_literal(line, check_id)
    if literal is None:
        raise ValueError("secret literal vanished")
    return line[: literal.start()] + replacement + line[literal.end() :]


def _fix_terraform_secret(
    edit: FileEdit, detection: Detection, request: FixRequest, *, name: str, literal: re.Match[str]
) -> bool:
    if name in _TERRAFORM_ENVIRONMENT_CREDENTIALS:
        del edit.lines[detection.line - 1]
        return True
    declared = sorted(
        variable
        for path, text in request.files.items()
        if path.endswith(".tf")
        for variable in re.findall(r"variable\s+\"(\w+)\"", text)
        if name in variable
    )
    if not declared:
        return False
    line = edit.line(detection.line)
    edit.set_line(
        detection.line, line[: literal.start()] + f"var.{declared[0]}" + line[literal.end() :]
    )
    return True


def _remove_key_file(edit: FileEdit) -> bool:
    if comment_markers(edit.path) is not None and not edit.text.lstrip().startswith("-----BEGIN"):
        return False
    edit.deleted = True
    return True

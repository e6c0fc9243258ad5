"""Fixes for the JavaScript, Go, Terraform and Dockerfile rules, edited line by line."""

import re

from sandbox.scanning.detection import Detection
from sandbox.scanning.fixes.editing import FileEdit, FixRequest
from sandbox.scanning.rules import text_code

_GO_STRING = r'"(?:[^"\\]|\\.)*"'
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\\"'*?~]")

# Two pinned tags per common base image: refining a fix picks the other one.
_PINNED_TAGS = {
    "python": ("3.12-slim", "3.11-slim"),
    "node": ("20-alpine", "20-bookworm-slim"),
    "golang": ("1.22-alpine", "1.22-bookworm"),
    "alpine": ("3.19", "3.20"),
    "nginx": ("1.25-alpine", "1.26-alpine"),
    "ubuntu": ("22.04", "24.04"),
    "debian": ("bookworm-slim", "bookworm"),
    "postgres": ("16-alpine", "16"),
    "redis": ("7-alpine", "7"),
}


def _matching_paren(text: str, opening: int) -> int:
    """Index of the parenthesis closing the one at ``opening``, skipping string literals."""
    depth = 0
    index = opening
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            index = _string_end(text, index)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    raise ValueError("unbalanced parentheses")


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    index = start + 1
    while index < len(text):
        if text[index] == "\\" and quote != "`":
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        index += 1
    raise ValueError("unterminated string")


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, start, index = [], 0, 0, 0
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            index = _string_end(text, index)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
        index += 1
    parts.append(text[start:].strip())
    return parts


def fix_inner_html(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    line = edit.line(detection.line)
    if ".innerHTML" not in line:
        return False
    line = line.replace(".innerHTML", ".textContent", 1)

    def without_tags(match: re.Match[str]) -> str:
        return match.group(1) + re.sub(r"<[^>]*>", "", match.group(2)) + match.group(1)

    line = re.sub(r"([\"'])((?:(?!\1).)*)\1", without_tags, line)
    line = re.sub(r"\s*\+\s*(\"\"|'')", "", line)
    line = re.sub(r"(\"\"|'')\s*\+\s*", "", line)
    edit.set_line(detection.line, line)
    return True


def fix_dangerous_html(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    line = edit.line(detection.line)
    fixed = re.sub(
        r"<([A-Za-z][\w.]*)([^<>]*?)\s+dangerouslySetInnerHTML=\{\{\s*__html:\s*(.+?)\s*\}\}\s*/>",
        r"<\1\2>{\3}</\1>",
        line,
    )
    if fixed == line:
        return False
    edit.set_line(detection.line, fixed)
    return True


def fix_express_xss(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    if not re.search(r"function\s+escapeHtml\s*\(|const\s+escapeHtml\s*=", edit.text):
        return False
    line = edit.line(detection.line)
    fixed = re.sub(
        r"\$\{\s*(req\.(?:query|params|body)[\w.\[\]'\"]*)\s*\}", r"${escapeHtml(\1)}", line
    )
    if fixed == line:
        return False
    edit.set_line(detection.line, fixed)
    return True


def fix_go_sql(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    line = edit.line(detection.line)
    start = line.find("fmt.Sprintf(")
    if start == -1:
        return False
    opening = start + len("fmt.Sprintf")
    closing = _matching_paren(line, opening)
    arguments = _split_top_level(line[opening + 1 : closing], ",")
    template = arguments[0]
    if not re.fullmatch(_GO_STRING, template):
        return False
    numbered = "$" if ("$1" in edit.text or "lib/pq" in edit.text) else "?"
    counter = iter(range(1, len(arguments)))

    def placeholder(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        position = next(counter)
        return f"${position}" if numbered == "$" else "?"

    query = re.sub(r"'%[sdv]'|%[sdvq]|%%", placeholder, template)
    replacement = ", ".join([query, *arguments[1:]])
    edit.set_line(detection.line, line[:start] + replacement + line[closing + 1 :])
    edit.go_imports.discard("fmt")
    edit.go_unused.add("fmt")
    return True


def fix_go_shell(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    line = edit.line(detection.line)
    match = re.search(r"exec\.Command\(", line)
    if match is None:
        return False
    opening = match.end() - 1
    closing = _matching_paren(line, opening)
    arguments = _split_top_level(line[opening + 1 : closing], ",")
    if len(arguments) != 3:
        return False
    tokens: list[list[str]] = []
    current: list[str] = []
    for part in _split_top_level(arguments[2], "+"):
        if not re.fullmatch(_GO_STRING, part):
            current.append(part)
            continue
        text = part[1:-1]
        if _SHELL_SYNTAX.search(text):
            return False
        for chunk in re.split(r"(\s+)", text):
            if chunk.isspace():
                if current:
                    tokens.append(current)
                current = []
            elif chunk:
                current.append(f'"{chunk}"')
    if current:
        tokens.append(current)
    if not tokens:
        return False
    command = ", ".join("+".join(token) for token in tokens)
    edit.set_line(detection.line, line[: opening + 1] + command + line[closing:])
    return True


def fix_s3_acl(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    line = edit.line(detection.line)
    fixed = re.sub(r"\"(public-read|public-read-write|authenticated-read)\"", '"private"', line)
    edit.set_line(detection.line, fixed)
    return fixed != line


def fix_open_ingress(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    declared = sorted(
        name
        for path, text in request.files.items()
        if path.endswith(".tf")
        for name in re.findall(r"variable\s+\"(\w*cidr\w*)\"", text)
    )
    if not declared:
        return False
    line = edit.line(detection.line)
    fixed = re.sub(r"(cidr_blocks\s*=\s*)\[[^\]]*\]", rf"\1var.{declared[0]}", line)
    edit.set_line(detection.line, fixed)
    return fixed != line


def _flip(pattern: str, replacement: str):
    def fix(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
        line = edit.line(detection.line)
        fixed = re.sub(pattern, replacement, line)
        edit.set_line(detection.line, fixed)
        return fixed != line

    return fix


def fix_latest_tag(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    line = edit.line(detection.line)
    match = re.match(r"(\s*FROM\s+(?:--platform=\S+\s+)?)(\S+?)(?::latest)?(\s.*)?$", line, re.I)
    if match is None:
        return False
    image = match.group(2)
    tags = _PINNED_TAGS.get(image.rsplit("/", 1)[-1])
    if tags is None:
        return False
    tag = tags[request.variant % 2]
    edit.set_line(detection.line, f"{match.group(1)}{image}:{tag}{match.group(3) or ''}")
    return True


def fix_missing_user(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    image = edit.line(detection.line).split()[1].lower()
    insert_at = len(edit.lines) + 1
    for number in range(detection.line + 1, len(edit.lines) + 1):
        if re.match(r"\s*(CMD|ENTRYPOINT)\b", edit.line(number), re.I):
            insert_at = number
            break
    if request.variant % 2:
        lines = ["USER 10001:10001"]
    elif "alpine" in image:
        lines = ["RUN addgroup -S app && adduser -S -G app app", "USER app"]
    else:
        lines = ["RUN useradd --system --no-create-home --uid 10001 app", "USER app"]
    edit.insert_lines(insert_at, lines)
    return True


TEXT_FIXERS = {
    text_code.INNER_HTML.check_id: fix_inner_html,
    text_code.DANGEROUS_HTML.check_id: fix_dangerous_html,
    text_code.EXPRESS_XSS.check_id: fix_express_xss,
    text_code.GO_SQL.check_id: fix_go_sql,
    text_code.GO_SHELL.check_id: fix_go_shell,
    text_code.S3_PUBLIC_ACL.check_id: fix_s3_acl,
    text_code.OPEN_INGRESS.check_id: fix_open_ingress,
    text_code.RDS_PUBLIC.check_id: _flip(r"(publicly_accessible\s*=\s*)true", r"\1false"),
    text_code.RDS_UNENCRYPTED.check_id: _flip(r"(storage_encrypted\s*=\s*)false", r"\1true"),
    text_code.DOCKER_LATEST.check_id: fix_latest_tag,
    text_code.DOCKER_ROOT.check_id: fix_missing_user,
}

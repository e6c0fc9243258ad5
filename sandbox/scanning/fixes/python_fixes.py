"""Fixes for the Python code rules, rewriting the offending call found again in the syntax tree."""

import ast
import re

from sandbox.scanning.detection import Detection
from sandbox.scanning.fixes.editing import FileEdit, FixRequest
from sandbox.scanning.rules import python_code
from sandbox.scanning.rules.python_code import formatted_sql, python_call_rule, string_pieces

_SHELL_SYNTAX = re.compile(r"[|&;<>()$`\\\"'*?~]")


def py_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _f_string(pieces: list[str | ast.expr]) -> str:
    if len(pieces) == 1 and not isinstance(pieces[0], str):
        return ast.unparse(pieces[0])
    if all(isinstance(piece, str) for piece in pieces):
        return py_string("".join(pieces))
    body = "".join(
        py_string(piece)[1:-1].replace("{", "{{").replace("}", "}}")
        if isinstance(piece, str)
        else "{" + ast.unparse(piece) + "}"
        for piece in pieces
    )
    return f'f"{body}"'


def _char_offset(line: str, byte_offset: int) -> int:
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


def _replace_node(edit: FileEdit, node: ast.AST, new_text: str) -> None:
    first, last = edit.lines[node.lineno - 1], edit.lines[node.end_lineno - 1]
    start = _char_offset(first, node.col_offset)
    end = _char_offset(last, node.end_col_offset)
    segment = first[:start] + new_text + last[end:]
    edit.lines[node.lineno - 1 : node.end_lineno] = segment.splitlines(keepends=True)


def _call_at(edit: FileEdit, detection: Detection) -> tuple[ast.Call, str] | None:
    source = edit.text
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno == detection.line:
            rule = python_call_rule(node, function_name="")
            matches = rule is not None and (
                rule.check_id == detection.check_id
                or {rule.check_id, detection.check_id}
                <= {python_code.WEAK_PASSWORD_HASH.check_id, python_code.INSECURE_HASH.check_id}
            )
            if matches:
                return node, source
    return None


def _segment(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node)
    if text is None:
        raise ValueError("no source for node")
    return text


def _parameter_name(expression: ast.expr, taken: set[str]) -> str:
    if isinstance(expression, ast.Name):
        base = expression.id
    elif isinstance(expression, ast.Attribute):
        base = expression.attr
    elif isinstance(expression, ast.Subscript) and isinstance(expression.slice, ast.Constant):
        base = str(expression.slice.value)
    else:
        base = "value"
    base = re.sub(r"\W", "_", base) or "value"
    name, counter = base, 2
    while name in taken:
        name, counter = f"{base}_{counter}", counter + 1
    taken.add(name)
    return name


def _parameterized(pieces: list[str | ast.expr], *, style: str, named: bool) -> tuple[str, str]:
    """The SQL with placeholders and the parameters expression for a formatted query."""
    sql: list[str] = []
    values: list[str] = []
    names: list[str] = []
    quoted: list[str | ast.expr] | None = None

    def placeholder(value: list[str | ast.expr]) -> None:
        name = _parameter_name(
            next((piece for piece in value if not isinstance(piece, str)), ast.Name("value")),
            set(names),
        )
        names.append(name)
        values.append(_f_string(value))
        if named:
            sql.append(f"%({name})s" if style == "%s" else f":{name}")
        else:
            sql.append(style)

    for piece in pieces:
        if not isinstance(piece, str):
            if quoted is not None:
                quoted.append(piece)
            else:
                placeholder([piece])
            continue
        index = 0
        while index < len(piece):
            if quoted is not None:
                closing = piece.find("'", index)
                if closing == -1:
                    quoted.append(piece[index:])
                    break
                quoted.append(piece[index:closing])
                placeholder([part for part in quoted if part != ""])
                quoted = None
                index = closing + 1
                continue
            opening = piece.find("'", index)
            if opening == -1:
                sql.append(piece[index:])
                break
            closing = piece.find("'", opening + 1)
            if closing != -1:
                # A complete constant literal such as 'pending' stays in the statement.
                sql.append(piece[index : closing + 1])
                index = closing + 1
                continue
            sql.append(piece[index:opening])
            quoted = []
            index = len(piece)
            tail = piece[opening + 1 :]
            if tail:
                quoted.append(tail)
    if quoted is not None:
        raise ValueError("unterminated quote in SQL")
    text = _escape_percent(sql, named=named, names=names) if style == "%s" else "".join(sql)
    if named:
        parameters = (
            "{"
            + ", ".join(f"{py_string(n)}: {v}" for n, v in zip(names, values, strict=True))
            + "}"
        )
    else:
        parameters = "(" + ", ".join(values) + ("," if len(values) == 1 else "") + ")"
    return text, parameters


def _escape_percent(sql: list[str], *, named: bool, names: list[str]) -> str:
    # The driver treats every other % as a placeholder marker, so literal ones are doubled.
    placeholders = {f"%({name})s" for name in names} if named else {"%s"}
    return "".join(part if part in placeholders else part.replace("%", "%%") for part in sql)


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` cut after spaces into pieces of at most ``width`` characters where possible."""
    chunks = [""]
    for word in re.findall(r"\S+\s*", text):
        if chunks[-1] and len(chunks[-1]) + len(word) > width:
            chunks.append("")
        chunks[-1] += word
    return chunks


def fix_sql(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    found = _call_at(edit, detection)
    if found is None:
        return False
    call, _source = found
    if len(call.args) != 1 or call.keywords:
        return False
    argument = call.args[0]
    pieces = formatted_sql(argument)
    if pieces is None:
        return False
    style = "?" if re.search(r"^\s*import sqlite3|^\s*from sqlite3", edit.text, re.M) else "%s"
    sql, parameters = _parameterized(pieces, style=style, named=request.variant % 2 == 1)
    if argument.lineno != call.lineno:
        indent = edit.indentation(argument.lineno)
        rest = edit.lines[argument.end_lineno - 1][
            _char_offset(edit.lines[argument.end_lineno - 1], argument.end_col_offset) :
        ]
        trailing = "" if rest.lstrip().startswith(",") else ","
        literal = f"\n{indent}".join(py_string(chunk) for chunk in _wrapped(sql, 96 - len(indent)))
        _replace_node(edit, argument, f"{literal},\n{indent}{parameters}{trailing}")
    else:
        _replace_node(edit, argument, f"{py_string(sql)}, {parameters}")
    return True


def _command_tokens(pieces: list[str | ast.expr]) -> list[list[str | ast.expr]] | None:
    tokens: list[list[str | ast.expr]] = []
    current: list[str | ast.expr] = []
    for piece in pieces:
        if not isinstance(piece, str):
            current.append(piece)
            continue
        if _SHELL_SYNTAX.search(piece):
            return None
        for chunk in re.split(r"(\s+)", piece):
            if not chunk:
                continue
            if chunk.isspace():
                if current:
                    tokens.append(current)
                current = []
            else:
                current.append(chunk)
    if current:
        tokens.append(current)
    return tokens


def fix_subprocess_shell(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    found = _call_at(edit, detection)
    if found is None or not found[0].args:
        return False
    call, source = found
    command = call.args[0]
    if isinstance(command, ast.Name):
        edit.python_imports.add("shlex")
        argument_list = f"shlex.split({command.id})"
    else:
        pieces = string_pieces(command)
        tokens = _command_tokens(pieces) if pieces is not None else None
        if not tokens:
            return False
        argument_list = "[" + ", ".join(_f_string(token) for token in tokens) + "]"
    arguments = [argument_list] + [_segment(source, argument) for argument in call.args[1:]]
    for keyword in call.keywords:
        if keyword.arg == "shell":
            continue
        value = _segment(source, keyword.value)
        arguments.append(f"{keyword.arg}={value}" if keyword.arg else f"**{value}")
    _replace_node(edit, call, f"{_segment(source, call.func)}({', '.join(arguments)})")
    return True


def fix_yaml_load(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    found = _call_at(edit, detection)
    if found is None or not found[0].args or not isinstance(found[0].func, ast.Attribute):
        return False
    call, source = found
    module = _segment(source, call.func.value)
    document = _segment(source, call.args[0])
    if request.variant % 2:
        replacement = f"{module}.load({document}, Loader={module}.SafeLoader)"
    else:
        replacement = f"{module}.safe_load({document})"
    _replace_node(edit, call, replacement)
    return True


def fix_pickle(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    found = _call_at(edit, detection)
    if found is None or len(found[0].args) != 1 or not isinstance(found[0].func, ast.Attribute):
        return False
    call, source = found
    edit.python_imports.add("json")
    _replace_node(edit, call, f"json.{call.func.attr}({_segment(source, call.args[0])})")
    return True


def fix_flask_debug(edit: FileEdit, detection: Detection, request: FixRequest) -> bool:
    found = _call_at(edit, detection)
    if found is None:
        return False
    call, source = found
    arguments = [_segment(source, argument) for argument in call.args]
    for keyword in call.keywords:
        value = _segment(source, keyword.value)
        if keyword.arg == "debug":
            if request.variant % 2:
                arguments.append("debug=False")
            continue
        arguments.append(f"{keyword.arg}={value}" if keyword.arg else f"**{value}")
    _replace_node(edit, call, f"{_segment(source, call.func)}({', '.join(arguments)})")
    return True


PYTHON_FIXERS = {
    python_code.SQL_INJECTION.check_id: fix_sql,
    python_code.SUBPROCESS_SHELL.check_id: fix_subprocess_shell,
    python_code.YAML_LOAD.check_id: fix_yaml_load,
    python_code.PICKLE.check_id: fix_pickle,
    python_code.FLASK_DEBUG.check_id: fix_flask_debug,
}

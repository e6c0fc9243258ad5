"""Python code rules of ``semgrep_scan``, matched on the syntax tree rather than on text."""

import ast

from sandbox.scanning.detection import Hit, Rule
from sandbox.scanning.taxonomy import (
    CRYPTOGRAPHIC_FAILURES,
    INJECTION,
    INTEGRITY_FAILURES,
    SECURITY_MISCONFIGURATION,
    cheat_sheet,
    cwe_url,
)

SQL_VERBS = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "REPLACE", "MERGE")

SQL_INJECTION = Rule(
    check_id="python.lang.security.formatted-sql-query",
    title="SQL query built with string formatting",
    message=(
        "User-controlled values are formatted into an SQL string. Pass them as query "
        "parameters so the driver quotes them."
    ),
    severity="high",
    category="sql-injection",
    cwe=("CWE-89",),
    owasp=(INJECTION,),
    references=(cwe_url("CWE-89"), cheat_sheet("Query_Parameterization")),
    cvss_vector="CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
)
SUBPROCESS_SHELL = Rule(
    check_id="python.lang.security.subprocess-shell-true",
    title="Subprocess started through a shell",
    message=(
        "subprocess runs this command with shell=True; shell metacharacters in any interpolated "
        "value execute arbitrary commands. Pass an argument list without a shell."
    ),
    severity="high",
    category="command-injection",
    cwe=("CWE-78",),
    owasp=(INJECTION,),
    references=(cwe_url("CWE-78"), cheat_sheet("OS_Command_Injection_Defense")),
    cvss_vector="CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
)
OS_SYSTEM = Rule(
    check_id="python.lang.security.os-system-injection",
    title="Command built from variables run with os.system",
    message="os.system passes its argument to a shell. Use subprocess.run with an argument list.",
    severity="high",
    category="command-injection",
    cwe=("CWE-78",),
    owasp=(INJECTION,),
    references=(cwe_url("CWE-78"), cheat_sheet("OS_Command_Injection_Defense")),
)
PICKLE = Rule(
    check_id="python.lang.security.deserialization.pickle-load",
    title="Untrusted data deserialized with pickle",
    message=(
        "pickle executes code while loading; data that a client can send must use a "
        "data-only format such as JSON."
    ),
    severity="high",
    category="insecure-deserialization",
    cwe=("CWE-502",),
    owasp=(INTEGRITY_FAILURES,),
    references=(cwe_url("CWE-502"), cheat_sheet("Deserialization")),
    cvss_vector="CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H",
)
YAML_LOAD = Rule(
    check_id="python.lang.security.deserialization.yaml-unsafe-load",
    title="YAML loaded without SafeLoader",
    message=(
        "yaml.load with a full Loader can construct arbitrary Python objects. "
        "Use yaml.safe_load (or Loader=yaml.SafeLoader)."
    ),
    severity="high",
    category="insecure-deserialization",
    cwe=("CWE-502",),
    owasp=(INTEGRITY_FAILURES,),
    references=(cwe_url("CWE-502"), cheat_sheet("Deserialization")),
)
WEAK_PASSWORD_HASH = Rule(
    check_id="python.lang.security.weak-password-hash",
    title="Password hashed with a fast, broken digest",
    message=(
        "Passwords hashed with MD5/SHA-1 and no salt are cracked offline in seconds. "
        "Use a password hashing function (scrypt, bcrypt, argon2, PBKDF2)."
    ),
    severity="high",
    category="weak-cryptography",
    cwe=("CWE-916", "CWE-328"),
    owasp=(CRYPTOGRAPHIC_FAILURES,),
    references=(cwe_url("CWE-916"), cheat_sheet("Password_Storage")),
)
INSECURE_HASH = Rule(
    check_id="python.lang.security.insecure-hash-algorithm",
    title="Insecure hash algorithm",
    message="MD5 and SHA-1 are broken for security purposes; use SHA-256 or stronger.",
    severity="medium",
    category="weak-cryptography",
    cwe=("CWE-328",),
    owasp=(CRYPTOGRAPHIC_FAILURES,),
    references=(cwe_url("CWE-328"),),
)
FLASK_DEBUG = Rule(
    check_id="python.flask.security.debug-enabled",
    title="Flask started with the debugger enabled",
    message=(
        "debug=True exposes the Werkzeug debugger, which runs arbitrary Python for anyone "
        "who can reach the port."
    ),
    severity="medium",
    category="misconfiguration",
    cwe=("CWE-489",),
    owasp=(SECURITY_MISCONFIGURATION,),
    references=(cwe_url("CWE-489"),),
)

PYTHON_RULES = (
    SQL_INJECTION,
    SUBPROCESS_SHELL,
    OS_SYSTEM,
    PICKLE,
    YAML_LOAD,
    WEAK_PASSWORD_HASH,
    INSECURE_HASH,
    FLASK_DEBUG,
)

_SUBPROCESS_CALLS = {"run", "call", "check_call", "check_output", "Popen"}
_SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader"}


def dotted_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        prefix = dotted_name(node.value)
        return f"{prefix}.{node.attr}" if prefix else ""
    return ""


def _constant_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def string_pieces(node: ast.AST) -> list[str | ast.expr] | None:
    """Flattens an interpolated string into constant text and expressions (None if not one)."""
    if isinstance(node, ast.JoinedStr):
        pieces: list[str | ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                pieces.append(value.value)
            else:
                pieces.append(value.value)
        return pieces
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left = string_pieces(node.left)
        right = string_pieces(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else [node.left]) + (
            right if right is not None else [node.right]
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        template = _constant_text(node.left)
        if template is None:
            return None
        values = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        chunks = template.split("%s")
        if len(chunks) != len(values) + 1:
            return None
        pieces = [chunks[0]]
        for value, chunk in zip(values, chunks[1:], strict=True):
            pieces.extend([value, chunk])
        return pieces
    text = _constant_text(node)
    if text is not None:
        return [text]
    return None


def formatted_sql(node: ast.AST) -> list[str | ast.expr] | None:
    """The pieces of an SQL statement assembled from strings and values, else None."""
    pieces = string_pieces(node)
    if pieces is None or all(isinstance(piece, str) for piece in pieces):
        return None
    head = "".join(piece for piece in pieces[:1] if isinstance(piece, str)).lstrip().upper()
    if not head.startswith(SQL_VERBS):
        return None
    return pieces


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _enclosing_functions(tree: ast.AST) -> dict[int, str]:
    names: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for child in ast.walk(node):
                names.setdefault(id(child), node.name)
    return names


def python_call_rule(call: ast.Call, *, function_name: str = "") -> Rule | None:
    """The rule a call breaks, if any; shared by the scan and by the fixes that re-find calls."""
    name = dotted_name(call.func)
    module, _, attribute = name.rpartition(".")
    if call.args and formatted_sql(call.args[0]) is not None:
        return SQL_INJECTION
    if (
        module == "subprocess"
        and attribute in _SUBPROCESS_CALLS
        and _is_true(_keyword(call, "shell"))
    ):
        return SUBPROCESS_SHELL
    if name in {"os.system", "os.popen"} and call.args and _constant_text(call.args[0]) is None:
        return OS_SYSTEM
    if module in {"pickle", "cPickle", "dill"} and attribute in {"loads", "load"}:
        return PICKLE
    if module == "yaml" and attribute in {"unsafe_load", "full_load"}:
        return YAML_LOAD
    if module == "yaml" and attribute == "load":
        loader = _keyword(call, "Loader") or (call.args[1] if len(call.args) > 1 else None)
        if loader is None or dotted_name(loader).rpartition(".")[2] not in _SAFE_YAML_LOADERS:
            return YAML_LOAD
    if module == "hashlib" and attribute in {"md5", "sha1"}:
        used_for_security = _keyword(call, "usedforsecurity")
        if isinstance(used_for_security, ast.Constant) and used_for_security.value is False:
            return None
        argument_text = ast.unparse(call.args[0]) if call.args else ""
        if "password" in function_name.lower() or "password" in argument_text.lower():
            return WEAK_PASSWORD_HASH
        return INSECURE_HASH
    if attribute == "run" and _is_true(_keyword(call, "debug")):
        return FLASK_DEBUG
    return None


def scan_python(*, file_path: str, text: str) -> list[Hit]:
    try:
        tree = ast.parse(text, filename=file_path)
    except SyntaxError:
        return []
    functions = _enclosing_functions(tree)
    hits = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        rule = python_call_rule(node, function_name=functions.get(id(node), ""))
        if rule is not None:
            hits.append(Hit(rule=rule, file_path=file_path, line=node.lineno))
    return hits

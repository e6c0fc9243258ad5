"""The two narrowed checks of the contract tests, shared by the in-process test and the CLI run
against a live server (loaded there with ``SCHEMATHESIS_HOOKS=tests.sandbox.contract_checks``).

Two built-in checks are narrowed, none is dropped:

- ``status_code_conformance``. The published contract documents only the success code and 422
  per operation, yet NOTES.md (the vendor's prose) defines 400/401/403/404/409 answers in an
  error envelope, and a generated id that does not exist must answer 404.
  ``documented_or_enveloped_status`` accepts a documented code, or one of those codes only when
  its body is exactly the documented envelope.
- ``negative_data_rejection`` treats an unknown query parameter as invalid input, while upstream
  (FastAPI) ignores unknown query parameters. The sandbox does the same, so a request whose only
  flaw is an extra query parameter is not required to fail. Nor is a request whose generated
  "invalid" value went to a query parameter that takes any string: an object or a list sent in a
  query string arrives as an ordinary string (``?scan_type=``), which such a parameter accepts
  upstream as well. Every other negative case still is.
"""

import ast
import sys
import threading

import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection

ENVELOPED_STATUSES = {400, 401, 403, 404, 409}

# CPython before 3.11.8 kept the AST constructor's recursion depth in global state, so two
# threads parsing at once fail with "SystemError: AST constructor recursion depth mismatch"
# (python/cpython#106905). Schemathesis's workers are threads, and Hypothesis parses source to
# describe the lambdas of its strategies: with two workers the run itself, not the sandbox,
# fails at random. Parsing one at a time avoids the race.
if sys.version_info < (3, 11, 8):
    _parse = ast.parse
    _parse_lock = threading.Lock()

    def _parse_one_at_a_time(*args, **kwargs):
        with _parse_lock:
            return _parse(*args, **kwargs)

    ast.parse = _parse_one_at_a_time


@schemathesis.check
def documented_or_enveloped_status(ctx, response, case):
    documented = {int(code) for code in case.operation.responses.status_codes if code.isdigit()}
    if response.status_code in documented:
        return None
    if response.status_code == 405:
        # Asked by the unsupported-method check with a method the path does not define.
        assert response.headers.get("allow"), "405 without an Allow header"
        return None
    assert response.status_code in ENVELOPED_STATUSES, f"undocumented status {response.status_code}"
    detail = response.json()["detail"]
    assert isinstance(detail, dict), detail
    assert isinstance(detail["detail"], str) and isinstance(detail["error_code"], str)
    assert set(detail) <= {"detail", "error_code", "quota_type"}
    return None


def _sends_unknown_query_parameters(case) -> bool:
    declared = {parameter.name for parameter in case.operation.query}
    return bool(set(case.query or {}) - declared)


def _takes_any_string(schema: dict) -> bool:
    choices = schema.get("anyOf", [schema])
    return any(choice == {"type": "string"} for choice in choices)


def _sends_a_structure_as_a_free_string(case) -> bool:
    """An object or list generated for a query parameter that accepts any string: once in the
    query string it is a string, so the request is not the negative case it was meant to be."""
    query = case.query or {}
    return any(
        isinstance(query.get(parameter.name), dict | list)
        and _takes_any_string(parameter.definition.get("schema", {}))
        for parameter in case.operation.query
    )


@schemathesis.check
def negative_data_rejected_like_upstream(ctx, response, case):
    if response.status_code < 300 and (
        _sends_unknown_query_parameters(case) or _sends_a_structure_as_a_free_string(case)
    ):
        return None
    return negative_data_rejection(ctx, response, case)

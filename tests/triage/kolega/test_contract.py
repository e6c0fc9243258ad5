"""The client's models and operations against the repository's copy of the Kolega contract.

If the vendor publishes a new contract and the copy is updated, these tests name every field
and operation the client has to follow.
"""

import inspect
import json
import re
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from triage.kolega import OPERATIONS, KolegaClient
from triage.kolega.client import API_PREFIX
from triage.kolega.models import CONTRACT_SCHEMAS

CONTRACT_PATH = Path(__file__).resolve().parents[3] / "kolega-api" / "openapi.json"
CONTRACT = json.loads(CONTRACT_PATH.read_text())
SCHEMAS = CONTRACT["components"]["schemas"]
ENUM_SCHEMAS = {name for name, schema in SCHEMAS.items() if "enum" in schema}
MODEL_SCHEMA_NAMES = {model: name for name, model in CONTRACT_SCHEMAS.items()}

CONTRACT_OPERATIONS = [
    (method.upper(), path, operation)
    for path, methods in CONTRACT["paths"].items()
    for method, operation in methods.items()
]


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def contract_type(schema: dict[str, Any]) -> str:
    """A short type description of a contract property, comparable with `model_type`."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return "str" if name in ENUM_SCHEMAS else f"ref:{name}"
    if "anyOf" in schema:
        variants = [variant for variant in schema["anyOf"] if variant.get("type") != "null"]
        described = "|".join(sorted(contract_type(variant) for variant in variants))
        nullable = len(variants) < len(schema["anyOf"])
        return f"optional[{described}]" if nullable else described
    kind = schema.get("type")
    if kind is None:
        return "any"
    if kind == "string":
        return "datetime" if schema.get("format") == "date-time" else "str"
    if kind == "array":
        return f"list[{contract_type(schema['items'])}]"
    return {"integer": "int", "number": "float", "boolean": "bool", "object": "dict"}[kind]


def model_type(annotation: Any) -> str:
    """The same description for a pydantic field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        variants = [arg for arg in args if arg is not type(None)]
        described = "|".join(sorted(model_type(arg) for arg in variants))
        return f"optional[{described}]" if len(variants) < len(args) else described
    if origin is list:
        return f"list[{model_type(typing.get_args(annotation)[0])}]"
    if origin is dict or annotation is dict:
        return "dict"
    if annotation is Any:
        return "any"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"ref:{MODEL_SCHEMA_NAMES[annotation]}"
    return {str: "str", int: "int", float: "float", bool: "bool", datetime: "datetime"}[annotation]


def test_the_contract_copy_is_complete():
    # Guards the test itself: a wrong path or an empty file would make every comparison pass.
    assert CONTRACT["openapi"].startswith("3.")
    assert len(CONTRACT_OPERATIONS) == 21
    assert len(SCHEMAS) == 33


def test_every_object_schema_has_a_model():
    object_schemas = {name for name in SCHEMAS if name not in ENUM_SCHEMAS}
    assert set(CONTRACT_SCHEMAS) == object_schemas


@pytest.mark.parametrize("schema_name", sorted(CONTRACT_SCHEMAS))
def test_model_fields_match_the_contract(schema_name):
    schema = SCHEMAS[schema_name]
    model = CONTRACT_SCHEMAS[schema_name]
    properties = schema.get("properties", {})

    assert set(model.model_fields) == set(properties), "field names differ"

    required_in_model = {name for name, field in model.model_fields.items() if field.is_required()}
    assert required_in_model == set(schema.get("required", [])), "required fields differ"

    for name, prop in properties.items():
        field = model.model_fields[name]
        assert model_type(field.annotation) == contract_type(prop), f"type of {name} differs"
        if "default" in prop:
            assert field.default == prop["default"], f"default of {name} differs"


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    CONTRACT_OPERATIONS,
    ids=[f"{method} {path}" for method, path, _ in CONTRACT_OPERATIONS],
)
def test_every_contract_operation_has_a_client_method(method, path, operation):
    matches = [
        op for op in OPERATIONS.values() if op.method == method and API_PREFIX + op.path == path
    ]
    assert len(matches) == 1, f"no single client operation for {method} {path}"
    client_operation = matches[0]

    success = next(code for code in operation["responses"] if code.startswith("2"))
    response_schema = operation["responses"][success]["content"]["application/json"]["schema"]
    assert client_operation.response is CONTRACT_SCHEMAS[_ref_name(response_schema["$ref"])]

    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    expected_request = CONTRACT_SCHEMAS[_ref_name(body["schema"]["$ref"])] if body else None
    assert client_operation.request is expected_request

    # The method's keyword parameters are exactly the operation's path and query parameters,
    # plus the request body's fields.
    signature = inspect.signature(getattr(KolegaClient, client_operation.name))
    parameters = {name: p for name, p in signature.parameters.items() if name != "self"}
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    contract_parameters = {p["name"] for p in operation.get("parameters", [])}
    if expected_request is not None:
        contract_parameters |= set(expected_request.model_fields)
    assert set(parameters) == contract_parameters

    for parameter in operation.get("parameters", []):
        default = parameter["schema"].get("default", inspect.Parameter.empty)
        if parameter["in"] == "query" and not parameter.get("required"):
            default = None if default is inspect.Parameter.empty else default
        assert parameters[parameter["name"]].default == default, parameter["name"]

    if expected_request is not None:
        for name, field in expected_request.model_fields.items():
            expected_default = inspect.Parameter.empty if field.is_required() else field.default
            if not field.is_required() and field.default_factory is list:
                expected_default = inspect.Parameter.empty  # a list of findings must be given
            assert parameters[name].default == expected_default, name

    assert set(re.findall(r"{(\w+)}", path)) == {
        p["name"] for p in operation.get("parameters", []) if p["in"] == "path"
    }


def test_no_client_operation_is_missing_from_the_contract():
    contract = {(method, path) for method, path, _ in CONTRACT_OPERATIONS}
    client = {(op.method, API_PREFIX + op.path) for op in OPERATIONS.values()}
    assert client == contract

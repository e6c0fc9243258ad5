"""Request parsing with upstream's validation rules and its 422 bodies.

Upstream is a FastAPI service validating with pydantic, so the sandbox validates with the
same pydantic models and reports errors the way FastAPI does: ``loc`` prefixed with
``query`` or ``body``, ``msg``, ``type``, ``input`` and ``ctx`` when pydantic gives one.
"""

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from django.http import HttpRequest
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from sandbox.errors import RequestValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class ScanTypeValue(StrEnum):
    secrets_scan = "secrets_scan"
    semgrep_scan = "semgrep_scan"
    deep_ai_scan = "deep_ai_scan"
    sbom_scan = "sbom_scan"


class FindingStatusValue(StrEnum):
    open = "open"
    resolved = "resolved"
    ignored = "ignored"
    false_positive = "false_positive"
    needs_manual_review = "needs_manual_review"


class Page(BaseModel):
    limit: int = Field(50, ge=1, le=200)
    skip: int = Field(0, ge=0)


class RepositoriesQuery(Page):
    include_archived: bool = False


class ScansQuery(Page):
    limit: int = Field(20, ge=1, le=200)
    scan_type: ScanTypeValue | None = None
    status: str | None = None


class FindingsQuery(Page):
    scan_batch_id: str | None = None
    severity: str | None = None
    status: str | None = None
    scan_type: str | None = None


class FixesQuery(Page):
    finding_id: str | None = None


# RFC 3339 date-time, as the contract's ``format: date-time`` says; pydantic alone would
# also take bare numbers as Unix timestamps.
DATE_TIME = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$"


def _date_time(value: Any) -> Any:
    if isinstance(value, str) and not re.match(DATE_TIME, value):
        raise PydanticCustomError(
            "datetime_from_date_parsing",
            "Input should be a valid datetime or date, {error}",
            {"error": "invalid character in year"},
        )
    return value


QueryDateTime = Annotated[datetime | None, BeforeValidator(_date_time)]


class FindingEventsQuery(Page):
    limit: int = Field(100, ge=1, le=200)
    repository_id: str | None = None
    finding_id: str | None = None
    scan_type: str | None = None
    severity: str | None = None
    event_type: str | None = None
    start: QueryDateTime = None
    end: QueryDateTime = None


class ScanCreateBody(BaseModel):
    scan_type: ScanTypeValue


class FindingStatusUpdateBody(BaseModel):
    status: FindingStatusValue


class FixCreateBody(BaseModel):
    # Optional, but when sent it is a non-empty list (never null), as the contract says.
    finding_ids: list[str] = Field(default_factory=list, min_length=1)
    title: str = Field(min_length=1, max_length=200)
    instructions: str = Field(min_length=1)
    source_repo: str
    source_repo_provider: Literal["github", "gitlab", "azure_devops"] = "github"
    source_scan_branch: str | None = None


class FixRefineBody(BaseModel):
    instructions: str = Field(min_length=1, max_length=12000)


class CreatePullRequestsBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    body: str | None = None
    branch_name: str | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _fastapi_errors(error: ValidationError, location: str) -> list[dict[str, Any]]:
    entries = []
    for item in error.errors(include_url=False):
        entry = {
            "type": item["type"],
            "loc": [location, *item["loc"]],
            "msg": item["msg"],
            "input": _jsonable(item.get("input")),
        }
        if item.get("ctx"):
            entry["ctx"] = _jsonable(item["ctx"])
        entries.append(entry)
    return entries


def _without_nul(value: Any) -> Any:
    # Database text cannot hold NUL: such a string could never match or be stored as sent.
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def parse_query(request: HttpRequest, model: type[ModelT]) -> ModelT:
    # Like FastAPI, a repeated parameter counts by its last value; unknown ones are ignored.
    values = {
        name: _without_nul(request.GET[name]) for name in request.GET if name in model.model_fields
    }
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise RequestValidationError(_fastapi_errors(error, "query")) from None


def parse_body(request: HttpRequest, model: type[ModelT]) -> ModelT:
    raw = request.body
    if not raw.strip():
        raise RequestValidationError(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        position = getattr(error, "pos", 0)
        reason = getattr(error, "msg", str(error))
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ["body", position],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": reason},
                }
            ]
        ) from None
    try:
        return model.model_validate(_without_nul(data))
    except ValidationError as error:
        raise RequestValidationError(_fastapi_errors(error, "body")) from None

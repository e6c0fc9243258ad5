"""Errors the emulated API answers with, in upstream's envelopes.

Validation problems use FastAPI's ``HTTPValidationError`` body; everything else uses
``{"detail": {"detail": message, "error_code": code, "quota_type"?}}`` (NOTES.md).
"""

from typing import Any


class ApiError(Exception):
    def __init__(
        self,
        *,
        status: int,
        message: str,
        error_code: str = "OPERATION_FAILED",
        quota_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.quota_type = quota_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        detail: dict[str, Any] = {"detail": self.message, "error_code": self.error_code}
        if self.quota_type is not None:
            detail["quota_type"] = self.quota_type
        return {"detail": detail}


class RequestValidationError(Exception):
    """A 422 with FastAPI's list of ``{loc, msg, type, input?, ctx?}`` entries."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {"detail": self.errors}


def not_found(what: str) -> ApiError:
    return ApiError(status=404, message=f"{what} not found", error_code="NOT_FOUND")


def unauthorized(message: str = "Invalid or missing API key") -> ApiError:
    return ApiError(
        status=401,
        message=message,
        error_code="UNAUTHORIZED",
        headers={"WWW-Authenticate": "Bearer"},
    )


def forbidden(message: str) -> ApiError:
    return ApiError(status=403, message=message, error_code="FORBIDDEN")


def quota_exhausted(quota_type: str) -> ApiError:
    return ApiError(
        status=403,
        message=f"Quota exhausted for {quota_type} in the current period",
        error_code="OPERATION_FAILED",
        quota_type=quota_type,
    )


def conflict(message: str) -> ApiError:
    return ApiError(status=409, message=message, error_code="OPERATION_FAILED")

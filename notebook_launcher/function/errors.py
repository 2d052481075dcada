"""One error hierarchy for the function: each error carries a code and an HTTP status.

Cloud (oci SDK) errors are translated into these at the edge, in `oci_edge.py`;
the handler turns any of them into the documented JSON error body.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one request field."""

    field: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class LauncherError(Exception):
    """Base class of every error the function answers with."""

    code = "InternalError"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        details: list[FieldProblem] | None = None,
        opc_request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.opc_request_id = opc_request_id

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {
            "code": self.code,
            "message": self.message,
            "details": [d.to_dict() for d in self.details],
        }
        if self.opc_request_id:
            body["opcRequestId"] = self.opc_request_id
        return {"error": body}


class InvalidRequestError(LauncherError):
    """The request body is not valid; `details` names every bad field."""

    code = "InvalidRequest"
    status = 400


class NotebookFetchError(LauncherError):
    """The notebook could not be fetched, or was refused by the fetch guards."""

    code = "NotebookFetchFailed"
    status = 400


class InvalidNotebookError(LauncherError):
    """The fetched file is not a valid nbformat 4 notebook."""

    code = "InvalidNotebook"
    status = 400


class NotFoundError(LauncherError):
    """A resource the request names does not exist or the function may not see it."""

    code = "NotFound"
    status = 404


class ConflictError(LauncherError):
    """The request conflicts with the resource's state (a finished run, a reused key)."""

    code = "Conflict"
    status = 409


class RetryTokenInvalidatedError(ConflictError):
    """Data Science refused an opc-retry-token (used for another body, or invalidated)."""


class TooManyRequestsError(LauncherError):
    """Data Science throttled the function beyond its retry budget; try again later."""

    code = "TooManyRequests"
    status = 429


class UpstreamError(LauncherError):
    """Data Science or Object Storage answered with an error the function cannot fix."""

    code = "UpstreamError"
    status = 502


class ServiceUnavailableError(LauncherError):
    """The call could not finish within the function's deadline; try again."""

    code = "ServiceUnavailable"
    status = 503


class ConfigurationError(LauncherError):
    """The function's own configuration is invalid (an operator must fix it)."""

    code = "ConfigurationError"
    status = 500

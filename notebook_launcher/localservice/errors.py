"""Errors the local service answers with, in OCI's wire shape: `{"code": ..., "message": ...}`.

Codes and statuses follow OCI's common API errors, so the oci SDK raises the same
`ServiceError` (status, code, message) locally as it does against OCI.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error answered to the client with an OCI error code and HTTP status."""

    status: int = 500
    code: str = "InternalServerError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidParameterError(ServiceError):
    """A parameter is invalid or incorrectly formatted."""

    status = 400
    code = "InvalidParameter"


class MissingParameterError(ServiceError):
    """A required parameter is missing."""

    status = 400
    code = "MissingParameter"


class CannotParseRequestError(ServiceError):
    """The request body is not valid JSON or not a JSON object."""

    status = 400
    code = "CannotParseRequest"


class LimitExceededError(ServiceError):
    """A documented service limit (environment variables, arguments) is exceeded."""

    status = 400
    code = "LimitExceeded"


class RelatedResourceNotFoundError(ServiceError):
    """A resource named in the request body does not exist or is not visible."""

    status = 400
    code = "RelatedResourceNotAuthorizedOrNotFound"


class NotAuthenticatedServiceError(ServiceError):
    """The request carries no valid signature."""

    status = 401
    code = "NotAuthenticated"


class NotFoundError(ServiceError):
    """The resource does not exist (OCI does not tell this apart from 'not authorized')."""

    status = 404
    code = "NotAuthorizedOrNotFound"

    def __init__(
        self, message: str = "Authorization failed or requested resource not found."
    ) -> None:
        super().__init__(message)


class RouteNotFoundError(ServiceError):
    """No operation exists at this path."""

    status = 404
    code = "NotFound"


class MethodNotAllowedError(ServiceError):
    """The path exists but not with this HTTP method."""

    status = 405
    code = "MethodNotAllowed"


class ConflictError(ServiceError):
    """The request conflicts with the resource as it is."""

    status = 409
    code = "Conflict"


class IncorrectStateError(ServiceError):
    """The resource's lifecycle state does not allow the operation."""

    status = 409
    code = "IncorrectState"


class InvalidatedRetryTokenError(ServiceError):
    """The retry token was already used with a different request."""

    status = 409
    code = "InvalidatedRetryToken"


class NoEtagMatchError(ServiceError):
    """The `if-match` etag does not match the resource's current etag."""

    status = 412
    code = "NoEtagMatch"


class TooManyRequestsError(ServiceError):
    """Throttled (answered only by fault injection locally)."""

    status = 429
    code = "TooManyRequests"


class InternalServerError(ServiceError):
    """An unexpected failure inside the service."""

    status = 500
    code = "InternalServerError"


class ServiceUnavailableError(ServiceError):
    """The service cannot answer now (answered only by fault injection locally)."""

    status = 503
    code = "ServiceUnavailable"


def error_for_status(status: int, message: str) -> ServiceError:
    """The error OCI answers with for an injected fault status."""
    by_status: dict[int, type[ServiceError]] = {
        429: TooManyRequestsError,
        500: InternalServerError,
        503: ServiceUnavailableError,
    }
    if status not in by_status:
        raise ValueError(f"unsupported fault status {status}; choose one of {sorted(by_status)}")
    return by_status[status](message)

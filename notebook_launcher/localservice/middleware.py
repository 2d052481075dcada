"""What every request passes before it is routed: a request id, a signature, a bounded body.

`RequestIdMiddleware` echoes `opc-request-id` (or makes one) and answers an unexpected
exception with OCI's 500 JSON. `SignatureMiddleware` refuses (401 NotAuthenticated) a request
not signed by the service's API key or a session it issued, checking the headers before any
of the body is read, and bounds the body: 10 MB of JSON, 2 GiB for an artifact or an object
(400 LimitExceeded).
"""

from __future__ import annotations

import hashlib
import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from notebook_launcher.localservice.errors import (
    InternalServerError,
    LimitExceededError,
    NotAuthenticatedServiceError,
    ServiceError,
)
from notebook_launcher.localservice.identity.signatures import (
    NotAuthenticatedError,
    SignatureVerifier,
    is_raw_body_upload,
)
from notebook_launcher.localservice.rest import error_response

logger = logging.getLogger(__name__)

MAX_JSON_BODY_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_BYTES = 2 * 1024**3  # a job artifact or an object


class RequestIdMiddleware:
    """Echoes `opc-request-id` (or makes one) and `opc-client-request-id` on every response,
    and answers an unexpected exception with OCI's 500 JSON instead of a bare error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope["headers"])
        incoming = request_headers.get(b"opc-request-id", b"").decode("latin-1")
        request_id = incoming or f"{uuid.uuid4().hex.upper()}/{uuid.uuid4().hex.upper()}"
        client_request_id = request_headers.get(b"opc-client-request-id")  # Object Storage's
        scope.setdefault("state", {})["opc_request_id"] = request_id

        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"opc-request-id", request_id.encode("latin-1")))
                if client_request_id:
                    headers.append((b"opc-client-request-id", client_request_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Where it failed, but not the exception's text: it may echo submitted values.
            logger.error(
                "unexpected %s on %s %s (request %s)\n%s",
                type(exc).__name__,
                scope["method"],
                scope["path"],
                request_id,
                "".join(traceback.format_tb(exc.__traceback__)).rstrip(),
            )
            if started:
                raise
            response = error_response(
                InternalServerError("An internal error occurred in the service.")
            )
            await response(scope, receive, send_with_id)


class _BodyTooLargeError(Exception):
    """The body grew past its limit while it was read."""


class _Disconnected(Exception):
    """The client went away before its body arrived."""


class SignatureMiddleware:
    """Verifies the OCI signature of every request before routing it, and bounds its body.

    The signature is checked on the headers before any of the body is read (it covers the
    body's announced digest and length), so an unsigned or oversized request costs nothing.
    A body announced or grown over its limit (MAX_JSON_BODY_BYTES, or MAX_UPLOAD_BYTES for
    artifacts and objects) is refused with 400 LimitExceeded. A JSON body is then read,
    checked against the signed digest and replayed to the app; an upload is streamed to a
    file in `uploads_dir`, handed to the route as `request.state.upload`, and removed after.
    """

    def __init__(self, app: ASGIApp, verifier: SignatureVerifier, uploads_dir: Path) -> None:
        self.app = app
        self.verifier = verifier
        self.uploads_dir = uploads_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = raw_path.decode("latin-1")
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        headers = {
            name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
        }
        announced = _announced_length(headers)
        has_body = announced is None or announced > 0
        try:
            principal, rules = self.verifier.verify_headers(
                scope["method"], target, headers, has_body=has_body
            )
        except NotAuthenticatedError as exc:
            await self._refuse(scope, receive, send, NotAuthenticatedServiceError(str(exc)))
            return
        upload = is_raw_body_upload(scope["method"], scope["path"])
        limit, what = (MAX_UPLOAD_BYTES, "2 GiB") if upload else (MAX_JSON_BODY_BYTES, "10 MB")
        too_large = LimitExceededError(
            f"The request body is larger than the {what} ({limit} bytes) this operation takes."
        )
        if announced is not None and announced > limit:
            await self._refuse(scope, receive, send, too_large)
            return
        body = b""
        upload_file: Path | None = None
        try:
            if upload:
                upload_file = self.uploads_dir / f"{uuid.uuid4().hex}.upload"
                size, digest = await _stream_to_file(receive, upload_file, limit)
            else:
                body = await _read_body(receive, limit)
                size, digest = len(body), hashlib.sha256(body).digest()
            rules.check(size, digest)
        except _Disconnected:
            _discard(upload_file)
            return
        except _BodyTooLargeError:
            _discard(upload_file)
            await self._refuse(scope, receive, send, too_large)
            return
        except NotAuthenticatedError as exc:
            _discard(upload_file)
            await self._refuse(scope, receive, send, NotAuthenticatedServiceError(str(exc)))
            return
        except BaseException:
            _discard(upload_file)
            raise
        state = scope.setdefault("state", {})
        state["principal"] = principal
        state["upload"] = upload_file
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay, send)
        finally:
            _discard(upload_file)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, error: ServiceError) -> None:
        """Answer without reading (the rest of) the body, and close the connection so the
        client's unread bytes are not taken as the next request."""
        logger.info("%d %s %s: %s", error.status, scope["method"], scope["path"], error.message)
        response = error_response(error, headers={"connection": "close"})
        await response(scope, receive, send)


def _announced_length(headers: Mapping[str, str]) -> int | None:
    """The content-length the headers announce: 0 when there is no body, None when it is
    sent chunked (or the header cannot be read, which the server would have refused)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if "transfer-encoding" in lowered:
        return None
    text = lowered.get("content-length", "0").strip()
    return int(text) if text.isascii() and text.isdecimal() else None


async def _chunks(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body's chunks as they arrive, refusing more than `limit` bytes in all."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLargeError
        yield chunk
        if not message.get("more_body", False):
            return


async def _read_body(receive: Receive, limit: int) -> bytes:
    return b"".join([chunk async for chunk in _chunks(receive, limit)])


async def _stream_to_file(receive: Receive, path: Path, limit: int) -> tuple[int, bytes]:
    """Write the body to `path` as it arrives; its size and SHA-256 digest."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "xb") as file:
        async for chunk in _chunks(receive, limit):
            digest.update(chunk)
            file.write(chunk)
            size += len(chunk)
    return size, digest.digest()


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)

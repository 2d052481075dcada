"""The HTTP/1.1 protocol the local service runs: uvicorn's httptools protocol with a bounded
request head.

httptools (which fdk already brings, so uvicorn's "auto" always picks it) buffers a request's
line and header fields without any limit before the app sees a byte of them: one unsigned
request with a 256 MB header took the service from 47 to 584 MB and slowed every other caller.
This protocol counts the bytes and lines of each request head as they arrive, before they are
handed to the parser, and answers 431 Request Header Fields Too Large (RFC 6585) and closes the
connection as soon as either bound is passed. A head within the bounds costs one `find` per
received chunk.
"""

from __future__ import annotations

import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A request head (request line and every header field, CRLFs included) may hold this much.
# The largest legitimate field is the Authorization header, itself capped at 16 KiB by the
# signature parser; the oci SDK's other headers add well under 2 KiB.
MAX_HEAD_BYTES = 64 * 1024
# Header fields per request (the oci SDK sends about a dozen; ADS and the CLI no more).
MAX_HEADER_FIELDS = 100

_END_OF_HEAD = b"\r\n\r\n"


class BoundedHeadProtocol(HttpToolsProtocol):  # type: ignore[misc]  # uvicorn is untyped here
    """httptools protocol that refuses a request head over `MAX_HEAD_BYTES` or
    `MAX_HEADER_FIELDS` with 431, before the parser has buffered it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading_head = True
        self._head_bytes = 0
        self._head_lines = 0
        self._tail = b""
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._reading_head and not self._within_bounds(data):
            self._refuse()
            return
        super().data_received(data)

    def _within_bounds(self, data: bytes) -> bool:
        # The end of the head may straddle two chunks: look across the last three bytes.
        window = self._tail + data
        end = window.find(_END_OF_HEAD)
        head_part = data if end < 0 else window[len(self._tail) : end + len(_END_OF_HEAD)]
        self._head_bytes += len(head_part)
        self._head_lines += head_part.count(b"\n")
        self._tail = window[-(len(_END_OF_HEAD) - 1) :]
        # The request line and the blank line ending the head are lines too.
        return self._head_bytes <= MAX_HEAD_BYTES and self._head_lines <= MAX_HEADER_FIELDS + 2

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True
        self._head_bytes = 0
        self._head_lines = 0
        self._tail = b""

    def _refuse(self) -> None:
        body = json.dumps(
            {
                "code": "RequestHeaderFieldsTooLarge",
                "message": (
                    f"The request's header fields exceed {MAX_HEAD_BYTES} bytes or "
                    f"{MAX_HEADER_FIELDS} fields."
                ),
            }
        ).encode("ascii")
        head = (
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode("ascii") + b"\r\n"
            b"connection: close\r\n\r\n"
        )
        self._refused = True
        self.transport.write(head + body)
        self.transport.close()

"""The local service's signature verifier with a one-call `verify`, for unit tests.

The service checks a request in two steps (`verify_headers` before the body is read, then
`BodyRules.check` on the body that arrives: see `localservice/middleware.py`). Tests that hold
a whole request check it with `verify`: the same checks, the body's before the signature's, so
that a test tampering with a body or its length sees the body's error named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from notebook_launcher.localservice.identity import signatures
from notebook_launcher.localservice.identity.signatures import Principal


class SignatureVerifier(signatures.SignatureVerifier):
    """The product verifier, plus `verify` for a request whose body is already at hand."""

    def verify(
        self,
        method: str,
        path_with_query: str,
        headers: Mapping[str, str],
        body: bytes,
        host: str | None = None,
    ) -> Principal:
        """Verify a request as the middleware does; its principal, or NotAuthenticatedError.

        path_with_query is the request target as sent (raw, still percent-encoded); host, when
        given, replaces the Host header's value in the signing string.
        """
        params, lines, rules = self._signing_string(
            method, path_with_query, headers, has_body=bool(body), host=host
        )
        rules.check(len(body), hashlib.sha256(body).digest())
        return self._check_signature(params, lines)

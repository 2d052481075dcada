"""Who may use the console: the holder of the token `serve` prints, and only same-origin posts.

As Jupyter does: `serve` makes a random token at every start and prints
`http://HOST:PORT/ui/?token=...`. Opening that URL sets an HttpOnly, SameSite=Strict cookie
(scoped to `/ui`, named after the token so services on other ports do not overwrite each
other's) and redirects to the same page without the token, so it stays out of the history
and of any Referer. A request carries the cookie, or `Authorization: Bearer <token>`;
anything else is refused with 403. A POST (the console's actions) must also come from the
console's own pages: `Sec-Fetch-Site`, when the browser sends it, must be `same-origin`,
`Origin`, when sent, must be the console's own, and the form must carry the CSRF token
embedded in the console's pages (derived from the token, so it changes with each start).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request

TOKEN_PARAMETER = "token"  # noqa: S105 (the query parameter's name)
CSRF_FIELD = "csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _derive(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ConsoleAuth:
    """Checks for one token."""

    token: str

    @property
    def cookie_name(self) -> str:
        return f"nl-console-{_derive(self.token, 'cookie-name')[:12]}"

    @property
    def cookie_value(self) -> str:
        return _derive(self.token, "session")

    @property
    def csrf_token(self) -> str:
        return _derive(self.token, "csrf")

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self.token.encode())

    def authenticated(self, request: Request) -> bool:
        """The request carries the session cookie or the token as a bearer credential."""
        cookie = request.cookies.get(self.cookie_name, "")
        if cookie and hmac.compare_digest(cookie.encode(), self.cookie_value.encode()):
            return True
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and bool(credential) and self.token_matches(credential)

    def cross_site_reason(self, request: Request) -> str | None:
        """Why a state-changing request does not come from the console's own page, if not."""
        site = request.headers.get("sec-fetch-site")
        if site is not None and site != "same-origin":
            return f"Sec-Fetch-Site is {site}"
        origin = request.headers.get("origin")
        if origin is not None:
            own = f"{request.url.scheme}://{request.headers.get('host', '')}"
            if origin != own:
                return f"Origin {origin} is not {own}"
        return None

    def csrf_matches(self, candidate: str) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.csrf_token.encode())

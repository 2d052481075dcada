"""OCI's documented limits that both the function and the local service apply.

- Tags: at most 64 free-form tags per resource, keys 1-100 characters, values at most 256.
- Environment: all environment variables of a job or run together at most 20,000 characters.
"""

from __future__ import annotations

MAX_TAGS = 64
MAX_TAG_KEY_CHARS = 100
MAX_TAG_VALUE_CHARS = 256
MAX_ENVIRONMENT_CHARS = 20_000


def tag_problem(key: str, value: str) -> str | None:
    """Why one free-form tag breaks OCI's limits, or None."""
    if not 1 <= len(key) <= MAX_TAG_KEY_CHARS:
        return f"key must be 1-{MAX_TAG_KEY_CHARS} characters"
    if len(value) > MAX_TAG_VALUE_CHARS:
        return f"value longer than {MAX_TAG_VALUE_CHARS} characters"
    return None

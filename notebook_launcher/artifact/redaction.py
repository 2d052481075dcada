"""Secret redaction by name, at any depth: the one definition every place that shows values uses.

A value is hidden when its name, or the key it sits under at any depth (objects within lists
within objects...), matches one of SECRET_NAME_PATTERNS, case-insensitively, anywhere in the
name. The injected parameters cell runs this same source inside the job run (it cannot import
the launcher there), so what the executed notebook and the run log show is decided here.

This module must stay self-contained (standard library `re` only): its source is embedded in
the injected cell, and it must run on the Python of any conda environment a job may use.
"""

import re

REDACTED = "<redacted>"
SECRET_NAME_PATTERNS = (
    r"pass(word|wd|phrase)?",
    r"pwd",
    r"secret",
    r"token",
    r"api[_-]?key",
    r"private[_-]?key",
    r"access[_-]?key",
    r"credential",
    r"auth",
    r"bearer",
    r"jwt",
    r"signature",
    r"session",
    r"cookie",
    r"dsn",
    r"conn(ection)?[_-]?str(ing)?",
)
SECRET_NAME_RE = re.compile("|".join(SECRET_NAME_PATTERNS), re.IGNORECASE)


def looks_secret(name: object) -> bool:
    """True when a variable, parameter or key name suggests its value is a secret."""
    return bool(SECRET_NAME_RE.search(str(name)))


def redact(value: object, name: object = None) -> object:
    """value with everything under a secret-looking name replaced by REDACTED, at any depth.

    Dicts and lists are copied, never changed in place; anything nested too deeply to walk
    is hidden whole rather than shown.
    """
    try:
        return _redact(value, name)
    except RecursionError:
        return REDACTED


def _redact(value: object, name: object) -> object:
    if name is not None and looks_secret(name):
        return REDACTED
    if isinstance(value, dict):
        return {key: _redact(item, key) for key, item in value.items()}
    if isinstance(value, (list, tuple)):  # a tuple, not X | Y: older Pythons
        return [_redact(item, None) for item in value]
    return value


def shown(name: str, value: object) -> str:
    """How one parameter is printed: `name = <redacted>`, or `name = ` and the redacted repr."""
    if looks_secret(name):
        return f"{name} = {REDACTED}"
    return f"{name} = {redact(value)!r}"

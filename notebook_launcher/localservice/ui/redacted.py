"""What the console shows of values that may hold secrets: everything through the one rule.

The rule is `notebook_launcher.artifact.redaction` (by name, at any depth), the same one the
injected cell, the run log, the executed notebook and the run report use. Environment
variables are strings, but a string can carry a structure (the notebook parameters' JSON, or
a caller's own JSON variable): such a string is read and shown redacted the same way, so
`{"config": {"password": ...}}` shows `"password": "<redacted>"` wherever it sits.
"""

from __future__ import annotations

import json
from typing import Any

from notebook_launcher.artifact.redaction import REDACTED, looks_secret, redact

ENVIRONMENT_KEYS = frozenset({"environmentVariables"})


def redacted_value(name: str, value: object) -> str:
    """How a parameter, variable or output value is shown: REDACTED under a secret-looking
    name, else the value (as JSON unless a string) with every secret in it redacted."""
    if looks_secret(name):
        return REDACTED
    if isinstance(value, str):
        return _redacted_text(value)
    try:
        return json.dumps(redact(value), ensure_ascii=False)
    except (RecursionError, TypeError, ValueError):
        return REDACTED


def _redacted_text(text: str) -> str:
    """A string as shown: unchanged, unless it is JSON holding a secret (then the JSON with
    the secrets redacted), or JSON too deeply nested to inspect (then hidden whole)."""
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return text
    try:
        decoded = json.loads(text)
        hidden = redact(decoded)
        if hidden == decoded:
            return text
        return json.dumps(hidden, ensure_ascii=False)
    except ValueError:
        return text
    except RecursionError:
        return REDACTED


def redacted_environment(variables: object) -> dict[str, str]:
    """Environment variables as shown, sorted by name, each through `redacted_value`."""
    if not isinstance(variables, dict):
        return {}
    return {
        str(name): redacted_value(str(name), value) for name, value in sorted(variables.items())
    }


def redacted_document(value: Any) -> Any:
    """A record (or part of one) as shown: every `environmentVariables` map through
    `redacted_environment`, and everything else through the rule at any depth."""
    try:
        return redact(_environments_redacted(value))
    except RecursionError:
        return REDACTED


def _environments_redacted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: redacted_environment(item)
            if key in ENVIRONMENT_KEYS
            else _environments_redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_environments_redacted(item) for item in value]
    return value


def redacted_json(value: Any) -> str:
    """A record (or part of one) as the pages print it: `redacted_document`, indented JSON."""
    return json.dumps(redacted_document(value), indent=2, ensure_ascii=False)

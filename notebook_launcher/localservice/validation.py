"""Checks on request bodies and query parameters, answering as OCI does.

Each check returns the normalised value (only fields OCI defines, in their wire names) or
raises a 400 error whose message names the offending field by its dotted wire path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from notebook_launcher.localservice.errors import (
    CannotParseRequestError,
    InvalidParameterError,
    MissingParameterError,
)
from notebook_launcher.localservice.ids import is_compartment_ocid, is_ocid
from notebook_launcher.oci_rules import MAX_TAG_VALUE_CHARS, MAX_TAGS, tag_problem

MAX_ENV_CHARACTERS = 20_000
MAX_ARGUMENT_CHARACTERS = 4_000
MAX_DISPLAY_NAME = 255
MAX_DESCRIPTION = 400
MAX_RUNTIME_MINUTES = 30 * 24 * 60
BLOCK_STORAGE_RANGE = (50, 10_240)
SUPPORTED_INFRASTRUCTURE = ("STANDALONE", "ME_STANDALONE")
MAX_JSON_DEPTH = 32
_MAX_SHOWN_KEY = 64

Body = dict[str, Any]
JsonPath = tuple[str | int, ...]


# --------------------------------------------------------------------------- raw input


def parse_json_body(raw: bytes) -> object:
    """A request body parsed as JSON the service can store and answer back.

    Refused with 400 InvalidParameter, naming where (never echoing the value): numbers
    that are not finite (NaN, Infinity, or a literal too large for a float), text that is
    not valid Unicode (lone UTF-16 surrogates, as JSON escapes or raw bytes), and nesting
    deeper than MAX_JSON_DEPTH. Anything else that is not JSON is CannotParseRequest.
    """
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _too_deep(()) from None
    except ValueError:
        raise CannotParseRequestError("The request body is not valid JSON.") from None
    check_storable(value)
    return value


def check_storable(value: object) -> None:
    """Raise InvalidParameter unless `value` serialises as strict JSON in UTF-8."""
    stack: list[tuple[object, JsonPath]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not is_unicode_text(item):
                raise InvalidParameterError(
                    f"{_where(path)} holds text that is not valid Unicode (a lone surrogate)."
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidParameterError(
                    f"{_where(path)} holds a number that is not a finite number"
                    " (NaN, Infinity or out of range)."
                )
        elif isinstance(item, dict | list):
            if len(path) >= MAX_JSON_DEPTH:
                raise _too_deep(path)
            if isinstance(item, list):
                stack.extend((child, (*path, index)) for index, child in enumerate(item))
                continue
            for key, child in item.items():
                if not is_unicode_text(key):
                    raise InvalidParameterError(
                        f"{_where(path)} has a key that is not valid Unicode (a lone surrogate)."
                    )
                stack.append((child, (*path, key)))


def is_unicode_text(text: str) -> bool:
    """Whether `text` encodes as UTF-8 (no lone surrogates)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_ascii_integer(text: str) -> bool:
    """Whether `text` is a plain non-negative integer: ASCII digits only (not "²" or "٣")."""
    return text.isascii() and text.isdecimal()


def small_integer(text: str, max_digits: int = 15) -> int | None:
    """`text` as a non-negative integer of at most `max_digits` ASCII digits, else None.

    Bounded so the number always fits SQLite's 64-bit integers and `int()` never meets
    Python's limit on digits.
    """
    if not is_ascii_integer(text) or len(text) > max_digits:
        return None
    return int(text)


def _too_deep(path: JsonPath) -> InvalidParameterError:
    return InvalidParameterError(
        f"{_where(path)} is nested more than {MAX_JSON_DEPTH} levels deep."
    )


def _where(path: JsonPath) -> str:
    """A dotted wire path for messages, long keys shortened."""
    if not path:
        return "The request body"
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
            continue
        shown = part if len(part) <= _MAX_SHOWN_KEY else part[:_MAX_SHOWN_KEY] + "..."
        text += f".{shown}" if text else shown
    return text


def _path(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if prefix else field


def as_object(value: object, name: str = "") -> Body:
    """The value as a JSON object, else CannotParseRequest (top level) or InvalidParameter."""
    if not isinstance(value, dict):
        if not name:
            raise CannotParseRequestError("The request body must be a JSON object.")
        raise InvalidParameterError(f"{name} must be a JSON object.")
    return value


def required(body: Mapping[str, Any], field: str, prefix: str = "") -> Any:
    value = body.get(field)
    if value is None or value == "":
        raise MissingParameterError(f"Missing parameter: {_path(prefix, field)}.")
    return value


def string(
    body: Mapping[str, Any],
    field: str,
    prefix: str = "",
    *,
    needed: bool = False,
    max_length: int = MAX_DISPLAY_NAME,
) -> str | None:
    value = required(body, field, prefix) if needed else body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameterError(f"{_path(prefix, field)} must be a string.")
    if len(value) > max_length:
        raise InvalidParameterError(
            f"{_path(prefix, field)} must be at most {max_length} characters."
        )
    return value


def ocid(
    body: Mapping[str, Any], field: str, *resource_types: str, prefix: str = "", needed: bool = True
) -> str | None:
    value = required(body, field, prefix) if needed else body.get(field)
    if value is None:
        return None
    if not is_ocid(value, *resource_types):
        raise InvalidParameterError(
            f"{_path(prefix, field)} is not a valid {' or '.join(resource_types)} OCID."
        )
    return str(value)


def compartment(body: Mapping[str, Any], field: str = "compartmentId") -> str:
    value = required(body, field)
    if not is_compartment_ocid(value):
        raise InvalidParameterError(
            f"{field} is not a valid compartment OCID (ocid1.compartment... or ocid1.tenancy...)."
        )
    return str(value)


def integer(
    body: Mapping[str, Any],
    field: str,
    prefix: str = "",
    *,
    minimum: int,
    maximum: int,
    needed: bool = False,
) -> int | None:
    value = required(body, field, prefix) if needed else body.get(field)
    if value is None:
        return None
    # The SDK sends ints; ADS's docs show a quoted number, which OCI's JSON binding accepts.
    if isinstance(value, str) and (number := small_integer(value.strip())) is not None:
        value = number
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(f"{_path(prefix, field)} must be an integer.")
    if not minimum <= value <= maximum:
        raise InvalidParameterError(
            f"{_path(prefix, field)} must be between {minimum} and {maximum}."
        )
    return value


def positive_number(body: Mapping[str, Any], field: str, prefix: str) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidParameterError(f"{_path(prefix, field)} must be a positive number.")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidParameterError(f"{_path(prefix, field)} is too large.")
    return number


def boolean(body: Mapping[str, Any], field: str, prefix: str) -> bool | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidParameterError(f"{_path(prefix, field)} must be true or false.")
    return value


def string_map(body: Mapping[str, Any], field: str, prefix: str = "") -> dict[str, str] | None:
    value = body.get(field)
    if value is None:
        return None
    name = _path(prefix, field)
    mapping = as_object(value, name)
    for key, item in mapping.items():
        if not isinstance(item, str):
            raise InvalidParameterError(f"{name}.{key} must be a string.")
    return dict(mapping)


def tags(body: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """freeformTags (string to string) and definedTags (namespace to object), within OCI's
    tag limits (notebook_launcher.oci_rules: 64 tags, keys 1-100, values up to 256)."""
    freeform = string_map(body, "freeformTags") or {}
    if len(freeform) > MAX_TAGS:
        raise InvalidParameterError(f"freeformTags must hold at most {MAX_TAGS} tags.")
    for key, value in freeform.items():
        if problem := tag_problem(key, value):
            raise InvalidParameterError(f"{_where(('freeformTags', key))}: {problem}.")
    defined_raw = body.get("definedTags")
    defined: dict[str, dict[str, Any]] = {}
    if defined_raw is not None:
        for namespace, values in as_object(defined_raw, "definedTags").items():
            defined[namespace] = dict(as_object(values, f"definedTags.{namespace}"))
            for key, value in defined[namespace].items():
                if isinstance(value, str) and len(value) > MAX_TAG_VALUE_CHARS:
                    raise InvalidParameterError(
                        f"{_where(('definedTags', namespace, key))} is longer than"
                        f" {MAX_TAG_VALUE_CHARS} characters."
                    )
    return freeform, defined


def job_configuration(value: object, prefix: str) -> Body:
    """A DEFAULT job configuration (jobConfigurationDetails or a run's override)."""
    body = as_object(value, prefix)
    job_type = required(body, "jobType", prefix)
    if job_type != "DEFAULT":
        raise InvalidParameterError(f"{prefix}.jobType must be DEFAULT.")
    result: Body = {"jobType": "DEFAULT"}
    env = string_map(body, "environmentVariables", prefix)
    if env is not None:
        size = sum(len(k) + len(v) for k, v in env.items())
        if size > MAX_ENV_CHARACTERS:
            raise InvalidParameterError(
                f"{prefix}.environmentVariables must total at most {MAX_ENV_CHARACTERS}"
                f" characters (got {size})."
            )
        result["environmentVariables"] = env
    arguments = string(body, "commandLineArguments", prefix, max_length=MAX_ARGUMENT_CHARACTERS)
    if arguments is not None:
        result["commandLineArguments"] = arguments
    runtime = integer(
        body, "maximumRuntimeInMinutes", prefix, minimum=1, maximum=MAX_RUNTIME_MINUTES
    )
    if runtime is not None:
        result["maximumRuntimeInMinutes"] = runtime
    return result


def infrastructure(value: object, prefix: str) -> Body:
    """A STANDALONE or ME_STANDALONE infrastructure configuration."""
    body = as_object(value, prefix)
    kind = required(body, "jobInfrastructureType", prefix)
    if kind not in SUPPORTED_INFRASTRUCTURE:
        raise InvalidParameterError(
            f"{prefix}.jobInfrastructureType must be one of {', '.join(SUPPORTED_INFRASTRUCTURE)}"
            " (other types are not supported by the local service)."
        )
    result: Body = {
        "jobInfrastructureType": kind,
        "shapeName": string(body, "shapeName", prefix, needed=True),
        "blockStorageSizeInGBs": integer(
            body,
            "blockStorageSizeInGBs",
            prefix,
            minimum=BLOCK_STORAGE_RANGE[0],
            maximum=BLOCK_STORAGE_RANGE[1],
            needed=True,
        ),
    }
    if kind == "STANDALONE":
        result["subnetId"] = ocid(body, "subnetId", "subnet", prefix=prefix)
    elif body.get("subnetId") is not None:
        raise InvalidParameterError(f"{prefix}.subnetId is not allowed with ME_STANDALONE.")
    shape = body.get("jobShapeConfigDetails")
    if shape is not None:
        shape_prefix = f"{prefix}.jobShapeConfigDetails"
        shape_body = as_object(shape, shape_prefix)
        result["jobShapeConfigDetails"] = {
            key: number
            for key in ("ocpus", "memoryInGBs")
            if (number := positive_number(shape_body, key, shape_prefix)) is not None
        }
    _check_shape(result, prefix)
    return result


def _check_shape(infrastructure: Body, prefix: str) -> None:
    """The shape is one ListJobShapes lists; a shape config only for a Flex shape, within
    the shape's core count and memory."""
    from notebook_launcher.localservice.datascience.shapes import BY_NAME

    name = infrastructure["shapeName"]
    shape = BY_NAME.get(name)
    if shape is None:
        raise InvalidParameterError(
            f"{prefix}.shapeName {name!r} is not a job shape of this service"
            " (ListJobShapes lists them)."
        )
    config = infrastructure.get("jobShapeConfigDetails")
    if config and not shape.flexible:
        raise InvalidParameterError(
            f"{prefix}.jobShapeConfigDetails is only allowed with a Flex shape, not {name}."
        )
    for key, bound in (("ocpus", shape.core_count), ("memoryInGBs", shape.memory_in_gbs)):
        value = (config or {}).get(key)
        if value is not None and value > bound:
            raise InvalidParameterError(
                f"{prefix}.jobShapeConfigDetails.{key} must be at most {bound} for {name}."
            )


def log_configuration(value: object, prefix: str) -> Body:
    body = as_object(value, prefix)
    result: Body = {}
    for flag in ("enableLogging", "enableAutoLogCreation"):
        if (set_flag := boolean(body, flag, prefix)) is not None:
            result[flag] = set_flag
    if (group := ocid(body, "logGroupId", "loggroup", prefix=prefix, needed=False)) is not None:
        result["logGroupId"] = group
    if (log := ocid(body, "logId", "log", prefix=prefix, needed=False)) is not None:
        result["logId"] = log
    return result


def choice(value: str | None, name: str, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise InvalidParameterError(f"{name} must be one of {', '.join(allowed)}.")
    return value

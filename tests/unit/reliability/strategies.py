"""Hypothesis strategies for hostile request bodies, shared by the unit and functional fuzzers.

Every strategy here draws bytes a caller could POST to the function: JSON of any shape,
objects with the contract's field names holding values of any type, huge and odd strings
(NULs, right-to-left marks, lone surrogates as JSON escapes), deep nesting, duplicate keys,
and bytes that are not JSON at all.
"""

from __future__ import annotations

import json
import keyword
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from notebook_launcher.function.request import RESERVED_ENV, LaunchRequest

FIELDS: tuple[str, ...] = tuple(LaunchRequest.model_fields)

# Characters that break naive code: NUL and other controls, bidi overrides, BOM, lone
# surrogates (reach the function only as JSON \u escapes), astral-plane characters.
ODD_CHARACTERS = (
    "\x00",
    "\x1b",
    "\n",
    "\u202e",
    "\u200f",
    "\u2066",
    "\ufeff",
    "\ud800",
    "\udfff",
    "\u0627",
    "\U0001f600",
    "\uff03",
    '"',
    "\\",
)

odd_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=()), st.sampled_from(ODD_CHARACTERS)),
    max_size=40,
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included: Python's json writes and reads them
    odd_text,
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(odd_text, children, max_size=4),
    ),
    max_leaves=12,
)

# Objects that use the contract's real field names, each holding a value of any type.
field_objects = st.dictionaries(
    st.one_of(st.sampled_from(FIELDS), odd_text), json_values, min_size=1, max_size=8
)


@st.composite
def encoded(draw: st.DrawFn, values: st.SearchStrategy[Any]) -> bytes:
    """A value as JSON bytes: ASCII-escaped or raw UTF-8 (surrogates then pass as-is)."""
    ensure_ascii = draw(st.booleans())
    text = json.dumps(draw(values), ensure_ascii=ensure_ascii)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def duplicate_keys(draw: st.DrawFn) -> bytes:
    """A JSON object text in which field names repeat (json.loads keeps the last)."""
    names = draw(st.lists(st.sampled_from(FIELDS), min_size=2, max_size=6))
    names.append(names[0])
    pairs = [f"{json.dumps(name)}: {json.dumps(draw(json_values))}" for name in names]
    return ("{" + ", ".join(pairs) + "}").encode()


@st.composite
def deep_nesting(draw: st.DrawFn) -> bytes:
    """Lists or objects nested up to 200,000 deep, whole or under a real field."""
    depth = draw(st.one_of(st.integers(1, 1200), st.integers(1200, 200_000)))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    nested = opener * depth + "1" + closer * depth
    where = draw(st.sampled_from(["body", "parameters", "definedTags", "environmentVariables"]))
    if where == "body":
        return nested.encode()
    if where == "definedTags":
        return ('{"noteBook": "https://x.invalid/n.ipynb", "definedTags": {"ns": {"k": '
                + nested + "}}}").encode()  # fmt: skip
    return f'{{"noteBook": "https://x.invalid/n.ipynb", "{where}": {{"a": {nested}}}}}'.encode()


@st.composite
def huge_strings(draw: st.DrawFn) -> bytes:
    """A request with one string of up to about 1 MB, as a value or as a key."""
    unit = draw(st.sampled_from(["a", "\x00", "\u202e", "é", "\U0001f600", "\\", " "]))
    size = draw(st.integers(min_value=10_000, max_value=1_000_000))
    huge = unit * size
    shape = draw(st.sampled_from(["value", "key", "parameter", "environment"]))
    body: dict[str, Any]
    if shape == "value":
        body = {draw(st.sampled_from(FIELDS)): huge}
    elif shape == "key":
        body = {huge: 1, "noteBook": "https://x.invalid/n.ipynb"}
    elif shape == "parameter":
        body = {"noteBook": "https://x.invalid/n.ipynb", "parameters": {"p": huge}}
    else:
        body = {"noteBook": "https://x.invalid/n.ipynb", "environmentVariables": {"E": huge}}
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


@st.composite
def not_json(draw: st.DrawFn) -> bytes:
    """Bytes that are not a JSON document: random, truncated JSON, or not UTF-8."""
    kind = draw(st.sampled_from(["binary", "truncated", "latin1", "trailing"]))
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=2000))
    document = json.dumps(draw(field_objects))
    if kind == "truncated":
        return document[: draw(st.integers(1, max(1, len(document) - 1)))].encode()
    if kind == "latin1":
        return b'{"noteBook": "' + draw(st.binary(min_size=1, max_size=50)) + b'\xff"}'
    return (document + draw(st.sampled_from([" x", "}", ",", " {}", "\x00"]))).encode()


# Hostile bodies of every kind above, each drawn with some weight.
hostile_bodies = st.one_of(
    encoded(json_values),
    encoded(field_objects),
    duplicate_keys(),
    deep_nesting(),
    not_json(),
)

# Hosts under .invalid never resolve (RFC 6761): a fetch of them never leaves the machine.
invalid_hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", fullmatch=True).map(
    lambda label: f"{label}.invalid"
)
url_paths = st.lists(
    st.from_regex(r"[A-Za-z0-9._~%-]{1,12}", fullmatch=True), min_size=0, max_size=3
).map("/".join)


@st.composite
def unreachable_launches(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed launch request whose notebook is an https URL that cannot be fetched."""
    body: dict[str, Any] = {
        "noteBook": f"https://{draw(invalid_hosts)}/{draw(url_paths)}.ipynb",
    }
    optional = {
        "jobName": st.from_regex(r"[A-Za-z0-9 _-]{1,40}", fullmatch=True),
        "runName": st.from_regex(r"[A-Za-z0-9 _-]{1,40}", fullmatch=True),
        "parameters": st.dictionaries(
            st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
                lambda name: not keyword.iskeyword(name)
            ),
            st.one_of(st.integers(-5, 5), st.text(max_size=10), st.booleans(), st.none()),
            max_size=3,
        ),
        "environmentVariables": st.dictionaries(
            st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True).filter(
                lambda name: name not in RESERVED_ENV
            ),
            st.text(max_size=10),
            max_size=3,
        ),
        "idempotencyKey": st.from_regex(r"[A-Za-z0-9._:-]{1,64}", fullmatch=True),
        "reuseJob": st.booleans(),
        "dryRun": st.booleans(),
        "maxRuntimeInMinutes": st.integers(1, 600),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            body[name] = draw(strategy)
    return body


def fuzz_settings(max_examples: int) -> settings:
    """Deterministic (derandomized, no example database) and without per-example deadline."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
            # Fixtures here hold a service or a before/after check meant for the whole run.
            HealthCheck.function_scoped_fixture,
        ],
    )

"""SearchLogs queries and ListLogs filters: the forms ADS and the oci CLI send.

`search "<compartment>[/<log group>[/<log>]]"`, then `where source = '<value>'` terms (`*` a
wildcard; ADS sends `'*<run OCID>'`) all joined by `and` or all by `or` (ADS's PipelineRun
joins its steps' job runs so), and `sort by datetime asc|desc`; anything else is a 400 that
says what the local service does not understand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from notebook_launcher.localservice.errors import InvalidParameterError

_SEARCH_RE = re.compile(r'\s*search\s+"(?P<stream>[^"]+)"(?P<rest>.*)', re.IGNORECASE | re.DOTALL)
_SORT_RE = re.compile(r"sort\s+by\s+datetime(?:\s+(?P<order>asc|desc))?", re.IGNORECASE)
_WHERE_RE = re.compile(r"where\s+(?P<terms>.+)", re.IGNORECASE | re.DOTALL)
_TERM_RE = re.compile(r"\(?\s*source\s*=\s*'(?P<value>[^']*)'\s*\)?", re.IGNORECASE)
_AND_RE = re.compile(r"\s+and\s+", re.IGNORECASE)
_OR_RE = re.compile(r"\s+or\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Query:
    """A parsed SearchLogs query."""

    compartment: str
    log_group: str | None
    log: str | None
    sources: tuple[str, ...]
    descending: bool
    any_source: bool = False  # terms joined by `or` (ADS's pipeline runs), else by `and`


def parse_query(text: str) -> Query:
    """The query forms ADS and the CLI send; a 400 naming what is not understood locally."""
    match = _SEARCH_RE.fullmatch(text)
    if match is None:
        raise InvalidParameterError('searchQuery must start with search "<compartment>/...".')
    stream = match.group("stream").split("/")
    if len(stream) > 3 or not stream[0]:
        raise InvalidParameterError(
            "searchQuery's stream must be <compartment>[/<log group>[/<log>]]."
        )
    sources: list[str] = []
    descending = False
    any_source = False
    for clause in [c.strip() for c in match.group("rest").split("|")][1:]:
        if sort := _SORT_RE.fullmatch(clause):
            descending = (sort.group("order") or "asc").lower() == "desc"
        elif where := _WHERE_RE.fullmatch(clause):
            terms = where.group("terms").strip()
            ored = _OR_RE.split(terms)
            any_source = len(ored) > 1
            for term in ored if any_source else _AND_RE.split(terms):
                found = _TERM_RE.fullmatch(term.strip())
                if found is None:
                    raise InvalidParameterError(
                        f"searchQuery term {term.strip()!r} is not supported by the local"
                        " service (only source = '<value>' terms joined by and, or all by or)."
                    )
                sources.append(found.group("value"))
        else:
            raise InvalidParameterError(
                f"searchQuery clause {clause!r} is not supported by the local service"
                " (where source = '...', sort by datetime asc|desc)."
            )
    if match.group("rest").strip() and not match.group("rest").strip().startswith("|"):
        raise InvalidParameterError("searchQuery: clauses must follow the stream after '|'.")
    return Query(
        compartment=stream[0],
        log_group=stream[1] if len(stream) > 1 and stream[1] else None,
        log=stream[2] if len(stream) > 2 and stream[2] else None,
        sources=tuple(sources),
        descending=descending,
        any_source=any_source,
    )


def log_matches(log: Mapping[str, Any], filters: Mapping[str, str]) -> bool:
    source = ((log.get("configuration") or {}).get("source")) or {}
    return (
        filters.get("logType") in (None, log.get("logType"))
        and filters.get("sourceService") in (None, source.get("service"))
        and filters.get("sourceResource") in (None, source.get("resource"))
    )


def source_matches(pattern: str, value: str) -> bool:
    """`*` is a wildcard in a source term (ADS sends `'*<run OCID>'`)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, re.DOTALL) is not None

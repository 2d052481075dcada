"""IAM policy templates: load them, render them with a deployment's values, and check them.

The templates in ``policies/`` hold IAM policy statements and dynamic-group matching rules with
named placeholders (``{compartment}``, ``{function_id}``, ...). Rendering refuses to leave a
placeholder unfilled, refuses values that could change a statement's meaning (a quote in a bucket
name), and checks every rendered line twice: its syntax with ``oci_lexer_parser``, then its verbs,
resource types and condition variables against the lists below, which the parser does not know.

Template format: one statement (or matching rule) per line; a line that starts with whitespace
continues the previous one; ``#`` lines are comments and document the statement that follows.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from oci_lexer_parser import parse_dynamic_group_matching_rules, parse_policy_statements

logger = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "policies"

SectionKind = Literal["statements", "matching-rules"]


class PolicyError(Exception):
    """Base of every error this module raises."""


class TemplateError(PolicyError):
    """A template file is missing or malformed."""


class MissingPlaceholderError(PolicyError):
    """One or more placeholders were left without a value."""

    def __init__(self, missing: Mapping[str, tuple[str, ...]]) -> None:
        self.missing = dict(missing)
        parts = []
        for name, where in sorted(self.missing.items()):
            spec = PLACEHOLDERS.get(name)
            how = f" (give {spec.option})" if spec else ""
            parts.append(f"{{{name}}}{how}, used in {', '.join(where)}")
        super().__init__("placeholder left unfilled: " + "; ".join(parts))


class InvalidValueError(PolicyError):
    """A value given for a placeholder does not have the shape that placeholder needs."""


class InvalidStatementError(PolicyError):
    """A rendered statement or matching rule fails the syntax or vocabulary checks."""

    def __init__(self, text: str, problems: Iterable[str]) -> None:
        self.text = text
        self.problems = tuple(problems)
        super().__init__(f"{text!r}: " + "; ".join(self.problems))


# --- Placeholders --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placeholder:
    """A named value the templates need, the command-line option that supplies it, its shape."""

    name: str
    option: str
    description: str
    pattern: re.Pattern[str]
    default: str | None = None


def _ocid(resource_type: str) -> re.Pattern[str]:
    # ocid1.<type>.<realm>.[region][.future].<unique>
    return re.compile(rf"ocid1\.{resource_type}\.[a-z0-9-]+\.[a-z0-9-]*(\.[a-z0-9-]+)?\.[a-z0-9]+")


# Compartment names: letters, digits, '.', '-', '_' (a path of them, joined with ':'). Bucket
# names: letters, digits, '-', '_', '.'. Neither can hold a quote, a brace or a space, so a value
# can never end a quoted string or open a condition.
_NAME = r"[A-Za-z0-9._-]{1,100}"
PLACEHOLDERS: dict[str, Placeholder] = {
    p.name: p
    for p in (
        Placeholder(
            "compartment",
            "--compartment",
            "name (or path A:B) of the compartment",
            re.compile(rf"{_NAME}(:{_NAME})*"),
        ),
        Placeholder(
            "compartment_id",
            "--compartment-id",
            "OCID of the compartment",
            re.compile(rf"{_ocid('compartment').pattern}|{_ocid('tenancy').pattern}"),
        ),
        Placeholder("function_id", "--function-id", "OCID of the function", _ocid("fnfunc")),
        Placeholder(
            "workspace_id",
            "--workspace-id",
            "OCID of the Data Integration workspace",
            _ocid("disworkspace"),
        ),
        Placeholder(
            "output_bucket",
            "--output-bucket",
            "bucket the job runs write their outputs to",
            re.compile(r"[A-Za-z0-9._-]{1,256}"),
        ),
        Placeholder(
            "notebook_bucket",
            "--notebook-bucket",
            "bucket the function reads oci:// notebooks from",
            re.compile(r"[A-Za-z0-9._-]{1,256}"),
        ),
        Placeholder(
            "conda_bucket",
            "--conda-bucket",
            "bucket holding published conda packs",
            re.compile(r"[A-Za-z0-9._-]{1,256}"),
        ),
        Placeholder(
            "log_group_id", "--log-group-id", "OCID of the job runs' log group", _ocid("loggroup")
        ),
        Placeholder(
            "dynamic_group",
            "--dynamic-group",
            "name of the dynamic group of job runs",
            re.compile(r"[A-Za-z0-9._-]{1,100}"),
            default="notebook-launcher-job-runs",
        ),
        Placeholder(
            "schedule_dynamic_group",
            "--schedule-dynamic-group",
            "name of the dynamic group of Data Science schedules",
            re.compile(r"[A-Za-z0-9._-]{1,100}"),
        ),
    )
}

_PLACEHOLDER_RE = re.compile(r"\{([a-z][a-z0-9_]*)\}")


def check_values(values: Mapping[str, str]) -> None:
    """Refuse unknown placeholder names and values of the wrong shape, all problems at once."""
    problems = []
    for name, value in sorted(values.items()):
        spec = PLACEHOLDERS.get(name)
        if spec is None:
            problems.append(f"unknown placeholder {{{name}}}")
        elif not spec.pattern.fullmatch(value):
            problems.append(f"{spec.option} {value!r} is not a valid {spec.description}")
    if problems:
        raise InvalidValueError("; ".join(problems))


# --- Sections and templates ----------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One template file: who it is for, and whether it holds statements or matching rules."""

    name: str
    title: str
    filename: str
    kind: SectionKind = "statements"
    fallback: bool = False
    # Optional sections are printed only when their values are given or they are asked for.
    optional: bool = False


SECTIONS: tuple[Section, ...] = (
    Section("function", "The launch function (resource principal)", "function.template"),
    Section(
        "workspace", "The Data Integration workspace (resource principal)", "workspace.template"
    ),
    Section(
        "dynamic-group",
        "Dynamic group {dynamic_group}: matching rule",
        "job-runs.dynamic-group.template",
        kind="matching-rules",
    ),
    Section("job-runs", "The job runs (dynamic group {dynamic_group})", "job-runs.template"),
    Section(
        "conda-packs",
        "Published conda packs for the job runs (dynamic group {dynamic_group})",
        "conda-packs.template",
        optional=True,
    ),
    Section(
        "schedules-dynamic-group",
        "Dynamic group {schedule_dynamic_group}: matching rule",
        "schedules.dynamic-group.template",
        kind="matching-rules",
        optional=True,
    ),
    Section(
        "schedules",
        "Data Science schedules (dynamic group {schedule_dynamic_group})",
        "schedules.template",
        optional=True,
    ),
    Section(
        "pipelines",
        "Pipeline launches: the function and the workspace on pipelines and pipeline runs",
        "pipelines.template",
    ),
    Section("subnet", "Custom subnet for job runs", "subnet.template"),
    Section(
        "fallback",
        "FALLBACK: family-level statements (replace function, workspace and job-runs)",
        "fallback.template",
        fallback=True,
    ),
)
SECTION_NAMES: tuple[str, ...] = tuple(s.name for s in SECTIONS)
# With --fallback, the fallback template stands in for these narrow sections.
REPLACED_BY_FALLBACK = frozenset({"function", "workspace", "job-runs", "conda-packs", "pipelines"})


@dataclass(frozen=True)
class TemplateEntry:
    """One statement or rule as written in a template, with the comment above it."""

    text: str
    comment: str
    line: int


@dataclass(frozen=True)
class Template:
    """A parsed template file."""

    section: Section
    path: Path
    entries: tuple[TemplateEntry, ...]

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(n for e in self.entries for n in _PLACEHOLDER_RE.findall(e.text))


def parse_template(section: Section, text: str, path: Path) -> Template:
    """Split template text into entries: continuation lines joined, comments attached.

    A comment block documents every statement after it up to the next blank line or comment.
    """
    entries: list[TemplateEntry] = []
    comment: list[str] = []
    current: list[str] = []
    start = 0
    after_statement = False

    def flush() -> None:
        nonlocal current
        if current:
            entries.append(TemplateEntry(" ".join(current), "\n".join(comment), start))
            current = []

    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            flush()
            comment, after_statement = [], False
        elif stripped.startswith("#"):
            flush()
            if after_statement:
                comment, after_statement = [], False
            comment.append(stripped.lstrip("#").strip())
        elif raw[0].isspace():
            if not current:
                raise TemplateError(f"{path.name}:{number}: continuation line with no statement")
            current.append(stripped)
        else:
            flush()
            current, start, after_statement = [stripped], number, True
    flush()
    if not entries:
        raise TemplateError(f"{path.name}: no statement in template")
    return Template(section, path, tuple(entries))


def load_template(section: Section, templates_dir: Path = TEMPLATES_DIR) -> Template:
    """Read and parse one section's template file."""
    path = templates_dir / section.filename
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise TemplateError(f"template not found: {path}") from None
    except UnicodeDecodeError:
        raise TemplateError(f"{path}: templates must be ASCII (IAM rejects other text)") from None
    return parse_template(section, text, path)


# --- Rendering -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedStatement:
    """A filled-in statement or matching rule, checked, with its explanation and origin."""

    text: str
    comment: str
    source: str


@dataclass(frozen=True)
class RenderedSection:
    """The rendered content of one section."""

    name: str
    title: str
    kind: SectionKind
    statements: tuple[RenderedStatement, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "statements": [
                {"text": s.text, "comment": s.comment, "source": s.source} for s in self.statements
            ],
        }


def _fill(text: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def select_sections(
    *, fallback: bool = False, only: Iterable[str] | None = None
) -> tuple[Section, ...]:
    """The sections to render: narrow ones by default, the fallback in their place if asked."""
    wanted = set(only) if only is not None else None
    if wanted is not None and (unknown := wanted - set(SECTION_NAMES)):
        raise PolicyError(
            f"unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTION_NAMES)}"
        )
    chosen = []
    for section in SECTIONS:
        if wanted is not None:
            if section.name in wanted:
                chosen.append(section)
        elif section.fallback == fallback or (
            fallback and section.name not in REPLACED_BY_FALLBACK
        ):
            chosen.append(section)
    return tuple(chosen)


def render(
    values: Mapping[str, str],
    *,
    fallback: bool = False,
    only: Iterable[str] | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> tuple[RenderedSection, ...]:
    """Render the chosen sections with ``values`` (defaults applied) and check every line.

    Raises MissingPlaceholderError naming every placeholder left unfilled and where it is used,
    InvalidValueError for a malformed value, InvalidStatementError for a line that fails a check.
    """
    filled = {n: p.default for n, p in PLACEHOLDERS.items() if p.default is not None}
    filled.update({k: v for k, v in values.items() if v is not None})
    check_values(filled)

    templates = []
    for section in select_sections(fallback=fallback, only=only):
        template = load_template(section, templates_dir)
        needed = template.placeholders | set(_PLACEHOLDER_RE.findall(section.title))
        if section.optional and only is None and not needed <= set(filled):
            continue
        templates.append(template)
    missing: dict[str, list[str]] = {}
    for template in templates:
        for entry in template.entries:
            for name in _PLACEHOLDER_RE.findall(entry.text):
                if name not in filled:
                    where = f"{template.path.name}:{entry.line}"
                    if where not in missing.setdefault(name, []):
                        missing[name].append(where)
    if missing:
        raise MissingPlaceholderError({k: tuple(v) for k, v in missing.items()})

    sections = []
    for template in templates:
        rendered = []
        for entry in template.entries:
            text = _fill(entry.text, filled)
            if template.section.kind == "statements":
                validate_statement(text)
            else:
                validate_matching_rule(text)
            rendered.append(
                RenderedStatement(
                    text, _fill(entry.comment, filled), f"{template.path.name}:{entry.line}"
                )
            )
        sections.append(
            RenderedSection(
                template.section.name,
                _fill(template.section.title, filled),
                template.section.kind,
                tuple(rendered),
            )
        )
    return tuple(sections)


# --- Vocabulary: what OCI documents ---------------------------------------------------------------

VERBS = frozenset({"inspect", "read", "use", "manage"})

# Resource types, by the page that documents them.
RESOURCE_TYPES: dict[str, frozenset[str]] = {
    # https://docs.oracle.com/iaas/data-science/using/policies.htm
    "data-science": frozenset(
        {
            "data-science-family",
            "data-science-projects",
            "data-science-notebook-sessions",
            "data-science-models",
            "data-science-modelversionsets",
            "data-science-model-deployments",
            "data-science-work-requests",
            "data-science-jobs",
            "data-science-job-runs",
            "data-science-pipelines",
            "data-science-pipeline-runs",
            "data-science-private-endpoint",
            "data-science-schedules",
        }
    ),
    # https://docs.oracle.com/iaas/Content/Identity/Reference/functionspolicyreference.htm
    "functions": frozenset({"functions-family", "fn-app", "fn-function", "fn-invocation"}),
    # https://docs.oracle.com/iaas/Content/Identity/Reference/objectstoragepolicyreference.htm
    "object-storage": frozenset(
        {"object-family", "objectstorage-namespaces", "buckets", "objects"}
    ),
    # https://docs.oracle.com/iaas/Content/Identity/Reference/loggingpolicyreference.htm
    "logging": frozenset({"logging-family", "log-groups", "log-content", "unified-configuration"}),
    # https://docs.oracle.com/iaas/Content/Identity/Reference/corepolicyreference.htm
    "networking": frozenset(
        {"virtual-network-family", "vcns", "subnets", "vnics", "network-security-groups"}
    ),
}
ALL_RESOURCE_TYPES = frozenset().union(*RESOURCE_TYPES.values())

# General variables for all requests:
# https://docs.oracle.com/iaas/Content/Identity/Reference/policyreference.htm (General Variables)
GENERAL_VARIABLES = frozenset(
    {
        "request.user.id",
        "request.user.name",
        "request.groups.id",
        "request.permission",
        "request.operation",
        "request.region",
        "request.ad",
        "request.networksource.name",
        "request.utc-timestamp",
        "request.utc-timestamp.month-of-year",
        "request.utc-timestamp.day-of-month",
        "request.utc-timestamp.day-of-week",
        "request.utc-timestamp.time-of-day",
        "request.principal.type",
        "request.principal.id",
        "request.principal.compartment.id",
        "target.compartment.id",
        "target.compartment.name",
    }
)
# Tag variables: the namespace and key vary, so they are matched by prefix.
GENERAL_VARIABLE_PREFIXES = (
    "target.resource.tag.",
    "target.resource.compartment.tag.",
    "request.principal.group.tag.",
    "request.principal.compartment.tag.",
)

# Service variables, and the resource types whose operations can use them.
SERVICE_VARIABLES: dict[str, frozenset[str]] = {
    # Object Storage reference (above): buckets and objects.
    "target.bucket.name": frozenset({"object-family", "buckets", "objects"}),
    "target.object.name": frozenset({"object-family", "objects"}),
    # Logging reference (above): log-groups and log-content.
    "target.loggroup.id": frozenset({"logging-family", "log-groups", "log-content"}),
    # https://docs.oracle.com/iaas/Content/Functions/Tasks/functionsrestrictinguseraccess.htm
    "target.function.id": frozenset({"functions-family", "fn-function", "fn-invocation"}),
    "target.app.id": frozenset({"functions-family", "fn-app", "fn-function", "fn-invocation"}),
}
SERVICE_VARIABLE_PREFIXES: dict[str, frozenset[str]] = {
    "target.bucket.tag.": frozenset({"object-family", "buckets", "objects"}),
}

# Values of request.principal.type for resource principals (Functions, Data Integration and
# Data Science docs on resource principals).
PRINCIPAL_TYPES = frozenset(
    {
        "fnfunc",
        "disworkspace",
        "datasciencejobrun",
        "datasciencenotebooksession",
        "datasciencemodeldeployment",
        "datasciencepipelinerun",
        # https://docs.oracle.com/en-us/iaas/Content/data-science/using/scheduler-policies.htm
        "datascienceschedule",
    }
)

# Permissions a statement may grant by name (`to {PERMISSION, ...}`), with no resource type:
# the Data Science scheduler policies page (above) documents these for schedules.
PERMISSIONS = frozenset(
    {"DATA_SCIENCE_PROJECT_READ", "DATA_SCIENCE_JOB_READ", "DATA_SCIENCE_JOB_RUN_CREATE"}
)
# Variables documented for permission statements: the schedule's target (a job) on that page.
PERMISSION_VARIABLES = frozenset({"request.principal.scheduletarget_id"})

# Dynamic-group matching rule variables:
# https://docs.oracle.com/iaas/Content/Identity/Tasks/managingdynamicgroups.htm
MATCHING_RULE_VARIABLES = frozenset(
    {
        "resource.type",
        "resource.id",
        "resource.compartment.id",
        "instance.id",
        "instance.compartment.id",
    }
)
MATCHING_RULE_RESOURCE_TYPES = PRINCIPAL_TYPES
_TAG_RULE_RE = re.compile(r"tag\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.value")
_PERMISSION_RE = re.compile(r"[A-Z][A-Z0-9_]*")
_SUBJECTS = frozenset({"any-user", "dynamic-group", "group", "service"})


# --- Checks -------------------------------------------------------------------------------------


def _clauses(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every clause of a parsed condition tree, however nested."""
    if node.get("type") == "clause":
        clause = node.get("node") or node.get("clause") or {}
        return [clause]
    out: list[dict[str, Any]] = []
    for item in node.get("items") or []:
        out.extend(_clauses(item))
    return out


def _top_level_all(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Clauses that must all hold: the node itself, or the direct clauses of a top 'all' group."""
    if node.get("type") == "clause":
        return _clauses(node)
    if node.get("mode") == "all":
        return [
            c
            for item in node.get("items") or []
            if item.get("type") == "clause"
            for c in _clauses(item)
        ]
    return []


def _variable_allowed(variable: str, resource_type: str) -> bool:
    name = variable.lower()
    if resource_type == "permissions" and name in PERMISSION_VARIABLES:
        return True
    if name in GENERAL_VARIABLES or name.startswith(GENERAL_VARIABLE_PREFIXES):
        return True
    if name in SERVICE_VARIABLES:
        return resource_type in SERVICE_VARIABLES[name]
    return any(
        name.startswith(prefix) and resource_type in types
        for prefix, types in SERVICE_VARIABLE_PREFIXES.items()
    )


def validate_statement(text: str) -> None:
    """Parse one policy statement and check its vocabulary; raise InvalidStatementError."""
    try:
        parsed = parse_policy_statements(text)
    except ValueError as exc:
        raise InvalidStatementError(text, [f"does not parse: {exc}"]) from None
    assert isinstance(parsed, dict)
    statements = parsed["statements"]
    if len(statements) != 1:
        raise InvalidStatementError(text, [f"expected one statement, parsed {len(statements)}"])
    statement = statements[0]
    problems: list[str] = []

    if statement.get("kind") != "allow":
        problems.append(f"only allow statements are expected, got {statement.get('kind')!r}")

    subject = statement.get("subject", {}).get("type")
    if subject not in _SUBJECTS:
        problems.append(f"unexpected subject {subject!r}")

    actions = statement.get("actions", {})
    verbs = actions.get("values", [])
    resources = statement.get("resources", {})
    resource_type = (resources.get("values") or ["?"])[0]
    # `to {PERMISSION, ...} in ...` parses as permissions with no resource type; a stray word
    # before a resource type (`to frobnicate jobs`) parses as permissions too: a bad verb.
    by_permission = actions.get("type") == "permissions" and resources.get("type") == "unknown"
    if by_permission:
        if bad := sorted(v.upper() for v in verbs if v.upper() not in PERMISSIONS):
            problems.append(f"undocumented permission {bad}")
        if not verbs:
            problems.append("expected permissions, got none")
        resource_type = "permissions"
    elif actions.get("type") != "verbs" or not verbs:
        problems.append(f"expected a verb ({', '.join(sorted(VERBS))}), got {verbs or 'none'}")
    elif bad := [v for v in verbs if v not in VERBS]:
        problems.append(f"unknown verb {bad}")

    if by_permission:
        pass  # a permission statement names no resource type
    elif resources.get("type") != "specific":
        problems.append(f"expected one resource type, got {resources.get('type')!r}")
    elif resource_type not in ALL_RESOURCE_TYPES:
        problems.append(f"undocumented resource type {resource_type!r}")

    conditions = statement.get("conditions")
    clauses = _clauses(conditions) if conditions else []
    for clause in clauses:
        variable = str(clause.get("lhs", "?"))
        value = (clause.get("rhs") or {}).get("value")
        if not _variable_allowed(variable, resource_type):
            problems.append(
                f"condition variable {variable!r} is not documented for {resource_type}"
            )
        if variable == "request.principal.type" and value not in PRINCIPAL_TYPES:
            problems.append(f"unknown principal type {value!r}")
        if variable == "request.permission" and not _PERMISSION_RE.fullmatch(str(value)):
            problems.append(f"malformed permission name {value!r}")

    if subject == "any-user":
        # any-user is everyone: it is only safe when the condition pins down one principal.
        required = {
            c.get("lhs")
            for c in (_top_level_all(conditions) if conditions else [])
            if c.get("op") == "eq"
        }
        if not {"request.principal.type", "request.principal.id"} <= required:
            problems.append(
                "any-user needs request.principal.type and request.principal.id conditions "
                "that must all hold"
            )

    if problems:
        raise InvalidStatementError(text, problems)


def validate_matching_rule(text: str) -> None:
    """Parse one dynamic-group matching rule and check its variables and resource types."""
    try:
        parsed = parse_dynamic_group_matching_rules(text)
    except ValueError as exc:
        raise InvalidStatementError(text, [f"does not parse: {exc}"]) from None
    assert isinstance(parsed, dict)
    rules = parsed["rules"]
    if len(rules) != 1:
        raise InvalidStatementError(text, [f"expected one matching rule, parsed {len(rules)}"])
    problems: list[str] = []
    clauses = _clauses(rules[0]["expr"])
    if not clauses:
        problems.append("matching rule has no condition")
    for clause in clauses:
        variable = str(clause.get("lhs", "?"))
        value = (clause.get("rhs") or {}).get("value")
        if variable not in MATCHING_RULE_VARIABLES and not _TAG_RULE_RE.fullmatch(variable):
            problems.append(f"undocumented matching-rule variable {variable!r}")
        if variable == "resource.type" and value not in MATCHING_RULE_RESOURCE_TYPES:
            problems.append(f"unknown resource type {value!r}")
    if problems:
        raise InvalidStatementError(text, problems)

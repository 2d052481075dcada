"""The Data Integration REST task: render its template, and play it the way Data Integration does.

``dataintegration/rest-task.json`` is a CreateTaskDetails body (modelType REST_TASK) with
``{{name}}`` placeholders. ``render_task`` fills them and refuses to leave one unfilled.

The task's conditions are written in Data Integration's expression language. This module holds a
small, real implementation of the subset the task uses (tokenizer, recursive-descent parser,
evaluator with SQL's three-valued logic), so the conditions can be checked against real GetJobRun
responses, and ``simulate`` plays the whole task: execute, extract the run id, poll while the poll
condition holds (within the poll time limit), then judge the last response by the success
condition.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from notebook_launcher.oci_facts.states import JOB_RUN_TERMINAL_STATES

logger = logging.getLogger(__name__)

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "dataintegration" / "rest-task.json"

REQUEST_BODY_PARAMETER = "REQUEST_BODY"
TERMINAL_STATES = tuple(state.value for state in JOB_RUN_TERMINAL_STATES)
# The poll conditions' "the run has not ended", spelled from the one list of terminal states.
RUN_NOT_ENDED = " AND ".join(
    f"CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.lifecycleState') AS String) != '{state}'"
    for state in TERMINAL_STATES
)
# Data Integration fails a REST task whose execute call answers with an HTTP error, before any
# polling; this is that rule, written in the task's own expression language.
EXECUTE_ACCEPTED = "SYS.RESPONSE_STATUS >= 200 AND SYS.RESPONSE_STATUS < 300"
DEFAULT_MAX_RUNTIME_MINUTES = 60
DEFAULT_PROVISIONING_MINUTES = 30
DEFAULT_POLL_INTERVAL_SECONDS = 30
_UNIT_SECONDS = {"SECONDS": 1, "MINUTES": 60, "HOURS": 3600}


class DataIntegrationError(Exception):
    """Base of every error this module raises."""


class TaskTemplateError(DataIntegrationError):
    """The task template could not be rendered: a value is missing or malformed."""


class ExpressionError(DataIntegrationError):
    """An expression does not tokenize, parse or evaluate."""


class SimulationError(DataIntegrationError):
    """simulate() was given a task or responses it cannot play."""


# ================================================================================================
# Expressions
# ================================================================================================

TokenKind = Literal["STRING", "INT", "NAME", "PARAM", "OP", "LPAREN", "RPAREN", "COMMA", "EOF"]
KEYWORDS = frozenset({"AND", "OR", "NOT", "IS", "NULL", "AS", "CAST"})
COMPARISONS = frozenset({"=", "!=", "<>", "<", ">", "<=", ">="})


@dataclass(frozen=True)
class Token:
    """One lexical token and where it starts in the expression."""

    kind: TokenKind
    value: str
    position: int


_NAME_START = re.compile(r"[A-Za-z_]")
_NAME_BODY = re.compile(r"[A-Za-z0-9_.]*")
_PARAM = re.compile(r"#\{([A-Za-z_][A-Za-z0-9_]*)\}")


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; keywords come out as upper-case NAME tokens."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            # SQL string literal: '' inside stands for one quote.
            j, chars = i + 1, []
            while True:
                if j >= len(text):
                    raise ExpressionError(f"unterminated string starting at {i}: {text!r}")
                if text[j] == "'":
                    if text.startswith("''", j):
                        chars.append("'")
                        j += 2
                        continue
                    break
                chars.append(text[j])
                j += 1
            tokens.append(Token("STRING", "".join(chars), i))
            i = j + 1
        elif ch.isdigit():
            j = i
            while j < len(text) and text[j].isdigit():
                j += 1
            tokens.append(Token("INT", text[i:j], i))
            i = j
        elif ch == "#":
            match = _PARAM.match(text, i)
            if not match:
                raise ExpressionError(f"malformed #{{NAME}} reference at {i}: {text!r}")
            tokens.append(Token("PARAM", match.group(1), i))
            i = match.end()
        elif _NAME_START.match(ch):
            match = _NAME_BODY.match(text, i + 1)
            end = match.end() if match else i + 1
            word = text[i:end]
            if word.endswith("."):
                raise ExpressionError(f"malformed name {word!r} at {i}")
            tokens.append(Token("NAME", word.upper() if word.upper() in KEYWORDS else word, i))
            i = end
        elif text.startswith(("!=", "<>", "<=", ">="), i):
            tokens.append(Token("OP", text[i : i + 2], i))
            i += 2
        elif ch in "=<>":
            tokens.append(Token("OP", ch, i))
            i += 1
        elif ch == "(":
            tokens.append(Token("LPAREN", ch, i))
            i += 1
        elif ch == ")":
            tokens.append(Token("RPAREN", ch, i))
            i += 1
        elif ch == ",":
            tokens.append(Token("COMMA", ch, i))
            i += 1
        else:
            raise ExpressionError(f"unexpected character {ch!r} at {i}: {text!r}")
    tokens.append(Token("EOF", "", len(text)))
    return tokens


# --- syntax tree ---


@dataclass(frozen=True)
class Literal_:
    """A string or integer literal, or NULL (value None)."""

    value: str | int | None


@dataclass(frozen=True)
class SysVariable:
    """SYS.RESPONSE_PAYLOAD or SYS.RESPONSE_STATUS."""

    name: str


@dataclass(frozen=True)
class ParamRef:
    """#{NAME}: a named expression or task parameter."""

    name: str


@dataclass(frozen=True)
class Call:
    """A function call; only json_path is known."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Cast:
    """CAST(expr AS type)."""

    operand: Node
    target: str


@dataclass(frozen=True)
class Compare:
    """A comparison, left op right."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class IsNull:
    """expr IS [NOT] NULL."""

    operand: Node
    negated: bool


@dataclass(frozen=True)
class BoolOp:
    """AND / OR over two or more operands."""

    op: Literal["AND", "OR"]
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """NOT expr."""

    operand: Node


Node = Literal_ | SysVariable | ParamRef | Call | Cast | Compare | IsNull | BoolOp | Not

SYS_VARIABLES = frozenset({"SYS.RESPONSE_PAYLOAD", "SYS.RESPONSE_STATUS"})
FUNCTIONS = frozenset({"JSON_PATH"})
CAST_TYPES = frozenset({"STRING", "INTEGER"})


class _Parser:
    """Recursive descent, loosest binding first: OR, AND, NOT, comparison, primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _error(self, message: str) -> ExpressionError:
        return ExpressionError(f"{message} at {self.current.position} in {self.text!r}")

    def _is_keyword(self, word: str) -> bool:
        return self.current.kind == "NAME" and self.current.value == word

    def _advance(self) -> Token:
        token = self.current
        self.index += 1
        return token

    def _expect(self, kind: TokenKind, value: str | None = None) -> Token:
        if self.current.kind != kind or (value is not None and self.current.value != value):
            raise self._error(f"expected {value or kind}, found {self.current.value or 'end'!r}")
        return self._advance()

    def parse(self) -> Node:
        node = self._or()
        if self.current.kind != "EOF":
            raise self._error(f"unexpected {self.current.value!r}")
        return node

    def _or(self) -> Node:
        operands = [self._and()]
        while self._is_keyword("OR"):
            self._advance()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else BoolOp("OR", tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while self._is_keyword("AND"):
            self._advance()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else BoolOp("AND", tuple(operands))

    def _not(self) -> Node:
        if self._is_keyword("NOT"):
            self._advance()
            return Not(self._not())
        return self._comparison()

    def _comparison(self) -> Node:
        left = self._primary()
        if self.current.kind == "OP" and self.current.value in COMPARISONS:
            op = self._advance().value
            return Compare("!=" if op == "<>" else op, left, self._primary())
        if self._is_keyword("IS"):
            self._advance()
            negated = self._is_keyword("NOT")
            if negated:
                self._advance()
            self._expect("NAME", "NULL")
            return IsNull(left, negated)
        return left

    def _primary(self) -> Node:
        token = self.current
        if token.kind == "STRING":
            self._advance()
            return Literal_(token.value)
        if token.kind == "INT":
            self._advance()
            return Literal_(int(token.value))
        if token.kind == "PARAM":
            self._advance()
            return ParamRef(token.value)
        if token.kind == "LPAREN":
            self._advance()
            node = self._or()
            self._expect("RPAREN")
            return node
        if token.kind == "NAME":
            if token.value == "NULL":
                self._advance()
                return Literal_(None)
            if token.value == "CAST":
                self._advance()
                self._expect("LPAREN")
                operand = self._or()
                self._expect("NAME", "AS")
                target = self._expect("NAME").value.upper()
                if target not in CAST_TYPES:
                    raise ExpressionError(
                        f"unknown CAST type {target!r} (known: {', '.join(sorted(CAST_TYPES))})"
                    )
                self._expect("RPAREN")
                return Cast(operand, target)
            if token.value in KEYWORDS:
                raise self._error(f"unexpected keyword {token.value}")
            self._advance()
            if self.current.kind == "LPAREN":
                return self._call(token)
            name = token.value.upper()
            if name not in SYS_VARIABLES:
                raise ExpressionError(
                    f"unknown identifier {token.value!r} "
                    f"(known: {', '.join(sorted(SYS_VARIABLES))})"
                )
            return SysVariable(name)
        raise self._error(f"unexpected {token.value or 'end of expression'!r}")

    def _call(self, name: Token) -> Node:
        function = name.value.upper()
        if function not in FUNCTIONS:
            raise ExpressionError(
                f"unknown function {name.value!r} (known: json_path, CAST) in {self.text!r}"
            )
        self._expect("LPAREN")
        args: list[Node] = []
        if self.current.kind != "RPAREN":
            args.append(self._or())
            while self.current.kind == "COMMA":
                self._advance()
                args.append(self._or())
        self._expect("RPAREN")
        if len(args) != 2:
            raise ExpressionError(f"json_path takes 2 arguments, got {len(args)}")
        return Call(function, tuple(args))


def parse_expression(text: str) -> Node:
    """Parse one expression of the supported subset into a syntax tree."""
    return _Parser(text).parse()


@dataclass(frozen=True)
class Response:
    """An HTTP response as the task sees it: status and body (JSON text)."""

    status: int
    body: str = ""

    @classmethod
    def of(cls, status: int, body: Any = "") -> Response:
        """Build from a body given as text, bytes, or a JSON-serializable object."""
        if isinstance(body, bytes):
            return cls(status, body.decode("utf-8"))
        if isinstance(body, str):
            return cls(status, body)
        return cls(status, json.dumps(body))


@dataclass(frozen=True)
class EvaluationContext:
    """What an expression can see: the response, and named values for #{NAME}."""

    response: Response
    names: Mapping[str, str | int | None] = field(default_factory=dict)


Value = str | int | bool | None | list[Any] | dict[str, Any]

_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\['([^']*)'\]")


def json_path(document: Value, path: str) -> Value:
    """The $.a.b[0]['c'] subset of JSONPath; a missing step gives NULL."""
    if not path.startswith("$"):
        raise ExpressionError(f"json_path needs a path starting with '$', got {path!r}")
    if document is None:
        return None
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    position, current = 1, document
    while position < len(path):
        step = _PATH_STEP.match(path, position)
        if not step:
            raise ExpressionError(f"unsupported json_path step at {position} in {path!r}")
        position = step.end()
        key, index, quoted = step.groups()
        if index is not None:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(current, dict) or name not in current:
                return None
            current = current[name]
    return current


def _cast(value: Value, target: str) -> Value:
    if value is None:
        return None
    if target == "STRING":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(value, separators=(",", ":"))
    # INTEGER
    if isinstance(value, bool):
        raise ExpressionError("cannot CAST a boolean AS Integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise ExpressionError(f"cannot CAST {value!r} AS Integer")


def _compare(op: str, left: Value, right: Value) -> bool | None:
    if left is None or right is None:
        return None  # unknown, as in SQL
    numbers = (
        isinstance(left, int | float)
        and isinstance(right, int | float)
        and not isinstance(left, bool)
        and not isinstance(right, bool)
    )
    if not numbers and not (isinstance(left, str) and isinstance(right, str)):
        raise ExpressionError(
            f"cannot compare {type(left).__name__} {left!r} with {type(right).__name__} {right!r}"
        )
    a: Any = left
    b: Any = right
    if op == "=":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == ">":
        return bool(a > b)
    if op == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _truth(value: Value, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ExpressionError(f"{where} needs a condition, got {value!r}")


def evaluate(node: Node, context: EvaluationContext) -> Value:
    """Evaluate a syntax tree; conditions give True, False or None (unknown)."""
    if isinstance(node, Literal_):
        return node.value
    if isinstance(node, SysVariable):
        if node.name == "SYS.RESPONSE_STATUS":
            return context.response.status
        return context.response.body
    if isinstance(node, ParamRef):
        if node.name not in context.names:
            raise ExpressionError(f"#{{{node.name}}} is not defined")
        return context.names[node.name]
    if isinstance(node, Call):
        document = evaluate(node.args[0], context)
        path = evaluate(node.args[1], context)
        if not isinstance(path, str):
            raise ExpressionError(f"json_path needs a string path, got {path!r}")
        return json_path(document, path)
    if isinstance(node, Cast):
        return _cast(evaluate(node.operand, context), node.target)
    if isinstance(node, Compare):
        return _compare(node.op, evaluate(node.left, context), evaluate(node.right, context))
    if isinstance(node, IsNull):
        is_null = evaluate(node.operand, context) is None
        return not is_null if node.negated else is_null
    if isinstance(node, Not):
        operand = _truth(evaluate(node.operand, context), "NOT")
        return None if operand is None else not operand
    # BoolOp, three-valued: AND is False if any operand is, OR is True if any operand is.
    values = [_truth(evaluate(o, context), node.op) for o in node.operands]
    decisive = node.op == "OR"
    if decisive in values:
        return decisive
    if None in values:
        return None
    return not decisive


def evaluate_expression(text: str, context: EvaluationContext) -> Value:
    """Parse and evaluate an expression."""
    return evaluate(parse_expression(text), context)


def evaluate_condition(text: str, context: EvaluationContext) -> bool:
    """Evaluate a condition; unknown (NULL) counts as false, as a WHERE clause treats it."""
    return _truth(evaluate_expression(text, context), "a condition") is True


def substitute_names(text: str, names: Mapping[str, str | int | None]) -> str:
    """Replace #{NAME} in a URL as Data Integration does; NULL becomes empty text."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            raise ExpressionError(f"#{{{name}}} is not defined")
        value = names[name]
        return "" if value is None else str(value)

    return _PARAM.sub(replace, text)


# ================================================================================================
# The task template
# ================================================================================================

_TEMPLATE_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_FUNCTION_OCID = re.compile(r"ocid1\.fnfunc\.[a-z0-9-]+\.[a-z0-9-]*(\.[a-z0-9-]+)?\.[a-z0-9]+")
_HTTPS_ORIGIN = re.compile(r"https://[A-Za-z0-9.-]+(:\d{1,5})?")
_HTTP_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?")
_REGION = re.compile(r"[a-z]{2,}-[a-z]+-\d+")
_IDENTIFIER = re.compile(r"[A-Z][A-Z0-9_]{0,254}")


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Read the task template."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskTemplateError(f"task template not found: {path}") from None
    if not isinstance(document, dict):
        raise TaskTemplateError(f"{path}: expected a JSON object")
    return document


def build_request_body(
    request: Mapping[str, Any], *, max_runtime_minutes: int = DEFAULT_MAX_RUNTIME_MINUTES
) -> str:
    """The function's request as the JSON text to bind to REQUEST_BODY.

    Serialized here, never spliced together, so quotes, backslashes and non-ASCII text in values
    stay data: the result is pure ASCII (non-ASCII escaped as \\uXXXX) and parses back to
    ``request``. It carries ``maxRuntimeInMinutes`` (set to the task's value when absent) and
    refuses a larger one, which the task's polling window would not cover.
    """
    body = dict(request)
    runtime = body.setdefault("maxRuntimeInMinutes", max_runtime_minutes)
    if not isinstance(runtime, int) or isinstance(runtime, bool) or runtime < 1:
        raise TaskTemplateError(f"maxRuntimeInMinutes must be a positive integer, got {runtime!r}")
    if runtime > max_runtime_minutes:
        raise TaskTemplateError(
            f"maxRuntimeInMinutes {runtime} exceeds the task's {max_runtime_minutes}: the task "
            "would stop polling before the run ends; render the task with a larger maximum"
        )
    return json.dumps(body, ensure_ascii=True, separators=(",", ":"))


@dataclass(frozen=True)
class TaskSettings:
    """Everything render_task needs, checked at construction."""

    function_id: str
    invoke_endpoint: str
    project_key: str
    region: str | None = None
    datascience_endpoint: str | None = None
    max_runtime_minutes: int = DEFAULT_MAX_RUNTIME_MINUTES
    provisioning_minutes: int = DEFAULT_PROVISIONING_MINUTES
    poll_interval_seconds: int = DEFAULT_POLL_INTERVAL_SECONDS
    name: str = "Launch notebook"
    identifier: str = "LAUNCH_NOTEBOOK"
    default_request: Mapping[str, Any] = field(default_factory=dict)
    allow_http: bool = False  # plain-http endpoints, for a local stand-in only

    def __post_init__(self) -> None:
        problems = []
        origin = _HTTP_ORIGIN if self.allow_http else _HTTPS_ORIGIN
        if not _FUNCTION_OCID.fullmatch(self.function_id):
            problems.append(f"function id {self.function_id!r} is not a function OCID")
        if not origin.fullmatch(self.invoke_endpoint):
            problems.append(
                f"invoke endpoint {self.invoke_endpoint!r} must be https://host[:port], no path"
            )
        if self.datascience_endpoint is None and self.region is None:
            problems.append("give a region or a Data Science endpoint")
        if self.datascience_endpoint is not None and not origin.fullmatch(
            self.datascience_endpoint
        ):
            problems.append(
                f"Data Science endpoint {self.datascience_endpoint!r} must be https://host[:port]"
            )
        if self.region is not None and not _REGION.fullmatch(self.region):
            problems.append(f"region {self.region!r} is not a region identifier")
        if not self.project_key or any(c in self.project_key for c in '"{}\\'):
            problems.append("project key must be the Data Integration project or folder key")
        if not _IDENTIFIER.fullmatch(self.identifier):
            problems.append(f"identifier {self.identifier!r} must be upper-case letters, digits, _")
        for label, value, low in (
            ("max runtime", self.max_runtime_minutes, 1),
            ("provisioning allowance", self.provisioning_minutes, 0),
            ("poll interval", self.poll_interval_seconds, 1),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                problems.append(f"{label} must be an integer >= {low}, got {value!r}")
        if problems:
            raise TaskTemplateError("; ".join(problems))

    @property
    def resolved_datascience_endpoint(self) -> str:
        if self.datascience_endpoint is not None:
            return self.datascience_endpoint
        return f"https://datascience.{self.region}.oci.oraclecloud.com"

    @property
    def poll_max_duration_minutes(self) -> int:
        # The run can spend its whole maximum runtime IN_PROGRESS, after waiting ACCEPTED while
        # its infrastructure is provisioned; polling must outlast both.
        return self.max_runtime_minutes + self.provisioning_minutes


def render_task(
    settings: TaskSettings, template: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The CreateTaskDetails body for these settings; every placeholder filled, or an error."""
    values: dict[str, str | int] = {
        "name": settings.name,
        "identifier": settings.identifier,
        "project_key": settings.project_key,
        "function_id": settings.function_id,
        "invoke_endpoint": settings.invoke_endpoint,
        "datascience_endpoint": settings.resolved_datascience_endpoint,
        "max_runtime_minutes": settings.max_runtime_minutes,
        "provisioning_minutes": settings.provisioning_minutes,
        "poll_max_duration_minutes": settings.poll_max_duration_minutes,
        "poll_interval_seconds": settings.poll_interval_seconds,
        "run_not_ended": RUN_NOT_ENDED,
        "request_body": build_request_body(
            settings.default_request, max_runtime_minutes=settings.max_runtime_minutes
        ),
    }
    document = copy.deepcopy(dict(template) if template is not None else load_template())
    missing: set[str] = set()

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: fill(v) for k, v in node.items()}
        if isinstance(node, list):
            return [fill(v) for v in node]
        if not isinstance(node, str):
            return node
        whole = _TEMPLATE_PLACEHOLDER.fullmatch(node)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]  # keeps integers integers
        for name in _TEMPLATE_PLACEHOLDER.findall(node):
            if name not in values:
                missing.add(name)
        return _TEMPLATE_PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), node)

    rendered = fill(document)
    if missing:
        raise TaskTemplateError(
            "template placeholder(s) with no value: "
            + ", ".join(f"{{{{{n}}}}}" for n in sorted(missing))
        )
    assert isinstance(rendered, dict)
    return rendered


# --- reading a rendered task -------------------------------------------------------------------


def _param_values(config: Mapping[str, Any]) -> dict[str, Any]:
    try:
        values = config["configValues"]["configParamValues"]
    except (KeyError, TypeError):
        raise SimulationError("REST call config without configValues.configParamValues") from None
    if not isinstance(values, dict):
        raise SimulationError("configParamValues is not an object")
    return values


def _config(task: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    config = task.get(key)
    if not isinstance(config, dict):
        raise SimulationError(f"task has no {key}")
    return config


def _expression_text(value: Mapping[str, Any], what: str) -> str:
    ref = value.get("refValue")
    if isinstance(ref, dict) and isinstance(ref.get("exprString"), str):
        return ref["exprString"]  # type: ignore[no-any-return]
    if isinstance(value.get("stringValue"), str):
        return value["stringValue"]  # type: ignore[no-any-return]
    raise SimulationError(f"{what} holds no expression")


def success_condition(task: Mapping[str, Any]) -> str:
    """The task's success condition, or Data Integration's default when it sets none."""
    values = (task.get("opConfigValues") or {}).get("configParamValues") or {}
    if "successCondition" not in values:
        return EXECUTE_ACCEPTED
    return _expression_text(values["successCondition"], "successCondition")


def poll_condition(task: Mapping[str, Any]) -> str:
    """The expression that keeps polling going while it holds."""
    values = _param_values(_config(task, "pollRestCallConfig"))
    return _expression_text(values["pollCondition"], "pollCondition")


def named_expressions(task: Mapping[str, Any]) -> dict[str, str]:
    """The task's typed expressions, name to expression text."""
    return {e["name"]: e["expression"] for e in task.get("typedExpressions") or []}


def _duration_seconds(values: Mapping[str, Any], amount_key: str, unit_key: str) -> float:
    amount = values[amount_key].get("objectValue")
    unit = values[unit_key].get("stringValue")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
        raise SimulationError(f"{amount_key} must be a positive number, got {amount!r}")
    if unit not in _UNIT_SECONDS:
        raise SimulationError(f"{unit_key} must be one of {sorted(_UNIT_SECONDS)}, got {unit!r}")
    return float(amount) * _UNIT_SECONDS[unit]


def poll_limits(task: Mapping[str, Any]) -> tuple[float, float]:
    """(poll interval, maximum polling duration), in seconds."""
    values = _param_values(_config(task, "pollRestCallConfig"))
    return (
        _duration_seconds(values, "pollInterval", "pollIntervalUnit"),
        _duration_seconds(values, "pollMaxDuration", "pollMaxDurationUnit"),
    )


@dataclass(frozen=True)
class HttpCall:
    """A request the task makes: method, URL and body."""

    method: str
    url: str
    body: bytes = b""


def execute_call(task: Mapping[str, Any], bindings: Mapping[str, str] | None = None) -> HttpCall:
    """The execute request exactly as Data Integration sends it, with parameter bindings.

    A payload bound to a parameter is that parameter's value (the run's binding, else the
    default), sent unchanged as UTF-8.
    """
    config = _config(task, "executeRestCallConfig")
    values = _param_values(config)
    url = values["requestURL"]["stringValue"]
    payload = values.get("requestPayload") or {}
    if "parameterValue" in payload:
        key = payload["parameterValue"]
        parameters = {p.get("key"): p for p in task.get("parameters") or []}
        if key not in parameters:
            raise SimulationError(f"requestPayload names parameter {key!r}, which the task lacks")
        text = (bindings or {}).get(key, parameters[key].get("defaultValue"))
    else:
        ref = payload.get("refValue") or {}
        text = _param_values(ref).get("dataParam", {}).get("stringValue", "")
    if not isinstance(text, str):
        raise SimulationError("request payload is not text")
    return HttpCall(config["methodType"], url, text.encode("utf-8"))


def poll_call(task: Mapping[str, Any], names: Mapping[str, str | int | None]) -> HttpCall:
    """The poll request for these named values (RUN_ID)."""
    config = _config(task, "pollRestCallConfig")
    url = _param_values(config)["requestURL"]["stringValue"]
    return HttpCall(config["methodType"], substitute_names(url, names))


def cancel_call(task: Mapping[str, Any], names: Mapping[str, str | int | None]) -> HttpCall:
    """The request Data Integration sends to stop the run when the task is stopped."""
    config = _config(task, "cancelRestCallConfig")
    url = _param_values(config)["requestURL"]["stringValue"]
    return HttpCall(config["methodType"], substitute_names(url, names))


# ================================================================================================
# Playing the task
# ================================================================================================

OutcomeStatus = Literal["SUCCESS", "FAILED"]


@dataclass(frozen=True)
class Outcome:
    """How Data Integration would end the task, and why."""

    status: OutcomeStatus
    reason: str
    run_id: str | None = None
    final_state: str | None = None
    polls: int = 0
    poll_urls: tuple[str, ...] = ()
    cancel: HttpCall | None = None


def _describe(response: Response) -> str:
    """A short account of a response body: an error's code and message, a run's state."""
    try:
        body = json.loads(response.body) if response.body else None
    except ValueError:
        return f"HTTP {response.status}, body not JSON"
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return f"HTTP {response.status}, error {error.get('code')}: {error.get('message')}"
        if "code" in body and "message" in body:
            return f"HTTP {response.status}, {body['code']}: {body['message']}"
        if "lifecycleState" in body:
            details = body.get("lifecycleDetails")
            suffix = f" ({details})" if details else ""
            return f"HTTP {response.status}, run {body['lifecycleState']}{suffix}"
    return f"HTTP {response.status}"


def _state(response: Response) -> str | None:
    value = json_path(response.body, "$.lifecycleState")
    return value if isinstance(value, str) else None


def simulate(
    task: Mapping[str, Any],
    execute_response: Response,
    poll_responses: Sequence[Response],
) -> Outcome:
    """Play the task as Data Integration does, against given responses.

    1. The execute call must be accepted (HTTP 2xx), else the task fails without polling.
    2. The named expressions (RUN_ID, FUNCTION_ERROR) are evaluated on the execute response.
       The function answers its errors 200 with ``{"error": ...}`` on a direct invoke, so the
       task's conditions require a RUN_ID and no FUNCTION_ERROR: such an answer stops polling at
       the first response and fails the task, with the function's error as the reason.
    3. Poll responses are consumed one per poll interval while the poll condition holds; when
       the maximum polling duration is used up first, the task fails (timed out) and the cancel
       call is sent.
    4. The success condition, on the last poll response, decides SUCCESS or FAILED.

    Raises SimulationError when the poll responses run out while the task would still poll.
    """
    interval, max_duration = poll_limits(task)
    max_polls = max(1, math.floor(max_duration / interval))
    accepted = EvaluationContext(execute_response)

    if not evaluate_condition(EXECUTE_ACCEPTED, accepted):
        return Outcome("FAILED", f"execute call failed: {_describe(execute_response)}")

    names: dict[str, str | int | None] = {}
    for name, expression in named_expressions(task).items():
        value = evaluate_expression(expression, EvaluationContext(execute_response, names))
        if isinstance(value, bool | list | dict):
            raise SimulationError(f"named expression {name} gave {value!r}, not a scalar")
        names[name] = value
    run_id = names.get("RUN_ID")
    run_id = run_id if isinstance(run_id, str) else None

    condition = poll_condition(task)
    urls: list[str] = []
    final: Response | None = None
    for response in poll_responses[:max_polls]:
        urls.append(poll_call(task, names).url)
        if not evaluate_condition(condition, EvaluationContext(response, names)):
            final = response
            break
    if final is None:
        if len(poll_responses) < max_polls:
            raise SimulationError(
                f"poll responses ran out after {len(poll_responses)} while the poll condition holds"
            )
        last_state = _state(poll_responses[max_polls - 1])
        return Outcome(
            "FAILED",
            f"polling timed out after {max_duration / 60:g} minutes ({max_polls} polls) with the "
            f"run still {last_state or 'unknown'}; the cancel call is sent",
            run_id,
            last_state,
            len(urls),
            tuple(urls),
            cancel_call(task, names),
        )

    state = _state(final)
    if evaluate_condition(success_condition(task), EvaluationContext(final, names)):
        return Outcome("SUCCESS", _describe(final), run_id, state, len(urls), tuple(urls))
    if json_path(execute_response.body, "$.error") is not None:
        reason = f"the function answered an error: {_describe(execute_response)}"
    else:
        reason = f"run ended unsuccessfully: {_describe(final)}"
    return Outcome(
        "FAILED",
        reason,
        run_id,
        state,
        len(urls),
        tuple(urls),
    )

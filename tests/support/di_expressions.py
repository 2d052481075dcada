"""Data Integration's expression language, the subset the REST task uses: for tests.

A small, real implementation (tokenizer, recursive-descent parser, evaluator with SQL's
three-valued logic) of what the task's conditions and named expressions are written in:
``json_path`` with ``$.a.b[0]['c']`` paths, ``CAST(... AS String|Integer)``, ``= != <> < > <= >=``,
``AND OR NOT``, ``IS [NOT] NULL``, literals, ``SYS.RESPONSE_PAYLOAD``, ``SYS.RESPONSE_STATUS`` and
``#{NAME}``. The tests evaluate the rendered task's expressions with it against real GetJobRun
and function answers; ``di_player`` plays the whole task with it. Test equipment, not product:
see the docstring of ``notebook_launcher/operator/dataintegration.py`` for why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


class ExpressionError(Exception):
    """An expression does not tokenize, parse or evaluate."""


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

"""The test-support engine of Data Integration's expression language (di_expressions)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import di_expressions as expr


def ctx(status: int = 200, body: Any = "", **names: Any) -> expr.EvaluationContext:
    return expr.EvaluationContext(expr.Response.of(status, body), names)


def test_tokenizer() -> None:
    tokens = expr.tokenize("json_path(SYS.RESPONSE_PAYLOAD, 'it''s') != #{RUN_ID} and 42 <= 7")
    assert [(t.kind, t.value) for t in tokens] == [
        ("NAME", "json_path"),
        ("LPAREN", "("),
        ("NAME", "SYS.RESPONSE_PAYLOAD"),
        ("COMMA", ","),
        ("STRING", "it's"),
        ("RPAREN", ")"),
        ("OP", "!="),
        ("PARAM", "RUN_ID"),
        ("NAME", "AND"),
        ("INT", "42"),
        ("OP", "<="),
        ("INT", "7"),
        ("EOF", ""),
    ]
    with pytest.raises(expr.ExpressionError, match="unterminated"):
        expr.tokenize("'open")
    with pytest.raises(expr.ExpressionError, match="unexpected character"):
        expr.tokenize("1 + 1")
    with pytest.raises(expr.ExpressionError, match="malformed"):
        expr.tokenize("#{not closed")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # AND binds tighter than OR
        ("1 = 1 OR 1 = 2 AND 1 = 2", True),
        ("(1 = 1 OR 1 = 2) AND 1 = 2", False),
        # NOT binds tighter than AND, looser than comparison
        ("NOT 1 = 2 AND 1 = 1", True),
        ("NOT (1 = 1 AND 1 = 2)", True),
        ("NOT NOT 1 = 1", True),
        ("1 = 2 OR NOT 1 = 2 AND 2 > 1", True),
        # comparisons
        ("3 < 4 AND 4 > 3 AND 3 <= 3 AND 3 >= 3 AND 3 != 4 AND 3 <> 4", True),
        ("'abc' < 'abd'", True),
        ("'SUCCEEDED' = 'succeeded'", False),  # case-sensitive values
        # keywords in any case
        ("sys.response_status = 200 and not sys.response_status = 500", True),
    ],
)
def test_precedence_and_comparisons(expression: str, expected: bool) -> None:
    assert expr.evaluate_expression(expression, ctx(200)) is expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing')", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x'", None),
        ("NOT json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x'", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' OR 1 = 1", True),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' OR 1 = 2", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' AND 1 = 2", False),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') = 'x' AND 1 = 1", None),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.missing') IS NULL", True),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b') IS NOT NULL", True),
        ("json_path(SYS.RESPONSE_PAYLOAD, '$.nothing') IS NOT NULL", False),
        ("CAST(NULL AS String) IS NULL", True),
        ("NULL = NULL", None),
    ],
)
def test_null_is_unknown(expression: str, expected: bool | None) -> None:
    assert (
        expr.evaluate_expression(expression, ctx(200, {"a": {"b": 1}, "nothing": None})) is expected
    )


def test_unknown_conditions_are_false() -> None:
    body = {"lifecycleState": None}
    assert not expr.evaluate_condition(
        "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.lifecycleState') AS String) != 'SUCCEEDED'",
        ctx(200, body),
    )
    assert not expr.evaluate_condition(
        "NOT CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.lifecycleState') AS String) = 'SUCCEEDED'",
        ctx(200, body),
    )


def test_json_path_subset() -> None:
    document = {"a": {"b": [10, {"c d": "deep"}]}, "n": 5, "t": True, "o": {"k": "v"}}
    c = ctx(200, document)
    assert expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b[0]')", c) == 10
    assert expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b[1][''c d'']')", c) == (
        "deep"
    )
    assert expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.a.b[7]')", c) is None
    assert expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.n.deeper')", c) is None
    assert expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$')", c) == document
    # a body that is not JSON has no values in it
    assert (
        expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$.id')", ctx(502, "<html>"))
        is None
    )
    with pytest.raises(expr.ExpressionError, match="starting with"):
        expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, 'id')", c)
    with pytest.raises(expr.ExpressionError, match="unsupported json_path step"):
        expr.evaluate_expression("json_path(SYS.RESPONSE_PAYLOAD, '$..id')", c)


def test_casts() -> None:
    c = ctx(200, {"n": 5, "t": True, "o": {"k": "v"}, "s": "12", "bad": "twelve", "f": 2.0})
    assert (
        expr.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.n') AS String)", c) == "5"
    )
    assert expr.evaluate_expression(
        "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.t') AS String)", c
    ) == ("true")
    assert expr.evaluate_expression(
        "CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.o') AS String)", c
    ) == ('{"k":"v"}')
    assert (
        expr.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.s') AS Integer)", c) == 12
    )
    assert (
        expr.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.f') AS integer)", c) == 2
    )
    assert expr.evaluate_expression("CAST(SYS.RESPONSE_STATUS AS String) = '200'", c) is True
    with pytest.raises(expr.ExpressionError, match="cannot CAST"):
        expr.evaluate_expression("CAST(json_path(SYS.RESPONSE_PAYLOAD, '$.bad') AS Integer)", c)
    with pytest.raises(expr.ExpressionError, match="unknown CAST type"):
        expr.parse_expression("CAST(SYS.RESPONSE_STATUS AS Date)")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("NVL(json_path(SYS.RESPONSE_PAYLOAD, '$.id'), 'x') = 'x'", "unknown function 'NVL'"),
        ("UPPER('a') = 'A'", "unknown function 'UPPER'"),
        ("SYS.RESPONSE_HEADERS = 1", "unknown identifier"),
        ("lifecycleState = 'SUCCEEDED'", "unknown identifier"),
        ("SYS.RESPONSE_STATUS = '200'", "cannot compare int"),
        ("#{UNDEFINED} = 'x'", "not defined"),
        ("1 = 1 1", "unexpected"),
        ("1 = 1 AND", "unexpected"),
        ("(1 = 1", "expected RPAREN"),
        ("1 AND 1 = 1", "AND needs a condition"),
        ("json_path(SYS.RESPONSE_PAYLOAD) IS NULL", "2 arguments"),
        ("SYS.RESPONSE_STATUS IS 200", "expected NULL"),
    ],
)
def test_errors(expression: str, message: str) -> None:
    with pytest.raises(expr.ExpressionError, match=message):
        expr.evaluate_expression(expression, ctx(200, {"id": "x"}))


def test_named_values_and_url_substitution() -> None:
    assert expr.evaluate_condition("#{RUN_ID} = 'r1' AND #{RUN_ID} IS NOT NULL", ctx(RUN_ID="r1"))
    assert expr.substitute_names("/jobRuns/#{RUN_ID}/x", {"RUN_ID": "r1"}) == "/jobRuns/r1/x"
    assert expr.substitute_names("/jobRuns/#{RUN_ID}", {"RUN_ID": None}) == "/jobRuns/"
    with pytest.raises(expr.ExpressionError):
        expr.substitute_names("/jobRuns/#{OTHER}", {"RUN_ID": "r1"})

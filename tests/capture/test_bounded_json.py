"""JSON with a bound on nesting depth: too deep is a JSONDecodeError with a position."""

from __future__ import annotations

import json

import pytest

from harness.capture.bounded_json import MAX_DEPTH, TooDeepError, decode_at, loads, value_end

DEEP = "[" * 100_000 + "]" * 100_000


def test_depth_up_to_the_limit_parses():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads('{"a": "[[[[[[' + "[" * 500 + '"}')["a"].startswith("[[[")  # brackets in a string


@pytest.mark.parametrize("text, line, column", [
    ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), 1, MAX_DEPTH + 1),  # past the limit, parsable
    ('{"a":\n ' + DEEP + "}", 2, MAX_DEPTH + 1),                       # past Python's recursion limit
    # three levels a step: level 101 is the second `{` of the 34th step
    ('{"k": {"b": [' * 40 + "]}}" * 40, 1, len('{"k": {"b": [') * 33 + len('{"k": {')),
])
def test_too_deep_is_a_json_decode_error_placed_where_the_limit_is_passed(text, line, column):
    with pytest.raises(json.JSONDecodeError) as info:
        loads(text)
    assert isinstance(info.value, TooDeepError)
    assert (info.value.lineno, info.value.colno) == (line, column)
    assert info.value.msg == f"nested more than {MAX_DEPTH} levels deep"


def test_decode_at_and_value_end_step_over_a_value():
    text = '[1, {"a": "]"}, ' + DEEP + ', "x"]'
    value, end = decode_at(text, 4)
    assert value == {"a": "]"} and text[end] == ","
    start = text.index("[[")
    with pytest.raises(TooDeepError):
        decode_at(text, start)
    assert text[value_end(text, start):] == ', "x"]'
    with pytest.raises(json.JSONDecodeError, match="unterminated"):
        value_end("[[[1]", 0)

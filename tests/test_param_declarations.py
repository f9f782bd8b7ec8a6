"""engine/params.py and engine/features.py exactly: coercion, bounds, wording, the older form, KEY=VALUE parsing.

Fast unit tests; the parameter mechanism end to end (CLI, plugins) is in test_params.py.
"""
from __future__ import annotations

import numpy as np
import pytest

from motifprobe import Param
from motifprobe.engine.errors import MotifprobeError
from motifprobe.engine.features import Expectation, confounded, effect, no_effect
from motifprobe.engine.params import _plain, coerce, declared_params, parse_pairs, parse_scoped_pairs, resolve


def refused(param: Param, value) -> str:
    with pytest.raises(MotifprobeError) as info:
        coerce(param, value, "test 't'")
    return str(info.value)


@pytest.mark.parametrize("value, shown", [
    (True, "true"), (False, "false"), (3, "3"), (3.0, "3"), (-2.0, "-2"), (2.5, "2.5"), (np.float64(3.5), "3.5"),
    (999999999999999.0, "999999999999999"), (1e15, "1000000000000000.0"), (1e300, "1e+300"), ("x y", "x y"),
    (None, "None"),
])
def test_plain_numbers(value, shown):
    assert _plain(value) == shown


@pytest.mark.parametrize("value, want", [
    (True, True), (False, False), ("yes", True), (" On ", True), ("1", True), ("TRUE", True),
    ("no", False), ("off", False), ("0", False), ("false", False), (1, True), (0, False), (1.0, True), (0.0, False),
])
def test_bool_coercion(value, want):
    assert coerce(Param("b", bool, False), value, "x") is want


@pytest.mark.parametrize("value", [2, -1, 0.5, "maybe", "", [1]])
def test_bool_refusals(value):
    assert refused(Param("b", bool, False), value).endswith("; allowed: true or false")


def test_int_float_str_list_and_other_types():
    assert coerce(Param("k", int, 1), " 7 ", "x") == 7 and coerce(Param("k", int, 1), np.int64(4), "x") == 4
    assert coerce(Param("k", int, 1), 5.0, "x") == 5
    for bad in (2.5, True, "1.5", [1], float("inf")):
        assert refused(Param("k", int, 1), bad).startswith("test 't': parameter k=")
    assert coerce(Param("r", float, 1.0), " 2.5 ", "x") == 2.5 and coerce(Param("r", float, 1.0), 3, "x") == 3.0
    for bad in (True, "abc", float("nan"), "-inf", [1.0]):
        assert refused(Param("r", float, 1.0), bad).endswith("allowed: a finite number")
    assert coerce(Param("s", str, ""), "hello", "x") == "hello"
    assert refused(Param("s", str, ""), 3) == "test 't': parameter s=3 is not allowed; allowed: a string"
    assert coerce(Param("l", list, []), "a, b,,c ", "x") == ["a", "b", "c"]
    assert coerce(Param("l", list, []), ("a", "b"), "x") == ["a", "b"]
    assert refused(Param("l", list, []), 3).endswith("allowed: a comma-separated list")
    assert coerce(Param("o", dict, {}), {"a": 1}, "x") == {"a": 1}  # an undeclared kind passes as given
    assert coerce(Param("k", int, 1), None, "x") is None  # None means unset


def test_bounds_and_choices():
    closed = Param("k", int, 1, low=1, high=10)
    assert coerce(closed, 1, "x") == 1 and coerce(closed, 10, "x") == 10
    assert refused(closed, 0) == "test 't': parameter k=0 is not allowed; allowed: an integer with 1 <= x <= 10"
    assert "k=11 is not allowed" in refused(closed, 11)
    opened = Param("r", float, 0.5, low=0, high=1, low_open=True, high_open=True)
    assert coerce(opened, 0.999, "x") == 0.999 and coerce(opened, 1e-9, "x") == 1e-9
    assert refused(opened, 1) == "test 't': parameter r=1 is not allowed; allowed: a finite number with 0 < x < 1"
    assert "r=0 is not allowed" in refused(opened, 0)
    upper = Param("r", float, 0.5, high=1, high_open=True)
    assert coerce(upper, 0.5, "x") == 0.5 and coerce(upper, -5, "x") == -5
    assert "r=1 is not allowed" in refused(upper, 1)
    choice = Param("m", str, "a", choices=("a", "b"))
    assert coerce(choice, "b", "x") == "b" and refused(choice, "c").endswith("allowed: one of a, b")


@pytest.mark.parametrize("param, allowed", [
    (Param("k", int, 1), "an integer"),
    (Param("r", float, 1.0), "a finite number"),
    (Param("b", bool, False), "true or false"),
    (Param("l", list, []), "a comma-separated list"),
    (Param("s", str, ""), "a string"),
    (Param("o", dict, {}), "dict"),
    (Param("s", str, "", low=1), "a string"),  # bounds are for numbers
    (Param("k", int, 1, low=1), "an integer >= 1"),
    (Param("r", float, 1.0, low=0, low_open=True), "a finite number > 0"),
    (Param("k", int, 1, high=10), "an integer <= 10"),
    (Param("r", float, 1.0, high=1, high_open=True), "a finite number < 1"),
    (Param("k", int, 1, low=1, high=10), "an integer with 1 <= x <= 10"),
    (Param("r", float, 0.5, low=0, high=1, low_open=True, high_open=True), "a finite number with 0 < x < 1"),
    (Param("r", float, 0.5, low=0.5, high=2.5), "a finite number with 0.5 <= x <= 2.5"),
    (Param("m", str, "a", choices=("a", "b")), "one of a, b"),
    (Param("n", int, 1, choices=(1, 2), low=0), "one of 1, 2"),
])
def test_allowed_in_words(param, allowed):
    assert param.allowed() == allowed


def test_describe_and_type_names():
    assert Param("m", str, "a", "mode", choices=("a", "b")).describe() == {
        "name": "m", "type": "str", "default": "a", "help": "mode", "allowed": "one of a, b", "choices": ["a", "b"]}
    assert Param("k", int, 3).describe() == {"name": "k", "type": "int", "default": 3, "help": "",
                                             "allowed": "an integer", "choices": None}
    assert [Param("x", t, None).type_name for t in (int, float, str, bool, list, dict)] == [
        "int", "float", "str", "bool", "list", "dict"]


def test_declared_params_prefers_parameters_and_reads_the_older_dict():
    new = (Param("k", int, 4),)

    class New:
        parameters = new
        param_defaults = {"ignored": 1}

    class Junk:
        parameters = ("k",)  # not Params: the older dict is read instead
        param_defaults = {"k": 2}

    class Old:
        param_defaults = {"k": 4, "alpha": 1.0, "on": False, "name": "x", "names": ["a"], "thing": None,
                          "opts": {"a": 1}}
        param_help = {"k": "k-mer length"}

    assert declared_params(New) == new
    assert declared_params(Junk) == (Param("k", int, 2, ""),)
    got = {p.name: p for p in declared_params(Old)}
    assert {n: p.type for n, p in got.items()} == {"k": int, "alpha": float, "on": bool, "name": str, "names": list,
                                                  "thing": str, "opts": str}
    assert got["k"].help == "k-mer length" and got["alpha"].help == "" and got["thing"].default is None
    assert declared_params(object()) == ()


def test_resolve_merges_defaults_and_names_unknown_keys():
    declared = (Param("max_dist", int, 10), Param("min_dist", int, 0))
    assert resolve(declared, {"max-dist": "4"}, "rule 'd'") == {"max_dist": 4, "min_dist": 0}
    assert resolve(declared, None, "rule 'd'") == {"max_dist": 10, "min_dist": 0}
    with pytest.raises(MotifprobeError) as info:
        resolve(declared, {"gap": 1, "b-c": 2}, "rule 'd'")
    assert str(info.value) == "rule 'd': unknown parameter(s) b_c, gap; valid: max_dist, min_dist"
    with pytest.raises(MotifprobeError) as info:
        resolve((), {"x": 1}, "test 't'")
    assert str(info.value) == "test 't': unknown parameter(s) x; valid: (none)"
    with pytest.raises(MotifprobeError) as info:
        resolve(declared, {"max_dist": "far"}, "rule 'd'")
    assert str(info.value) == "rule 'd': parameter max_dist=far is not allowed; allowed: an integer"


def test_parse_pairs():
    assert parse_pairs([" max-dist = 4 ", "k=a=b", "e=", "x-y-z=1"]) == {"max_dist": "4", "k": "a=b", "e": "",
                                                                        "x_y_z": "1"}
    assert parse_pairs(None) == {}
    for bad in ("novalue", "=x", " =x", "=x=y"):
        with pytest.raises(MotifprobeError) as info:
            parse_pairs([bad])
        assert str(info.value) == f"--param expects KEY=VALUE, got {bad!r}"
    with pytest.raises(MotifprobeError, match="^--model-param expects KEY=VALUE"):
        parse_pairs(["x"], "--model-param")


def test_parse_scoped_pairs():
    got = parse_scoped_pairs(["presence:fill=shuffle", " presence : x = 1", "order:k=a:b", "d:u=v=w"], "--test-param")
    assert got == {"presence": {"fill": "shuffle", "x": "1"}, "order": {"k": "a:b"}, "d": {"u": "v=w"}}
    assert parse_scoped_pairs(None, "--test-param") == {}
    for bad in ("fill=shuffle", ":k=v", "::k=v", "x=y:z", "x=y:z=1", " :k=v"):
        with pytest.raises(MotifprobeError) as info:
            parse_scoped_pairs([bad], "--test-param")
        assert str(info.value) == f"--test-param expects NAME:KEY=VALUE, got {bad!r}"
    with pytest.raises(MotifprobeError) as info:
        parse_scoped_pairs(["presence:novalue"], "--test-param")
    assert str(info.value) == "--test-param expects KEY=VALUE, got 'novalue'"


def test_expectation_helpers_default_to_no_reason_and_sign_0():
    assert effect(1) == Expectation("effect", 1, "")
    assert no_effect() == Expectation("none", 0, "") and no_effect("r") == Expectation("none", 0, "r")
    assert confounded() == Expectation("confounded", 0, "") and confounded("r") == Expectation("confounded", 0, "r")

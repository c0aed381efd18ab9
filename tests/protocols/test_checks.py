"""protocols.checks: what each check accepts, refuses, and how its message reads."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.checks import (
    check_choice,
    check_float,
    check_int,
    check_nonneg_float,
)

bounds = st.one_of(st.none(), st.integers(-1000, 1000))


@given(st.integers(-(10**30), 10**30), bounds, bounds)
def test_check_int_accepts_exactly_the_closed_range(value, low, high):
    inside = (low is None or value >= low) and (high is None or value <= high)
    if inside:
        assert check_int("k", value, low=low, high=high) == value
    else:
        with pytest.raises(ValueError, match=r"^k must be [<>]= -?\d+, got -?\d+$"):
            check_int("k", value, low=low, high=high)


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.uint64])
def test_check_int_accepts_numpy_integers(dtype):
    out = check_int("k", dtype(5), low=0)
    assert out == 5 and type(out) is int


@pytest.mark.parametrize("value", [True, np.bool_(False), 1.0, "3", None, np.float64(2)])
def test_check_int_refuses_non_integers(value):
    with pytest.raises(TypeError, match=r"^k must be an integer, got "):
        check_int("k", value)


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    finite, st.one_of(st.none(), finite), st.one_of(st.none(), finite), st.booleans(), st.booleans()
)
def test_check_float_matches_interval_membership(value, low, high, low_open, high_open):
    ok = True
    if low is not None:
        ok &= value > low if low_open else value >= low
    if high is not None:
        ok &= value < high if high_open else value <= high
    kwargs = dict(low=low, high=high, low_open=low_open, high_open=high_open)
    if ok:
        assert check_float("x", value, **kwargs) == value
    else:
        with pytest.raises(ValueError) as info:
            check_float("x", value, **kwargs)
        msg = str(info.value)
        assert msg.startswith("x must be finite and ") and "\n" not in msg


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_check_float_refuses_non_finite(value):
    with pytest.raises(ValueError, match=r"^tol must be finite and > 0, got"):
        check_float("tol", value, low=0.0, low_open=True)


def test_messages_use_interval_notation_and_plain_numbers():
    with pytest.raises(ValueError, match=r"^p must be finite and in \[0, 1\), got 1.0$"):
        check_float("p", 1.0, low=0.0, high=1.0, high_open=True)
    with pytest.raises(ValueError, match=r"^p must be finite and in \(0, 0.5\], got 0.0$"):
        check_float("p", 0.0, low=0.0, low_open=True, high=0.5)
    with pytest.raises(ValueError, match=r"^p must be finite and < 2, got 3.0$"):
        check_float("p", 3, high=2.0, high_open=True)


def test_check_float_refuses_bool_and_strings():
    for bad in (True, "1.0", None, [1.0]):
        with pytest.raises(TypeError, match=r"^x must be a real number, got "):
            check_float("x", bad)


def test_check_nonneg_float_is_check_float_from_zero():
    assert check_nonneg_float("a", 0.0) == 0.0
    with pytest.raises(ValueError, match=r"^a must be finite and > 0, got 0.0$"):
        check_nonneg_float("a", 0.0, positive=True)
    with pytest.raises(ValueError, match=r"^a must be finite and in \[0, 0.5\], got 0.6$"):
        check_nonneg_float("a", 0.6, high=0.5)


def test_check_choice():
    assert check_choice("m", "a", ["a", "b"]) == "a"
    with pytest.raises(ValueError, match=r"^m must be one of 'a', 'b'; got 'c'$"):
        check_choice("m", "c", ["a", "b"])
    with pytest.raises(ValueError):
        check_choice("m", 1, ["a", "b"])

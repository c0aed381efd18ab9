"""Argument checks for every validated public API of swarmgym.

Each check returns the value converted to a plain Python or numpy type, or raises
``TypeError`` (a wrong kind of object) or ``ValueError`` (a value out of range) with a
one-line message that names the argument and says what is allowed, so a user error
surfaces at the API boundary and never inside a compiled loop.

- integers accept Python and numpy integers and refuse ``bool``;
- floats accept any real number (numpy floats included), refuse ``bool``, NaN and
  infinities, and take ``low`` / ``high`` bounds that are closed by default and open
  with ``low_open`` / ``high_open``; a message gives the allowed set in interval
  notation, e.g. ``"step must be finite and in (0, 1], got 1.5"``.

Examples
--------
>>> check_int("n_robots", np.int64(7), low=1)
7
>>> check_float("p", 0.25, low=0.0, high=1.0, high_open=True)
0.25
>>> check_float("step", 1.5, low=0.0, low_open=True, high=1.0)
Traceback (most recent call last):
    ...
ValueError: step must be finite and in (0, 1], got 1.5
>>> check_int("rounds", True)
Traceback (most recent call last):
    ...
TypeError: rounds must be an integer, got bool
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable

import numpy as np

__all__ = [
    "ConvergenceWarning",
    "check_choice",
    "check_csr",
    "check_float",
    "check_float_array",
    "check_int",
    "check_nonneg_float",
    "check_out",
]


class ConvergenceWarning(UserWarning):
    """An iterative method stopped at ``max_iter`` before reaching ``tol``."""


def _num(x: float) -> str:
    """Format a bound the way a person writes it (``1`` not ``1.0``, ``1e-09``)."""
    if isinstance(x, numbers.Integral) or float(x).is_integer():
        return str(int(x))
    return repr(float(x))


def _allowed(low, high, low_open: bool, high_open: bool) -> str:
    """Describe the allowed set: `` and >= 0``, `` and in (0, 1]`` or ``''``."""
    if low is not None and high is not None:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        return f" and in {lo}{_num(low)}, {_num(high)}{hi}"
    if low is not None:
        return f" and {'>' if low_open else '>='} {_num(low)}"
    if high is not None:
        return f" and {'<' if high_open else '<='} {_num(high)}"
    return ""


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking type and range.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : int or numpy integer
        The value to check; booleans are refused.
    low, high : int, optional
        Inclusive bounds.

    Returns
    -------
    int
        The checked value.

    Raises
    ------
    TypeError
        ``value`` is not an integer (or is a ``bool``).
    ValueError
        ``value`` lies outside ``[low, high]``.

    Examples
    --------
    >>> check_int("k", 3, low=0, high=5)
    3
    >>> check_int("k", 9, low=0, high=5)
    Traceback (most recent call last):
        ...
    ValueError: k must be <= 5, got 9
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_float(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` after checking type and range.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : real number
        The value to check; booleans, NaN and infinities are refused.
    low, high : float, optional
        Bounds; closed unless ``low_open`` / ``high_open``.
    low_open, high_open : bool
        Make the matching bound strict.

    Returns
    -------
    float
        The checked value.

    Raises
    ------
    TypeError
        ``value`` is not a real number (or is a ``bool``).
    ValueError
        ``value`` is not finite or lies outside the allowed interval.

    Examples
    --------
    >>> check_float("tol", 1e-9, low=0.0, low_open=True)
    1e-09
    >>> check_float("tol", float("nan"), low=0.0, low_open=True)
    Traceback (most recent call last):
        ...
    ValueError: tol must be finite and > 0, got nan
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    bad = not np.isfinite(value)
    if low is not None:
        bad = bad or value < low or (low_open and value == low)
    if high is not None:
        bad = bad or value > high or (high_open and value == high)
    if bad:
        raise ValueError(
            f"{name} must be finite{_allowed(low, high, low_open, high_open)}, got {value}"
        )
    return value


def check_nonneg_float(
    name: str, value, *, positive: bool = False, high: float | None = None
) -> float:
    """Return ``value`` as a finite ``float`` >= 0 (> 0 if ``positive``), <= ``high``.

    Shorthand for :func:`check_float` with ``low=0``, the most common range.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : real number
        The value to check.
    positive : bool
        Require a strictly positive value.
    high : float, optional
        Inclusive upper bound.

    Returns
    -------
    float
        The checked value.

    Examples
    --------
    >>> check_nonneg_float("noise", 0.0)
    0.0
    >>> check_nonneg_float("fraction", 0.7, high=0.5)
    Traceback (most recent call last):
        ...
    ValueError: fraction must be finite and in [0, 0.5], got 0.7
    """
    return check_float(name, value, low=0.0, low_open=positive, high=high)


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """Return ``value`` after checking it is one of ``choices``.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : str
        The value to check.
    choices : iterable of str
        The allowed values.

    Returns
    -------
    str
        The checked value.

    Examples
    --------
    >>> check_choice("protocol", "wmsr", ("lcp", "wmsr"))
    'wmsr'
    >>> check_choice("protocol", "msr", ("lcp", "wmsr"))
    Traceback (most recent call last):
        ...
    ValueError: protocol must be one of 'lcp', 'wmsr'; got 'msr'
    """
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}"
        )
    return value


def check_float_array(
    name: str,
    value,
    *,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    finite: bool = False,
) -> np.ndarray:
    """Return ``value`` as a C-contiguous float64 array after checking its shape.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : array_like
        Real numbers.
    ndim : int, optional
        Required number of dimensions.
    shape : tuple of (int or None), optional
        Required shape; ``None`` entries match any length.
    finite : bool
        Refuse NaN and infinite entries.

    Returns
    -------
    numpy.ndarray
        float64 array (a copy only when a conversion was needed).

    Examples
    --------
    >>> check_float_array("x", [1, 2], shape=(2,))
    array([1., 2.])
    >>> check_float_array("x", [[1, 2]], shape=(None, 3))
    Traceback (most recent call last):
        ...
    ValueError: x must have shape (any, 3), got (1, 2) (axis 1 is 2, expected 3)
    """
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if shape is not None:
        for axis, (got, want) in enumerate(zip(arr.shape, shape, strict=True)):
            if want is not None and got != want:
                raise ValueError(
                    f"{name} must have shape {_fmt_shape(shape)}, got {arr.shape} "
                    f"(axis {axis} is {got}, expected {want})"
                )
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def check_csr(indptr, indices, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Check an in-edge CSR adjacency over ``n`` nodes.

    Parameters
    ----------
    indptr : array_like of int, shape (n + 1,)
        Row pointers: node ``i`` receives from ``indices[indptr[i]:indptr[i + 1]]``.
    indices : array_like of int, shape (m,)
        Sender of each in-edge, in ``[0, n)``.
    n : int
        Number of nodes.

    Returns
    -------
    indptr, indices : numpy.ndarray
        int64 arrays.

    Examples
    --------
    >>> check_csr([0, 1, 2], [1, 0], 2)
    (array([0, 1, 2]), array([1, 0]))
    """
    indptr_a = np.asarray(indptr)
    indices_a = np.asarray(indices)
    for nm, arr in (("indptr", indptr_a), ("indices", indices_a)):
        if arr.ndim != 1:
            raise ValueError(f"{nm} must be one-dimensional, got shape {arr.shape}")
        if arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"{nm} must hold integers, got dtype {arr.dtype}")
    indptr_a = np.ascontiguousarray(indptr_a, dtype=np.int64)
    indices_a = np.ascontiguousarray(indices_a, dtype=np.int64)
    if indptr_a.shape[0] != n + 1:
        raise ValueError(f"indptr must have length n + 1 = {n + 1}, got {indptr_a.shape[0]}")
    if indptr_a[0] != 0 or np.any(np.diff(indptr_a) < 0):
        raise ValueError("indptr must start at 0 and be non-decreasing")
    if indptr_a[-1] != indices_a.shape[0]:
        raise ValueError(
            f"indptr[-1] must equal len(indices) = {indices_a.shape[0]}, got {indptr_a[-1]}"
        )
    if indices_a.size and (indices_a.min() < 0 or indices_a.max() >= n):
        raise ValueError(
            f"indices must lie in [0, {n}), got range [{indices_a.min()}, {indices_a.max()}]"
        )
    return indptr_a, indices_a


def check_out(out, shape: tuple[int, ...]) -> np.ndarray:
    """Check a caller-provided output buffer, or allocate one if ``out`` is None.

    Parameters
    ----------
    out : numpy.ndarray or None
        float64, C-contiguous, of ``shape``.
    shape : tuple of int
        Required shape.

    Returns
    -------
    numpy.ndarray
        The buffer to write into.

    Examples
    --------
    >>> check_out(None, (2, 3)).shape
    (2, 3)
    """
    if out is None:
        return np.empty(shape, dtype=np.float64)
    if not isinstance(out, np.ndarray) or out.dtype != np.float64:
        raise TypeError("out must be a float64 numpy array")
    if out.shape != shape or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"out must be a writeable C-contiguous array of shape {shape}")
    return out


def _fmt_shape(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"

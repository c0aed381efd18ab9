"""Argument checks shared by the validated Python APIs of the kernels.

Every check raises ``ValueError`` (or ``TypeError`` for a wrong kind of object) whose
message names the argument and the allowed range, so errors surface at the API
boundary and never inside a compiled loop.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "ConvergenceWarning",
    "check_csr",
    "check_float_array",
    "check_int",
    "check_nonneg_float",
    "check_out",
]


class ConvergenceWarning(UserWarning):
    """An iterative method stopped at ``max_iter`` before reaching ``tol``."""


def check_int(name: str, value, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` after checking type and range.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : int-like
        The value to check; booleans are refused.
    low, high : int, optional
        Inclusive bounds.

    Returns
    -------
    int
        The checked value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if low is not None and value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be <= {high}, got {value}")
    return value


def check_nonneg_float(name: str, value, *, positive: bool = False) -> float:
    """Return ``value`` as a finite ``float`` that is >= 0 (or > 0 if ``positive``).

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : float-like
        The value to check.
    positive : bool
        Require a strictly positive value.

    Returns
    -------
    float
        The checked value.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value}")
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
        raise ValueError(f"indices must lie in [0, {n}), got range "
                         f"[{indices_a.min()}, {indices_a.max()}]")
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

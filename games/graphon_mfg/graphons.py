"""Graphons: the built-in families, custom kernels and their block matrices.

Examples
--------
>>> from games.graphon_mfg.graphons import GRAPHON_FAMILIES, make_graphon
>>> make_graphon("constant", p=0.3)
Graphon('constant', p=0.3)
>>> sorted(GRAPHON_FAMILIES)[:3]
['constant', 'exponential', 'ranked_attachment']
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from protocols.checks import check_float_array

__all__ = ["GRAPHON_FAMILIES", "Graphon", "make_graphon"]

#: Built-in graphon families and their parameters (with defaults).
GRAPHON_FAMILIES: dict[str, dict[str, object]] = {
    "constant": {"p": 0.5},
    "uniform_attachment": {},
    "ranked_attachment": {},
    "threshold": {"c": 1.0},
    "exponential": {"decay": 3.0},
    "sbm": {"sizes": (0.5, 0.5), "probs": ((0.8, 0.2), (0.2, 0.8))},
}


class Graphon:
    """A built-in graphon family ``W(u, v)``, callable on arrays (picklable).

    Families (see :data:`GRAPHON_FAMILIES`):

    - ``constant``: ``p`` (Erdos-Renyi);
    - ``uniform_attachment``: ``1 - max(u, v)``;
    - ``ranked_attachment``: ``1 - u v``;
    - ``threshold``: ``1`` if ``u + v <= c`` else ``0``;
    - ``exponential``: ``exp(-decay |u - v|)``;
    - ``sbm``: stochastic block model, communities of relative ``sizes`` (consecutive
      label intervals) linked with probabilities ``probs`` (symmetric matrix).

    Parameters
    ----------
    name : str
        Family name.
    **params
        Family parameters; unknown ones are an error.
    """

    def __init__(self, name: str, **params):
        if name not in GRAPHON_FAMILIES:
            raise ValueError(
                f"graphon must be one of {', '.join(GRAPHON_FAMILIES)} "
                f"or a callable W(u, v), got {name!r}"
            )
        allowed = GRAPHON_FAMILIES[name]
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise TypeError(
                f"graphon {name!r} has no parameter {unknown[0]!r}; "
                f"allowed: {', '.join(allowed) or '(none)'}"
            )
        self.name = name
        self.params = {**allowed, **params}
        if name == "constant":
            p = self.params["p"]
            if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
                raise ValueError(f"graphon 'constant': p must lie in [0, 1], got {p!r}")
        elif name == "threshold":
            c = self.params["c"]
            if not isinstance(c, numbers.Real) or not 0 <= c <= 2:
                raise ValueError(f"graphon 'threshold': c must lie in [0, 2], got {c!r}")
        elif name == "exponential":
            d = self.params["decay"]
            if not isinstance(d, numbers.Real) or not d >= 0:
                raise ValueError(f"graphon 'exponential': decay must be >= 0, got {d!r}")
        elif name == "sbm":
            sizes = check_float_array("sbm sizes", self.params["sizes"], ndim=1, finite=True)
            probs = check_float_array(
                "sbm probs",
                self.params["probs"],
                shape=(sizes.shape[0], sizes.shape[0]),
                finite=True,
            )
            if np.any(sizes <= 0):
                raise ValueError("graphon 'sbm': sizes must be > 0")
            if np.any(probs < 0) or np.any(probs > 1) or not np.allclose(probs, probs.T):
                raise ValueError("graphon 'sbm': probs must be a symmetric matrix in [0, 1]")
            self._edges = np.cumsum(sizes)[:-1] / sizes.sum()
            self._probs = probs

    def __call__(self, u, v) -> np.ndarray:
        """Evaluate ``W(u, v)`` elementwise (broadcasting)."""
        u, v = np.broadcast_arrays(np.asarray(u, dtype=float), np.asarray(v, dtype=float))
        name = self.name
        if name == "constant":
            return np.full(u.shape, float(self.params["p"]))
        if name == "uniform_attachment":
            return 1.0 - np.maximum(u, v)
        if name == "ranked_attachment":
            return 1.0 - u * v
        if name == "threshold":
            return (u + v <= self.params["c"]).astype(float)
        if name == "exponential":
            return np.exp(-float(self.params["decay"]) * np.abs(u - v))
        bu = np.searchsorted(self._edges, u, side="right")
        bv = np.searchsorted(self._edges, v, side="right")
        return self._probs[bu, bv]

    def __repr__(self) -> str:
        extra = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Graphon({self.name!r}{', ' if extra else ''}{extra})"


def make_graphon(graphon, **params) -> Callable:
    """Return a graphon callable from a family name (with parameters) or a callable.

    Parameters
    ----------
    graphon : str or callable
        A name of :data:`GRAPHON_FAMILIES` or a function ``W(u, v)`` on arrays.
    **params
        Family parameters (only with a name).

    Returns
    -------
    callable
        ``W(u, v)``, elementwise on arrays.
    """
    if isinstance(graphon, str):
        return Graphon(graphon, **params)
    if callable(graphon):
        if params:
            raise TypeError("graphon parameters are only accepted with a family name")
        return graphon
    raise TypeError(f"graphon must be a family name or a callable, got {type(graphon).__name__}")

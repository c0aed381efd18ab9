"""Kernels for linear-quadratic graphon mean-field games.

Scalar states. Every player follows an affine feedback policy ``a = K(t) x + k(t)``;
``K`` is shared, ``k`` is one row per block of labels (or per player). Time runs on the
uniform grid ``t_k = k dt``; functions of time are arrays of node values and are taken
linear between nodes (the midpoint value of a step is the mean of its two nodes).

- :func:`policy_moments`: means and variance of the state under a policy (forward RK4).
- :func:`policy_value`: coefficients ``P, s, c`` of the value ``1/2 P x^2 + s x + c`` of a
  policy, or of the best response, against a frozen aggregate (backward RK4).
- :func:`graph_means`: means of an N-player population coupled through a CSR graph.
- :func:`graphon_step`: one Euler-Maruyama round of the N-player game for every player.
- :func:`interpolated_policy`: affine actions with intercepts interpolated over blocks.
- :func:`sampled_regression`: simulate paths with their pathwise adjoints and fit the
  per-time policy-gradient coefficients by least squares.

The Python functions (:mod:`protocols.graphon.api`) validate their arguments and call
the ``@njit(cache=True)`` kernels (:mod:`protocols.graphon.kernels`), which do no
checking. Random numbers are drawn by the caller. Every public name of both modules is
importable from :mod:`protocols.graphon`.

Examples
--------
Two blocks under the constant action ``a = 1`` (``K = 0``, ``k = 1``) with ``A = Abar =
0``, ``B = 1``: the means move at unit speed and the variance grows as ``sigma^2 t``.

>>> import numpy as np
>>> from protocols.graphon import policy_moments, policy_value
>>> n, dt = 10, 0.1
>>> K, k, Z = np.zeros(n + 1), np.ones((2, n + 1)), np.zeros((2, n + 1))
>>> mu, var = policy_moments(0.0, 1.0, 0.0, 0.5, K, k, Z, np.array([0.0, 1.0]), 0.0, dt)
>>> mu[:, -1], round(float(var[-1]), 12)
(array([1., 2.]), 0.25)
>>> P, s, c = policy_value(0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, K, k, Z, dt,
...                        optimal=True)               # best response: P = tanh(T - t)
>>> bool(np.allclose(P, np.tanh(1.0 - dt * np.arange(n + 1)), atol=1e-5))
True
"""

from protocols.graphon.api import (
    graph_means,
    graphon_step,
    interpolated_policy,
    policy_moments,
    policy_value,
    sampled_regression,
)
from protocols.graphon.kernels import Costs, Dynamics, Graph, Profile

__all__ = [
    "Costs",
    "Dynamics",
    "Graph",
    "Profile",
    "graph_means",
    "graphon_step",
    "interpolated_policy",
    "policy_moments",
    "policy_value",
    "sampled_regression",
]

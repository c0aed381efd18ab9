"""Validated Python API of the LQ graphon mean-field game kernels.

Each function checks its arguments, packs them into the NamedTuples of
:mod:`protocols.graphon.kernels` and calls the matching ``@njit`` kernel. Everything here
is re-exported by :mod:`protocols.graphon`.

Examples
--------
One player with no neighbours and ``A = 0``: its mean stays where it started.

>>> import numpy as np
>>> from protocols.graphon.api import graph_means
>>> m, z = graph_means([0, 0], [], 1.0, 0.0, 1.0, 0.0, np.zeros(3), np.zeros((1, 3)),
...                    [2.0], 0.1)
>>> m
array([[2., 2., 2.]])
"""

from __future__ import annotations

import numpy as np

from protocols.checks import (
    check_csr,
    check_float,
    check_float_array,
    check_int,
    check_nonneg_float,
    check_out,
)
from protocols.graphon.kernels import (
    Costs,
    Dynamics,
    Graph,
    Profile,
    _graph_means_kernel,
    _graphon_step_kernel,
    _interpolated_policy_kernel,
    _policy_moments_kernel,
    _policy_value_kernel,
    _sampled_regression_kernel,
)

__all__ = [
    "graph_means",
    "graphon_step",
    "interpolated_policy",
    "policy_moments",
    "policy_value",
    "sampled_regression",
]


def _coefs(**kw):
    out = {}
    for name, v in kw.items():
        out[name] = check_float(name, v)
    return out


def _profile(K, k, Z, n_rows=None):
    K = check_float_array("K", K, ndim=1, finite=True)
    n1 = K.shape[0]
    if n1 < 2:
        raise ValueError(f"K must have at least 2 time nodes, got {n1}")
    k = check_float_array("k", k, shape=(n_rows, n1), finite=True)
    Z = check_float_array("Z", Z, shape=(k.shape[0], n1), finite=True)
    return K, k, Z


def policy_moments(A, B, Abar, sigma, K, k, Z, m0, var0, dt):
    """Means and variance of the state under the affine policy ``a = K x + k``.

    Solves ``mu' = (A + B K) mu + B k + Abar Z`` and ``var' = 2 (A + B K) var + sigma^2``
    forward with RK4 on the grid.

    Parameters
    ----------
    A, B, Abar, sigma : float
        Dynamics ``dX = (A X + B a + Abar Z) dt + sigma dW``.
    K : array_like, shape (n + 1,)
        Shared slope at the time nodes.
    k : array_like, shape (M, n + 1)
        Intercept of each block at the time nodes.
    Z : array_like, shape (M, n + 1)
        Frozen aggregate of each block.
    m0 : array_like, shape (M,)
        Initial means.
    var0 : float
        Initial variance (>= 0).
    dt : float
        Time step (> 0).

    Returns
    -------
    mu : numpy.ndarray, shape (M, n + 1)
    var : numpy.ndarray, shape (n + 1,)
    """
    c = _coefs(A=A, B=B, Abar=Abar)
    sigma = check_nonneg_float("sigma", sigma)
    K, k, Z = _profile(K, k, Z)
    m0 = check_float_array("m0", m0, shape=(k.shape[0],), finite=True)
    var0 = check_nonneg_float("var0", var0)
    dt = check_nonneg_float("dt", dt, positive=True)
    mu = np.empty_like(k)
    var = np.empty_like(K)
    _policy_moments_kernel(
        Dynamics(c["A"], c["B"], c["Abar"], sigma), Profile(K, k, Z), m0, var0, dt, mu, var
    )
    return mu, var


def policy_value(A, B, Abar, Q, R, G, H, Hbar, sigma, K, k, Z, dt, *, optimal=False):
    """Value coefficients of a policy (or of the best response) against a frozen aggregate.

    The cost-to-go from state ``x`` at node ``t`` is ``1/2 P x^2 + s x + c`` for the running
    cost ``1/2 (Q (x - H Z)^2 + R a^2)`` and terminal cost ``1/2 G (x_T - Hbar Z_T)^2``.

    Parameters
    ----------
    A, B, Abar, Q, R, G, H, Hbar, sigma : float
        Model coefficients (``R > 0``).
    K : array_like, shape (n + 1,)
        Shared slope (ignored when ``optimal``).
    k : array_like, shape (M, n + 1)
        Intercepts (ignored when ``optimal``).
    Z : array_like, shape (M, n + 1)
        Frozen aggregate.
    dt : float
        Time step.
    optimal : bool
        Return the best response's value: ``K = -(B/R) P`` and ``k = -(B/R) s``.

    Returns
    -------
    P : numpy.ndarray, shape (n + 1,)
    s, c : numpy.ndarray, shape (M, n + 1)
    """
    co = _coefs(A=A, B=B, Abar=Abar, Q=Q, G=G, H=H, Hbar=Hbar)
    R = check_nonneg_float("R", R, positive=True)
    sigma = check_nonneg_float("sigma", sigma)
    K, k, Z = _profile(K, k, Z)
    dt = check_nonneg_float("dt", dt, positive=True)
    P = np.empty_like(K)
    s = np.empty_like(Z)
    c = np.empty_like(Z)
    _policy_value_kernel(
        Dynamics(co["A"], co["B"], co["Abar"], sigma),
        Costs(co["Q"], R, co["G"], co["H"], co["Hbar"]),
        Profile(K, k, Z),
        dt,
        bool(optimal),
        (P, s, c),
    )
    return P, s, c


def graph_means(indptr, indices, scale, A, B, Abar, K, k, m0, dt):
    """Means of N players coupled through a graph, each with policy ``a = K x + k_i``.

    Solves ``m_i' = (A + B K) m_i + B k_i + Abar z_i`` with
    ``z_i = scale * sum_{j in N(i)} m_j`` (RK4 on the grid).

    Parameters
    ----------
    indptr, indices : array_like of int
        CSR adjacency over the N players.
    scale : float
        Aggregate normalisation (``1 / N`` for a dense graphon sample).
    A, B, Abar : float
        Dynamics.
    K : array_like, shape (n + 1,)
    k : array_like, shape (N, n + 1)
    m0 : array_like, shape (N,)
    dt : float

    Returns
    -------
    m, z : numpy.ndarray, shape (N, n + 1)
        Means and neighbourhood aggregates of the means.
    """
    c = _coefs(A=A, B=B, Abar=Abar)
    K = check_float_array("K", K, ndim=1, finite=True)
    k = check_float_array("k", k, shape=(None, K.shape[0]), finite=True)
    n = k.shape[0]
    indptr, indices = check_csr(indptr, indices, n)
    scale = check_nonneg_float("scale", scale)
    m0 = check_float_array("m0", m0, shape=(n,), finite=True)
    dt = check_nonneg_float("dt", dt, positive=True)
    m = np.empty_like(k)
    z = np.empty_like(k)
    _graph_means_kernel(
        Graph(indptr, indices, scale), Dynamics(c["A"], c["B"], c["Abar"], 0.0), K, k, m0, dt, m, z
    )
    return m, z


def graphon_step(
    x,
    a,
    z,
    indptr,
    indices,
    scale,
    A,
    B,
    Abar,
    Q,
    R,
    H,
    sigma,
    dt,
    noise,
    *,
    bound=np.inf,
    x_out=None,
    z_out=None,
    reward_out=None,
    check=True,
):
    """One Euler-Maruyama round of the N-player graph game, all players at once.

    Actions are first clipped into ``[-bound, bound]`` (NaN counts as 0); then
    ``reward_i = -1/2 (Q (x_i - H z_i)^2 + R a_i^2) dt``;
    ``x_i <- x_i + (A x_i + B a_i + Abar z_i) dt + sigma sqrt(dt) noise_i``; then
    ``z_i <- scale * sum_{j in N(i)} x_j`` on the new states.

    Parameters
    ----------
    x, a, z, noise : array_like, shape (N,)
        States, actions, current aggregates and standard normal draws.
    indptr, indices : array_like of int
        CSR adjacency.
    scale : float
        Aggregate normalisation.
    A, B, Abar, Q, R, H, sigma, dt : float
        Model coefficients and time step.
    bound : float
        Action bound (> 0, default unbounded).
    x_out, z_out, reward_out : numpy.ndarray, optional
        Output buffers (float64, shape (N,)); ``x_out`` must not be ``x``.
    check : bool
        Validate every argument (default). ``False`` skips the checks for a caller that
        validated the graph and buffers once and steps them many times (an environment's
        batched mode); every array must then already be float64 / int64, C-contiguous
        and of the right shape, and all three output buffers given.

    Returns
    -------
    x_new, z_new, reward : numpy.ndarray, shape (N,)
    """
    if not check:
        _graphon_step_kernel(
            (x, a, z, noise),
            Graph(indptr, indices, float(scale)),
            Dynamics(float(A), float(B), float(Abar), float(sigma)),
            Costs(float(Q), float(R), 0.0, float(H), 0.0),
            float(dt),
            float(bound),
            (x_out, z_out, reward_out),
        )
        return x_out, z_out, reward_out
    x = check_float_array("x", x, ndim=1, finite=True)
    n = x.shape[0]
    a = check_float_array("a", a, shape=(n,))
    bound = check_nonneg_float("bound", bound, positive=True) if np.isfinite(bound) else np.inf
    z = check_float_array("z", z, shape=(n,), finite=True)
    noise = check_float_array("noise", noise, shape=(n,), finite=True)
    indptr, indices = check_csr(indptr, indices, n)
    co = _coefs(A=A, B=B, Abar=Abar, Q=Q, R=R, H=H)
    sigma = check_nonneg_float("sigma", sigma)
    scale = check_nonneg_float("scale", scale)
    dt = check_nonneg_float("dt", dt, positive=True)
    x_out = check_out(x_out, (n,))
    z_out = check_out(z_out, (n,))
    reward_out = check_out(reward_out, (n,))
    if np.shares_memory(x_out, x):
        raise ValueError("x_out must not share memory with x")
    _graphon_step_kernel(
        (x, a, z, noise),
        Graph(indptr, indices, scale),
        Dynamics(co["A"], co["B"], co["Abar"], sigma),
        Costs(co["Q"], co["R"], 0.0, co["H"], 0.0),
        dt,
        float(bound),
        (x_out, z_out, reward_out),
    )
    return x_out, z_out, reward_out


def interpolated_policy(K, column, left, weight, x, *, out=None, check=True):
    """Affine actions ``K x_i + k_i`` with intercepts interpolated between blocks.

    ``k_i = (1 - weight_i) column[left_i] + weight_i column[left_i + 1]``.

    Parameters
    ----------
    K : float
        Slope now.
    column : array_like, shape (M,)
        Block intercepts now.
    left : array_like of int, shape (N,)
        Left block of each player, in ``[0, M)``; ``left_i + 1 < M`` where
        ``weight_i > 0``.
    weight : array_like, shape (N,)
        Interpolation weights in [0, 1].
    x : array_like, shape (N,)
        States.
    out : numpy.ndarray, optional
        Output buffer.
    check : bool
        Validate the arguments (``False``: already float64 / int64 and well formed).

    Returns
    -------
    numpy.ndarray, shape (N,)
    """
    if check:
        K = _coefs(K=K)["K"]
        column = check_float_array("column", column, ndim=1, finite=True)
        x = check_float_array("x", x, ndim=1)
        n = x.shape[0]
        weight = check_float_array("weight", weight, shape=(n,), finite=True)
        left = np.ascontiguousarray(left, dtype=np.int64)
        m = column.shape[0]
        if left.shape != (n,) or (n and (left.min() < 0 or left.max() >= m)):
            raise ValueError(f"left must have shape ({n},) with entries in [0, {m})")
        if np.any((weight < 0) | (weight > 1)) or np.any((weight > 0) & (left + 1 >= m)):
            raise ValueError("weight must lie in [0, 1] and be 0 where left is the last block")
        out = check_out(out, (n,))
    elif out is None:
        out = np.empty_like(x)
    _interpolated_policy_kernel(K, column, left, weight, x, out)
    return out


def sampled_regression(A, B, Abar, Q, R, G, H, Hbar, sigma, K, k, Z, dt, x0, noise):
    """Policy-gradient coefficients estimated from simulated trajectories.

    Simulates ``x0.shape[1]`` Euler-Maruyama paths per block under ``a = K x + k`` against
    the frozen aggregate ``Z``, runs the pathwise adjoint ``lam`` backward (the exact
    derivative of the discretised path cost) and, at every time node, fits
    ``R a_t + B lam_{t+1} ~ coef_K x_t + coef_k[block]`` by least squares with a shared
    slope. The derivative of the expected cost with respect to the action at ``(t, x)``
    is ``dt (R a + B E[lam_{t+1} | x_t])``, so ``coef_K`` estimates ``R K + B P_K`` and
    ``coef_k`` estimates ``R k + B s_K``: both vanish at the best response.

    Parameters
    ----------
    A, B, Abar, Q, R, G, H, Hbar, sigma : float
        Model coefficients.
    K : array_like, shape (n + 1,)
    k, Z : array_like, shape (M, n + 1)
    dt : float
    x0 : array_like, shape (M, n_paths)
        Initial states.
    noise : array_like, shape (M, n_paths, n)
        Standard normal increments.

    Returns
    -------
    coef_K : numpy.ndarray, shape (n + 1,)
    coef_k : numpy.ndarray, shape (M, n + 1)
        The last node repeats the one before (no action is taken at ``T``).
    """
    co = _coefs(A=A, B=B, Abar=Abar, Q=Q, G=G, H=H, Hbar=Hbar)
    R = check_nonneg_float("R", R, positive=True)
    sigma = check_nonneg_float("sigma", sigma)
    K, k, Z = _profile(K, k, Z)
    dt = check_nonneg_float("dt", dt, positive=True)
    x0 = check_float_array("x0", x0, shape=(k.shape[0], None), finite=True)
    check_int("n_paths", x0.shape[1], low=2)
    noise = check_float_array(
        "noise", noise, shape=(k.shape[0], x0.shape[1], K.shape[0] - 1), finite=True
    )
    coef_K = np.empty_like(K)
    coef_k = np.empty_like(k)
    _sampled_regression_kernel(
        Dynamics(co["A"], co["B"], co["Abar"], sigma),
        Costs(co["Q"], R, co["G"], co["H"], co["Hbar"]),
        Profile(K, k, Z),
        dt,
        x0,
        noise,
        coef_K,
        coef_k,
    )
    return coef_K, coef_k

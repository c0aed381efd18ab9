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

The Python functions validate their arguments and call the ``@njit(cache=True)``
kernels, which do no checking. Random numbers are drawn by the caller.

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

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from protocols.checks import (
    check_csr,
    check_float,
    check_float_array,
    check_int,
    check_nonneg_float,
    check_out,
)

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


class Dynamics(NamedTuple):
    """Coefficients of ``dX = (A X + B a + Abar Z) dt + sigma dW`` (floats)."""

    A: float
    B: float
    Abar: float
    sigma: float


class Costs(NamedTuple):
    """Cost weights: running ``1/2 (Q (x - H Z)^2 + R a^2)``, terminal ``1/2 G (x - Hbar Z)^2``."""

    Q: float
    R: float
    G: float
    H: float
    Hbar: float


class Profile(NamedTuple):
    """A policy profile and the aggregate it plays against (arrays, read only).

    Attributes
    ----------
    K : numpy.ndarray, shape (n + 1,)
        Shared slope at the time nodes.
    k : numpy.ndarray, shape (M, n + 1)
        Intercepts, one row per block (or player).
    Z : numpy.ndarray, shape (M, n + 1)
        Frozen aggregate.
    """

    K: np.ndarray
    k: np.ndarray
    Z: np.ndarray


class Graph(NamedTuple):
    """A CSR adjacency and the aggregate normalisation (read only).

    Attributes
    ----------
    indptr : numpy.ndarray of int64, shape (N + 1,)
    indices : numpy.ndarray of int64, shape (n_edges,)
    scale : float
        ``z_i = scale * sum_{j in N(i)} x_j``.
    """

    indptr: np.ndarray
    indices: np.ndarray
    scale: float


# --------------------------------------------------------------------------- moments
@njit(cache=True)
def _moments_rhs(dyn, node, mu, var, dmu):
    """Right-hand side of the mean and variance ODEs at one time.

    ``node = (Kt, kt, Zt)``: slope (float), intercepts and aggregate (M,) (read);
    ``mu`` (M,) and ``var`` (float) the state; ``dmu`` (M,) is written with the mean
    derivatives and the variance derivative is returned.
    """
    A, B, Abar, sigma = dyn.A, dyn.B, dyn.Abar, dyn.sigma
    Kt, kt, Zt = node
    a = A + B * Kt
    for j in range(mu.shape[0]):
        dmu[j] = a * mu[j] + B * kt[j] + Abar * Zt[j]
    return 2.0 * a * var + sigma * sigma


@njit(cache=True)
def _policy_moments_kernel(dyn, prof, m0, var0, dt, mu, var):
    """Forward RK4 of the means and variance under ``prof``.

    ``dyn`` (Dynamics), ``prof`` (Profile: K (n+1,), k and Z (M, n+1)), ``m0`` (M,),
    ``var0`` and ``dt`` are read; ``mu`` (M, n+1) and ``var`` (n+1,) are written.
    """
    K, k, Z = prof.K, prof.k, prof.Z
    nb, n1 = k.shape
    km = np.empty(nb)
    Zm = np.empty(nb)
    k1 = np.empty(nb)
    k2 = np.empty(nb)
    k3 = np.empty(nb)
    k4 = np.empty(nb)
    tmp = np.empty(nb)
    for j in range(nb):
        mu[j, 0] = m0[j]
    var[0] = var0
    for n in range(n1 - 1):
        Km = 0.5 * (K[n] + K[n + 1])
        for j in range(nb):
            km[j] = 0.5 * (k[j, n] + k[j, n + 1])
            Zm[j] = 0.5 * (Z[j, n] + Z[j, n + 1])
        v = var[n]
        v1 = _moments_rhs(dyn, (K[n], k[:, n], Z[:, n]), mu[:, n], v, k1)
        for j in range(nb):
            tmp[j] = mu[j, n] + 0.5 * dt * k1[j]
        v2 = _moments_rhs(dyn, (Km, km, Zm), tmp, v + 0.5 * dt * v1, k2)
        for j in range(nb):
            tmp[j] = mu[j, n] + 0.5 * dt * k2[j]
        v3 = _moments_rhs(dyn, (Km, km, Zm), tmp, v + 0.5 * dt * v2, k3)
        for j in range(nb):
            tmp[j] = mu[j, n] + dt * k3[j]
        v4 = _moments_rhs(dyn, (K[n + 1], k[:, n + 1], Z[:, n + 1]), tmp, v + dt * v3, k4)
        for j in range(nb):
            mu[j, n + 1] = mu[j, n] + dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j])
        var[n + 1] = v + dt / 6.0 * (v1 + 2.0 * v2 + 2.0 * v3 + v4)


# ----------------------------------------------------------------------------- value
@njit(cache=True)
def _value_rhs(dyn, cost, optimal, node, P, s, ds, dc):
    """Backward-time derivatives (minus d/dt) of P, s and c at one time.

    ``node = (Kt, kt, Zt)``: slope (float), intercepts and aggregate (M,) (read; the
    policy is replaced by the best response when ``optimal``); ``P`` (float) and ``s``
    (M,) the state. ``ds`` and ``dc`` (M,) are written; the derivative of ``P`` is
    returned.
    """
    A, B, Abar, sigma = dyn.A, dyn.B, dyn.Abar, dyn.sigma
    Q, R, H = cost.Q, cost.R, cost.H
    Kt, kt, Zt = node
    if optimal:
        Kt = -B / R * P
    a = A + B * Kt
    for j in range(s.shape[0]):
        kj = -B / R * s[j] if optimal else kt[j]
        ds[j] = a * s[j] + P * (B * kj + Abar * Zt[j]) + R * Kt * kj - Q * H * Zt[j]
        dc[j] = (
            s[j] * (B * kj + Abar * Zt[j])
            + 0.5 * sigma * sigma * P
            + 0.5 * Q * H * H * Zt[j] * Zt[j]
            + 0.5 * R * kj * kj
        )
    return 2.0 * a * P + Q + R * Kt * Kt


@njit(cache=True)
def _policy_value_kernel(dyn, cost, prof, dt, optimal, out):
    """Backward RK4 of the value coefficients of ``prof`` (or of the best response).

    ``dyn``, ``cost``, ``prof`` (K (n+1,), k and Z (M, n+1)), ``dt`` and ``optimal`` are
    read; ``out = (P (n+1,), s (M, n+1), c (M, n+1))`` is written.
    """
    G, Hbar = cost.G, cost.Hbar
    K, k, Z = prof.K, prof.k, prof.Z
    P, s, c = out
    nb, n1 = Z.shape
    last = n1 - 1
    km = np.empty(nb)
    Zm = np.empty(nb)
    s1 = np.empty(nb)
    s2 = np.empty(nb)
    s3 = np.empty(nb)
    s4 = np.empty(nb)
    c1 = np.empty(nb)
    c2 = np.empty(nb)
    c3 = np.empty(nb)
    c4 = np.empty(nb)
    tmp = np.empty(nb)
    P[last] = G
    for j in range(nb):
        s[j, last] = -G * Hbar * Z[j, last]
        c[j, last] = 0.5 * G * Hbar * Hbar * Z[j, last] * Z[j, last]
    for n in range(last, 0, -1):
        Km = 0.5 * (K[n] + K[n - 1])
        for j in range(nb):
            km[j] = 0.5 * (k[j, n] + k[j, n - 1])
            Zm[j] = 0.5 * (Z[j, n] + Z[j, n - 1])
        p = P[n]
        p1 = _value_rhs(dyn, cost, optimal, (K[n], k[:, n], Z[:, n]), p, s[:, n], s1, c1)
        for j in range(nb):
            tmp[j] = s[j, n] + 0.5 * dt * s1[j]
        p2 = _value_rhs(dyn, cost, optimal, (Km, km, Zm), p + 0.5 * dt * p1, tmp, s2, c2)
        for j in range(nb):
            tmp[j] = s[j, n] + 0.5 * dt * s2[j]
        p3 = _value_rhs(dyn, cost, optimal, (Km, km, Zm), p + 0.5 * dt * p2, tmp, s3, c3)
        for j in range(nb):
            tmp[j] = s[j, n] + dt * s3[j]
        p4 = _value_rhs(
            dyn, cost, optimal, (K[n - 1], k[:, n - 1], Z[:, n - 1]), p + dt * p3, tmp, s4, c4
        )
        P[n - 1] = p + dt / 6.0 * (p1 + 2.0 * p2 + 2.0 * p3 + p4)
        for j in range(nb):
            s[j, n - 1] = s[j, n] + dt / 6.0 * (s1[j] + 2.0 * s2[j] + 2.0 * s3[j] + s4[j])
            c[j, n - 1] = c[j, n] + dt / 6.0 * (c1[j] + 2.0 * c2[j] + 2.0 * c3[j] + c4[j])


# ------------------------------------------------------------------- N-player graph
@njit(cache=True)
def _graph_aggregate(graph, x, out):
    """``out[i] = scale * sum_{j in N(i)} x[j]``; ``x`` (N,) read, ``out`` (N,) written."""
    indptr, indices, scale = graph.indptr, graph.indices, graph.scale
    for i in range(indptr.shape[0] - 1):
        acc = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            acc += x[indices[e]]
        out[i] = scale * acc


@njit(cache=True)
def _graph_means_kernel(graph, dyn, K, k, m0, dt, m, z):
    """RK4 of the N players' means coupled through ``graph``.

    ``K`` (n+1,), ``k`` (N, n+1), ``m0`` (N,) and ``dt`` are read; ``m`` and ``z``
    (N, n+1) are written (means and their neighbourhood aggregates).
    """
    A, B, Abar = dyn.A, dyn.B, dyn.Abar
    n, n1 = k.shape
    d1 = np.empty(n)
    d2 = np.empty(n)
    d3 = np.empty(n)
    d4 = np.empty(n)
    tmp = np.empty(n)
    zt = np.empty(n)
    for i in range(n):
        m[i, 0] = m0[i]
    for t in range(n1 - 1):
        Km = 0.5 * (K[t] + K[t + 1])
        _graph_aggregate(graph, m[:, t], zt)
        for i in range(n):
            z[i, t] = zt[i]
            d1[i] = (A + B * K[t]) * m[i, t] + B * k[i, t] + Abar * zt[i]
            tmp[i] = m[i, t] + 0.5 * dt * d1[i]
        _graph_aggregate(graph, tmp, zt)
        for i in range(n):
            d2[i] = (A + B * Km) * tmp[i] + B * 0.5 * (k[i, t] + k[i, t + 1]) + Abar * zt[i]
        for i in range(n):
            tmp[i] = m[i, t] + 0.5 * dt * d2[i]
        _graph_aggregate(graph, tmp, zt)
        for i in range(n):
            d3[i] = (A + B * Km) * tmp[i] + B * 0.5 * (k[i, t] + k[i, t + 1]) + Abar * zt[i]
        for i in range(n):
            tmp[i] = m[i, t] + dt * d3[i]
        _graph_aggregate(graph, tmp, zt)
        for i in range(n):
            d4[i] = (A + B * K[t + 1]) * tmp[i] + B * k[i, t + 1] + Abar * zt[i]
            m[i, t + 1] = m[i, t] + dt / 6.0 * (d1[i] + 2.0 * d2[i] + 2.0 * d3[i] + d4[i])
    _graph_aggregate(graph, m[:, n1 - 1], zt)
    for i in range(n):
        z[i, n1 - 1] = zt[i]


@njit(cache=True)
def _graphon_step_kernel(state, graph, dyn, cost, dt, bound, out):
    """One Euler-Maruyama round of every player (see :func:`graphon_step`).

    ``state = (x, a, z, noise)``, each (N,), and ``graph``, ``dyn``, ``cost`` (``Q``,
    ``R``, ``H``), ``dt``, ``bound`` are read; ``out = (x_out, z_out, reward_out)``, each
    (N,), is written.
    """
    x, a, z, noise = state
    x_out, z_out, reward_out = out
    A, B, Abar, sigma = dyn.A, dyn.B, dyn.Abar, dyn.sigma
    Q, R, H = cost.Q, cost.R, cost.H
    n = x.shape[0]
    sq = sigma * np.sqrt(dt)
    for i in range(n):
        ai = a[i]
        if ai != ai:
            ai = 0.0
        elif ai > bound:
            ai = bound
        elif ai < -bound:
            ai = -bound
        dev = x[i] - H * z[i]
        reward_out[i] = -0.5 * (Q * dev * dev + R * ai * ai) * dt
        x_out[i] = x[i] + (A * x[i] + B * ai + Abar * z[i]) * dt + sq * noise[i]
    _graph_aggregate(graph, x_out, z_out)


@njit(cache=True)
def _interpolated_policy_kernel(K, col, left, weight, x, out):
    """``out[i] = K x[i] + interpolated intercept`` (see :func:`interpolated_policy`).

    ``col`` (M,), ``left`` (N,) int64, ``weight`` (N,) and ``x`` (N,) are read; ``out``
    (N,) is written.
    """
    for i in range(x.shape[0]):
        j = left[i]
        w = weight[i]
        kj = col[j] if w == 0.0 else (1.0 - w) * col[j] + w * col[j + 1]
        out[i] = K * x[i] + kj


# ------------------------------------------------------------------ sampled gradient
@njit(cache=True)
def _sampled_regression_kernel(dyn, cost, prof, dt, x0, noise, coef_K, coef_k):
    """Simulate paths, run their pathwise adjoints and fit the per-time least squares.

    ``dyn``, ``cost``, ``prof`` (K (n+1,), k and Z (M, n+1)), ``dt``, ``x0``
    (M, n_paths) and ``noise`` (M, n_paths, n) are read; ``coef_K`` (n+1,) and
    ``coef_k`` (M, n+1) are written (see :func:`sampled_regression`).
    """
    A, B, Abar, sigma = dyn.A, dyn.B, dyn.Abar, dyn.sigma
    Q, R, G, H, Hbar = cost.Q, cost.R, cost.G, cost.H, cost.Hbar
    K, k, Z = prof.K, prof.k, prof.Z
    nb, npath = x0.shape
    n1 = K.shape[0]
    x = np.empty((nb, npath, n1))
    lam = np.empty((nb, npath))
    sq = sigma * np.sqrt(dt)
    for j in range(nb):
        for p in range(npath):
            x[j, p, 0] = x0[j, p]
            for t in range(n1 - 1):
                a = K[t] * x[j, p, t] + k[j, t]
                x[j, p, t + 1] = (
                    x[j, p, t]
                    + (A * x[j, p, t] + B * a + Abar * Z[j, t]) * dt
                    + sq * noise[j, p, t]
                )
            lam[j, p] = G * (x[j, p, n1 - 1] - Hbar * Z[j, n1 - 1])
    ybar = np.empty(nb)
    xbar = np.empty(nb)
    for t in range(n1 - 2, -1, -1):
        # y = d cost / d a_t divided by dt; regress on [x_t, 1] with one intercept per block
        sxy = 0.0
        sxx = 0.0
        for j in range(nb):
            sy = 0.0
            sx = 0.0
            for p in range(npath):
                a = K[t] * x[j, p, t] + k[j, t]
                sy += R * a + B * lam[j, p]
                sx += x[j, p, t]
            ybar[j] = sy / npath
            xbar[j] = sx / npath
            for p in range(npath):
                a = K[t] * x[j, p, t] + k[j, t]
                dx = x[j, p, t] - xbar[j]
                sxy += dx * (R * a + B * lam[j, p] - ybar[j])
                sxx += dx * dx
        ck = sxy / sxx if sxx > 0.0 else 0.0
        coef_K[t] = ck
        for j in range(nb):
            coef_k[j, t] = ybar[j] - ck * xbar[j]
        # discrete adjoint of the Euler scheme: lam_t from lam_{t+1}
        for j in range(nb):
            for p in range(npath):
                xt = x[j, p, t]
                a = K[t] * xt + k[j, t]
                lam[j, p] = lam[j, p] + dt * (
                    (A + B * K[t]) * lam[j, p] + Q * (xt - H * Z[j, t]) + R * K[t] * a
                )
    coef_K[n1 - 1] = coef_K[n1 - 2]
    for j in range(nb):
        coef_k[j, n1 - 1] = coef_k[j, n1 - 2]


# ------------------------------------------------------------------------ Python API
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

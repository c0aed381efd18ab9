"""Numba kernels of the LQ graphon mean-field game and the NamedTuples they read.

The kernels do no checking: call them through the validated functions of
:mod:`protocols.graphon.api` (re-exported by :mod:`protocols.graphon`). Each docstring
states the shapes it reads and the arrays it writes.

Examples
--------
>>> from protocols.graphon.kernels import Dynamics
>>> Dynamics(A=0.0, B=1.0, Abar=0.5, sigma=0.2).B
1.0
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = ["Costs", "Dynamics", "Graph", "Profile"]


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

"""The N-player game on a graph sampled from the graphon, and its exploitability.

Examples
--------
>>> from games.graphon_mfg import LQGraphonMFG
>>> from games.graphon_mfg.n_player import n_player_exploitability
>>> game = LQGraphonMFG(A=0.0, B=1.0, Abar=0.5, Q=1.0, R=1.0, G=0.0, H=0.0, Hbar=0.0,
...                     sigma=0.1, T=1.0, graphon="exponential", m0=1.0,
...                     n_blocks=4, n_steps=20)
>>> result = n_player_exploitability(game, 8, seed=0)   # graphon policy on 8 players
>>> result.gains.shape, bool(result.max_gain < 1e-3)
((8,), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from games.graphon_mfg.graphons import (
    make_graphon,
)
from games.graphon_mfg.scalar import (
    LQGraphonMFG,
)
from protocols.checks import check_int, check_nonneg_float
from protocols.graphon import graph_means, policy_value

__all__ = ["NPlayerExploitability", "n_player_exploitability", "sample_graphon_graph"]


def sample_graphon_graph(
    graphon, n_players: int, *, rng: np.random.Generator, mean_degree: float | None = None
):
    """Sample an undirected graph on ``n_players`` labelled players from a graphon.

    Player ``i`` has label ``u_i = (i + 1/2) / N``. Dense sampling (``mean_degree`` None)
    links ``i != j`` with probability ``W(u_i, u_j)`` and normalises aggregates by ``1/N``.
    Sparse sampling links with probability ``min(1, rho W(u_i, u_j))`` with
    ``rho = mean_degree / N`` and normalises by ``1 / (rho N)``, so aggregates have the
    same limit; it never forms the N x N matrix.

    Parameters
    ----------
    graphon : str or callable
        As for :class:`LQGraphonMFG`.
    n_players : int
        ``N`` (>= 1).
    rng : numpy.random.Generator
        Source of randomness.
    mean_degree : float, optional
        Target scale of the degrees (> 0) for sparse sampling.

    Returns
    -------
    labels : numpy.ndarray, shape (N,)
    indptr, indices : numpy.ndarray of int64
        Symmetric CSR adjacency without self-loops, sorted neighbour lists.
    scale : float
        Aggregate normalisation: ``z_i = scale * sum_{j ~ i} x_j``.
    """
    W = make_graphon(graphon)
    n = check_int("n_players", n_players, low=1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError("rng must be a numpy.random.Generator")
    labels = (np.arange(n) + 0.5) / n
    if mean_degree is None:
        rho = 1.0
    else:
        rho = min(1.0, check_nonneg_float("mean_degree", mean_degree, positive=True) / n)
    if rho >= 1.0:
        if n > 8000:
            raise ValueError(
                f"dense sampling of n_players = {n} > 8000 would need an N x N "
                "matrix; pass mean_degree for sparse sampling"
            )
        iu, ju = np.triu_indices(n, k=1)
        p = np.clip(W(labels[iu], labels[ju]), 0.0, 1.0)
        keep = rng.random(iu.shape[0]) < p
        src, dst = iu[keep], ju[keep]
    else:
        # candidate ordered pairs with probability rho, then thinning by W
        total = n * n
        count = rng.binomial(total, rho)
        cand = rng.choice(total, size=count, replace=False)
        i, j = np.divmod(cand, n)
        upper = i < j
        i, j = i[upper], j[upper]
        p = np.clip(W(labels[i], labels[j]), 0.0, 1.0)
        keep = rng.random(i.shape[0]) < p
        src, dst = i[keep], j[keep]
    rows = np.concatenate((src, dst))
    cols = np.concatenate((dst, src))
    order = np.lexsort((cols, rows))
    rows, cols = rows[order], cols[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return labels, indptr, cols.astype(np.int64), 1.0 / (rho * n)


@dataclass(frozen=True)
class NPlayerExploitability:
    """Exploitability of the graphon equilibrium policy in a sampled N-player game.

    Attributes
    ----------
    gains : numpy.ndarray, shape (N,)
        ``J_i(equilibrium policy) - J_i(best response)`` for each player.
    max_gain, mean_gain : float
        Their maximum and mean.
    labels : numpy.ndarray, shape (N,)
    """

    gains: np.ndarray
    max_gain: float
    mean_gain: float
    labels: np.ndarray


def n_player_exploitability(
    game: LQGraphonMFG,
    n_players: int,
    *,
    seed: int = 0,
    mean_degree: float | None = None,
    interpolation: str = "linear",
) -> NPlayerExploitability:
    """How much players of a sampled N-player game gain by leaving the graphon equilibrium.

    Every player ``i`` plays the graphon equilibrium policy ``a = K(t) x + k(u_i, t)``
    (intercepts per ``interpolation``, see :meth:`GraphonEquilibrium.intercepts_at`).
    The players' means are solved on the sampled graph (RK4 on the game's grid,
    O(dt^2)); each player's gain is its expected
    cost minus the cost of its best response against its realised neighbourhood
    aggregate ``z_i(t) = scale * sum_{j ~ i} E[X_j(t)]``. The best response treats
    ``z_i`` as given: a deviating player's own O(1/N) effect on its neighbours' means and
    the noise correlation between ``X_i`` and ``z_i`` (both vanish as N grows) are left
    out. Costs of both policies use the same grid, so the gains are differences of
    consistently discretised costs.

    Parameters
    ----------
    game : LQGraphonMFG
        The graphon game.
    n_players : int
        ``N`` (>= 1).
    seed : int
        Seed of the graph sample.
    mean_degree : float, optional
        Sparse sampling (see :func:`sample_graphon_graph`).
    interpolation : {"linear", "block"}
        How players' intercepts are read off the block equilibrium.

    Returns
    -------
    NPlayerExploitability
    """
    eq = game.equilibrium()
    rng = np.random.default_rng(check_int("seed", seed, low=0))
    labels, indptr, indices, scale = sample_graphon_graph(
        game.graphon, n_players, rng=rng, mean_degree=mean_degree
    )
    k = eq.intercepts_at(labels, interpolation)
    m0 = game.m0_at(labels)
    _, z = graph_means(indptr, indices, scale, game.A, game.B, game.Abar, eq.slope, k, m0, game.dt)
    args = (game.A, game.B, game.Abar, game.Q, game.R, game.G, game.H, game.Hbar, game.sigma)
    P, s, c = policy_value(*args, eq.slope, k, z, game.dt)
    Pb, sb, cb = policy_value(*args, eq.slope, k, z, game.dt, optimal=True)
    second = m0**2 + game.var0
    j_pol = 0.5 * P[0] * second + s[:, 0] * m0 + c[:, 0]
    j_br = 0.5 * Pb[0] * second + sb[:, 0] * m0 + cb[:, 0]
    gains = j_pol - j_br
    return NPlayerExploitability(
        gains=gains, max_gain=float(gains.max()), mean_gain=float(gains.mean()), labels=labels
    )

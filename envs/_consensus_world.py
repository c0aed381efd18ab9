"""The swarm behind ``byzantine_consensus_v0`` and its batched form.

One :class:`ConsensusWorld` holds a swarm's graph, values and attack state. Everything
random is drawn in :meth:`ConsensusWorld.reset` from the generator it is given, so an
environment seeded the same way draws the same swarm, alone or inside a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np

from protocols.checks import check_int, check_nonneg_float
from protocols.dbp import DynamicBlocklist
from protocols.wmsr import message_sources
from swarm.attacks import ATTACKS, AttackContext, make_attack
from swarm.topology import csr_from_edges, robust_geometric_edges

__all__ = ["ConsensusConfig", "ConsensusWorld"]

ROLES = ("attacker", "defender")
PROTOCOLS = ("wmsr", "lcp", "dbp")


@dataclass(frozen=True)
class ConsensusConfig:
    """Checked constructor arguments shared by the consensus environments.

    The defaults here are the only ones: :class:`envs.byzantine_consensus_v0.raw_env`
    and the batched forms take theirs from this class. ``hull_penalty`` weighs a
    defender's distance outside the honest hull against its distance to the mean (10:
    leaving the hull, which W-MSR never does, costs far more than slow agreement).
    """

    n_robots: int = 20
    n_byzantine: int = 2
    role: str = "attacker"
    protocol: str = "wmsr"
    f: int | None = None
    attack: str = "two_faced"
    radio_range: float = 0.3
    message_bound: float = 2.0
    tol: float = 1e-3
    max_cycles: int = 100
    hull_penalty: float = 10.0

    def __post_init__(self):
        check_int("n_robots", self.n_robots, low=2)
        check_int("n_byzantine", self.n_byzantine, low=0, high=self.n_robots - 1)
        r = 2 * self.n_byzantine + 1
        if self.n_robots < 2 * r - 1:
            raise ValueError(
                f"n_robots must be >= 4 * n_byzantine + 1 = {2 * r - 1} for the "
                f"(2F+1)-robust graph, got {self.n_robots}"
            )
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, got {self.role!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.f is not None:
            check_int("f", self.f, low=0)
        if self.attack not in ATTACKS:
            raise ValueError(f"attack must be one of {tuple(ATTACKS)}, got {self.attack!r}")
        check_nonneg_float("radio_range", self.radio_range, positive=True)
        check_nonneg_float("message_bound", self.message_bound)
        check_nonneg_float("tol", self.tol, positive=True)
        check_int("max_cycles", self.max_cycles, low=1)
        check_nonneg_float("hull_penalty", self.hull_penalty)

    @property
    def trim(self) -> int:
        """The W-MSR parameter the honest robots use (0 for LCP and DBP)."""
        if self.protocol in ("lcp", "dbp"):
            return 0
        return self.n_byzantine if self.f is None else self.f

    @property
    def n_honest(self) -> int:
        """Number of honest robots."""
        return self.n_robots - self.n_byzantine

    @property
    def obs_clip(self) -> float:
        """Observations are in hull widths, clipped to ``[-obs_clip, 1 + obs_clip]``."""
        return self.message_bound + 1.0


class ConsensusWorld:
    """A swarm of robots; the last ``n_byzantine`` robot ids are the Byzantine ones.

    Values are reported in *hull units*: ``(x - lo) / width`` with ``[lo, hi]`` the
    interval of honest initial values, so the honest hull is [0, 1] in every episode.

    Parameters
    ----------
    config : ConsensusConfig
        Checked arguments.
    """

    def __init__(self, config: ConsensusConfig):
        self.config = config
        n, nb = config.n_robots, config.n_byzantine
        self.byzantine = np.zeros(n, dtype=bool)
        self.byzantine[n - nb :] = True
        self.honest = ~self.byzantine

    def reset(self, rng: np.random.Generator) -> None:
        """Draw a new graph (robust by construction, robots relabelled at random) and values.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of every random draw of the episode.
        """
        c = self.config
        n = c.n_robots
        edges, pts = robust_geometric_edges(n, 2 * c.n_byzantine + 1, c.radio_range, rng)
        perm = rng.permutation(n)
        self.edges = perm[edges]
        self.positions = np.empty_like(pts)
        self.positions[perm] = pts
        self._graph = None
        self.indptr, self.indices = csr_from_edges(n, self.edges)
        self.values = rng.uniform(0.0, 1.0, n)
        h = self.values[self.honest]
        self.lo, self.hi = float(h.min()), float(h.max())
        self.width = self.hi - self.lo if self.hi > self.lo else 1.0
        self.receivers = np.repeat(np.arange(n), np.diff(self.indptr))
        self.sources = message_sources(self.indptr, self.indices, c.n_honest)
        self.ctx = AttackContext(
            self.indptr, self.indices, self.byzantine, self.values.copy(), c.trim
        )
        self.byz_sender = self.indices[self.ctx.edge_index] - (n - c.n_byzantine)
        self.attack = make_attack(c.attack)
        self.attack.reset(self.ctx, rng)
        self.messages = np.take(self.values, self.indices)
        self.messages[self.ctx.edge_index] = np.nan
        self.adjacency = np.zeros((n, n), dtype=bool)
        self.adjacency[self.receivers, self.indices] = True
        self.team_masks = self.adjacency[:, c.n_honest :].T.reshape(-1).astype(np.float32)
        self.violation = 0.0
        self.t = 0
        self.blocklist = DynamicBlocklist(n)
        self._honest_edges = ~self.byzantine[self.indices] & self.honest[self.receivers]

    @property
    def graph(self) -> nx.Graph:
        """The communication graph with node positions (built on first use, for drawing)."""
        if self._graph is None:
            G = nx.empty_graph(self.config.n_robots)
            G.add_edges_from(self.edges.tolist())
            nx.set_node_attributes(G, {i: tuple(p) for i, p in enumerate(self.positions)}, "pos")
            self._graph = G
        return self._graph

    # ----------------------------------------------------------------- messages
    def attacker_messages(self, actions: np.ndarray) -> np.ndarray:
        """Messages on the Byzantine out-edges from actions in hull units.

        Parameters
        ----------
        actions : numpy.ndarray, shape (n_byzantine, n_robots)
            ``actions[k, j]``: what Byzantine robot k tells robot j, in hull units
            (NaN is silence; entries for non-neighbours are ignored).

        Returns
        -------
        numpy.ndarray, shape (len(edge_index),)
            Messages in value units.
        """
        a = actions[self.byz_sender, self.ctx.receiver]
        return self.lo + self.width * a

    def builtin_attack_messages(self) -> np.ndarray:
        """Messages of the built-in attack model for this round."""
        return np.asarray(self.attack.messages(self.t, self.values), dtype=np.float64)

    def gather(self, byz_messages: np.ndarray) -> np.ndarray:
        """Fill this round's message array: honest values, then the Byzantine messages."""
        np.take(self.values, self.indices, out=self.messages)
        self.messages[self.ctx.edge_index] = byz_messages
        return self.messages

    def dbp_filter(self, messages: np.ndarray) -> np.ndarray:
        """DBP for consensus: accuse equivocation, block by matching, drop blocked origins.

        Every honest robot relays what each Byzantine neighbour told it to its honest
        neighbours (one relay hop). An honest robot that then holds two different
        finite values from the same origin for this round accuses that origin (honest
        robots never equivocate, so the accusation is sound). Accusations enter the
        matching blocklist (:class:`protocols.dbp.DynamicBlocklist`), and messages from
        blocked robots are dropped (set to NaN) before the honest robots average.

        Parameters
        ----------
        messages : numpy.ndarray, shape (m,)
            This round's messages (modified in place and returned).

        Returns
        -------
        numpy.ndarray, shape (m,)
            The messages with blocked origins' entries set to NaN.
        """
        ctx = self.ctx
        n = self.config.n_robots
        sent = messages[ctx.edge_index]
        ok = np.isfinite(sent)
        k_direct, l_direct, v_direct = ctx.sender[ok], ctx.receiver[ok], sent[ok]
        # Relays: honest j forwards (k, v) to each honest neighbour l of j.
        hon = self._honest_edges
        relay_from, relay_to = self.indices[hon], self.receivers[hon]
        order = np.argsort(relay_from, kind="stable")
        relay_from, relay_to = relay_from[order], relay_to[order]
        start = np.searchsorted(relay_from, l_direct, side="left")
        stop = np.searchsorted(relay_from, l_direct, side="right")
        counts = stop - start
        rep = np.repeat(np.arange(l_direct.size), counts)
        offsets = np.arange(rep.size) - np.repeat(np.cumsum(counts) - counts, counts)
        holders = np.concatenate([l_direct, relay_to[start[rep] + offsets]])
        origins = np.concatenate([k_direct, k_direct[rep]])
        vals = np.concatenate([v_direct, v_direct[rep]])
        if holders.size:
            key = holders * n + origins
            o = np.lexsort((vals, key))
            key, vals = key[o], vals[o]
            first = np.concatenate([[True], key[1:] != key[:-1]])
            lo = vals[first]
            hi = np.maximum.reduceat(vals, np.flatnonzero(first))
            liars = np.flatnonzero(hi > lo)
            if liars.size:
                keys = key[first][liars]
                self.blocklist.add_many(np.column_stack([keys // n, keys % n]))
        blocked = self.blocklist.blocked
        messages[blocked[self.indices]] = np.nan
        return messages

    # ------------------------------------------------------------------ defender
    def defender_round(self, units: np.ndarray) -> tuple[float, float]:
        """One defender round: move the honest robots, then draw the attack's messages.

        Parameters
        ----------
        units : numpy.ndarray, shape (n_honest,)
            Every honest robot's next value in hull units (NaN keeps it in place).

        Returns
        -------
        spread, mean : float
            The honest spread and mean after the move (hull units).
        """
        nh = self.config.n_honest
        ok = np.isfinite(units)
        self.values[:nh][ok] = self.lo + self.width * units[ok]
        spread, _, mean = self.finish_round()
        self.gather(self.builtin_attack_messages())
        return spread, mean

    def defender_observations(self, out: np.ndarray) -> np.ndarray:
        """Every honest robot's defender observation (the one place it is computed).

        Parameters
        ----------
        out : numpy.ndarray of float32, shape (n_honest, 2n + 2)
            Written: own value (hull units, clipped), elapsed fraction of
            ``max_cycles``, the message received from each robot this round (hull
            units, clipped, 0 if none or non-finite), the mask of who sent one.

        Returns
        -------
        numpy.ndarray
            ``out``.
        """
        c = self.config
        n, nh = c.n_robots, c.n_honest
        received = np.zeros((n, n))
        mask = np.zeros((n, n))
        finite = np.isfinite(self.messages)
        received[self.receivers, self.indices] = self.to_units(self.messages)
        mask[self.receivers[finite], self.indices[finite]] = 1.0
        out[:, 0] = self.to_units(self.values)[:nh]
        out[:, 1] = np.float32(self.t / c.max_cycles)
        out[:, 2 : 2 + n] = received[:nh]
        out[:, 2 + n :] = mask[:nh]
        return out

    def defender_rewards(self, mean: float) -> np.ndarray:
        """Each honest robot's ``-|x_i - mean| - hull_penalty * (distance outside hull)``.

        Parameters
        ----------
        mean : float
            The honest mean in hull units.

        Returns
        -------
        numpy.ndarray, shape (n_honest,)
        """
        h = (self.values[self.honest] - self.lo) / self.width
        outside = np.maximum(0.0, np.maximum(h - 1.0, -h))
        return -np.abs(h - mean) - self.config.hull_penalty * outside

    # ------------------------------------------------------------------ metrics
    def honest_stats(self) -> tuple[float, float, float]:
        """Return the honest spread, the current hull excursion and the honest mean (hull units)."""
        h = (self.values[self.honest] - self.lo) / self.width
        excursion = max(0.0, float(h.max()) - 1.0, -float(h.min()))
        return float(h.max() - h.min()), excursion, float(h.mean())

    def finish_round(self) -> tuple[float, float, float]:
        """Advance the round counter, record the hull violation and return the stats."""
        self.t += 1
        spread, excursion, mean = self.honest_stats()
        self.violation = max(self.violation, excursion)
        return spread, excursion, mean

    def to_units(self, x: np.ndarray) -> np.ndarray:
        """Values in hull units, non-finite as 0, clipped to the observation box."""
        clip = self.config.obs_clip
        u = (np.asarray(x, dtype=np.float64) - self.lo) / self.width
        u = np.where(np.isfinite(u), u, 0.0)
        return np.clip(u, -clip, 1.0 + clip)

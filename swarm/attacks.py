"""Byzantine attack models and threat models for consensus rounds.

An attack produces, each round, the message every Byzantine robot sends along each of
its out-edges (a Byzantine robot may tell each neighbour something different). The
attackers are omniscient, the usual worst case: they see every robot's current value.
Silence is a NaN message (receivers discard non-finite values).

Threat models choose the Byzantine set: *F-total* (at most F Byzantine robots in all)
and *F-local* (at most F among the neighbours of any honest robot).

Every random draw comes from the ``numpy.random.Generator`` passed in.

Examples
--------
>>> import numpy as np
>>> from swarm.topology import complete, to_csr
>>> indptr, indices = to_csr(complete(5))
>>> rng = np.random.default_rng(0)
>>> byzantine = select_byzantine(indptr, indices, 1, rng)
>>> int(byzantine.sum())
1
>>> attack = make_attack("constant", value=10.0)
>>> attack.reset(AttackContext(indptr, indices, byzantine, np.zeros(5), 1), rng)
>>> attack.messages(0, np.zeros(5)).tolist()   # one message per out-edge of the attacker
[10.0, 10.0, 10.0, 10.0]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from protocols.checks import check_int, check_nonneg_float
from protocols.csr import transpose_csr

__all__ = [
    "ATTACKS",
    "Attack",
    "AttackContext",
    "ColludingSplitAttack",
    "ConstantAttack",
    "CrashAttack",
    "HugeValueAttack",
    "NoiseAttack",
    "NonFiniteAttack",
    "OscillatingAttack",
    "StealthyDriftAttack",
    "TwoFacedAttack",
    "make_attack",
    "select_byzantine",
]


@dataclass
class AttackContext:
    """What the attackers know of the network, fixed for a run.

    Attributes
    ----------
    indptr, indices : numpy.ndarray
        In-edge CSR of the communication graph.
    byzantine : numpy.ndarray of bool, shape (n,)
        Byzantine robots.
    initial : numpy.ndarray, shape (n,)
        Initial values.
    f : int
        Trimming parameter the defenders use (0 for LCP).
    """

    indptr: np.ndarray
    indices: np.ndarray
    byzantine: np.ndarray
    initial: np.ndarray
    f: int
    edge_index: np.ndarray = field(init=False)
    receiver: np.ndarray = field(init=False)
    sender: np.ndarray = field(init=False)
    honest_lo: float = field(init=False)
    honest_hi: float = field(init=False)

    def __post_init__(self):
        n = self.byzantine.shape[0]
        receivers = np.repeat(np.arange(n), np.diff(self.indptr))
        self.edge_index = np.flatnonzero(self.byzantine[self.indices])
        self.receiver = receivers[self.edge_index]
        self.sender = self.indices[self.edge_index]
        honest_init = self.initial[~self.byzantine]
        self.honest_lo = float(honest_init.min()) if honest_init.size else 0.0
        self.honest_hi = float(honest_init.max()) if honest_init.size else 0.0

    @property
    def width(self) -> float:
        """Width of the honest initial hull (1 if it is a single point)."""
        w = self.honest_hi - self.honest_lo
        return w if w > 0 else 1.0

    @property
    def honest(self) -> np.ndarray:
        """Mask of honest robots."""
        return ~self.byzantine


class Attack(ABC):
    """Base class: ``reset`` once per run, then ``messages`` every round."""

    name: ClassVar[str] = ""

    def reset(self, ctx: AttackContext, rng: np.random.Generator) -> None:
        """Bind the attack to a run.

        Parameters
        ----------
        ctx : AttackContext
            The network and the Byzantine set.
        rng : numpy.random.Generator
            Source of randomness for the whole run.
        """
        self.ctx = ctx
        self.rng = rng

    @abstractmethod
    def messages(self, t: int, values: np.ndarray) -> np.ndarray:
        """Messages along the Byzantine out-edges in round ``t``.

        Parameters
        ----------
        t : int
            Round number, from 0.
        values : numpy.ndarray, shape (n,)
            Current values of all robots.

        Returns
        -------
        numpy.ndarray, shape (len(ctx.edge_index),)
            One message per Byzantine out-edge, in the order of ``ctx.edge_index``.
        """


@dataclass
class ConstantAttack(Attack):
    """Every Byzantine robot sends ``value`` to everyone.

    Parameters
    ----------
    value : float, optional
        The value; default: one hull width above the honest initial maximum.
    """

    value: float | None = None
    name: ClassVar[str] = "constant"

    def __post_init__(self):
        if self.value is not None and not np.isfinite(self.value):
            raise ValueError(
                f"value must be finite (use NonFiniteAttack for NaN/inf), got {self.value}"
            )

    def messages(self, t, values):
        v = self.ctx.honest_hi + self.ctx.width if self.value is None else self.value
        return np.full(self.ctx.edge_index.size, v)


@dataclass
class NoiseAttack(Attack):
    """Gaussian noise around the current honest mean.

    Parameters
    ----------
    scale : float
        Standard deviation, in units of the honest initial hull width.
    """

    scale: float = 1.0
    name: ClassVar[str] = "noise"

    def __post_init__(self):
        check_nonneg_float("scale", self.scale)

    def messages(self, t, values):
        centre = values[self.ctx.honest].mean()
        return self.rng.normal(centre, self.scale * self.ctx.width, self.ctx.edge_index.size)


@dataclass
class OscillatingAttack(Attack):
    """A sine wave around the middle of the honest hull.

    Parameters
    ----------
    amplitude : float
        Amplitude, in hull widths.
    period : int
        Period in rounds, >= 2.
    """

    amplitude: float = 1.0
    period: int = 10
    name: ClassVar[str] = "oscillating"

    def __post_init__(self):
        check_nonneg_float("amplitude", self.amplitude)
        check_int("period", self.period, low=2)

    def messages(self, t, values):
        mid = 0.5 * (self.ctx.honest_lo + self.ctx.honest_hi)
        v = mid + self.amplitude * self.ctx.width * np.sin(2 * np.pi * t / self.period)
        return np.full(self.ctx.edge_index.size, v)


@dataclass
class TwoFacedAttack(Attack):
    """Each Byzantine robot tells alternate neighbours a low and a high value.

    Parameters
    ----------
    spread : float
        The values are ``spread`` hull widths below the honest minimum and above the
        honest maximum.
    """

    spread: float = 1.0
    name: ClassVar[str] = "two_faced"

    def __post_init__(self):
        check_nonneg_float("spread", self.spread)

    def reset(self, ctx, rng):
        super().reset(ctx, rng)
        # Rank of each out-edge within its sender's list of receivers (receivers sorted).
        order = np.lexsort((ctx.receiver, ctx.sender))
        starts = np.searchsorted(ctx.sender[order], ctx.sender[order], side="left")
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size) - starts
        self._high = rank % 2 == 1

    def messages(self, t, values):
        ctx = self.ctx
        low = ctx.honest_lo - self.spread * ctx.width
        high = ctx.honest_hi + self.spread * ctx.width
        return np.where(self._high, high, low)


@dataclass
class ColludingSplitAttack(Attack):
    """All attackers push two halves of the honest robots apart.

    Honest robots are split once, at the median of their initial values; every
    attacker sends the lower half the current honest minimum and the upper half the
    current honest maximum (minus / plus ``margin`` hull widths). With ``margin = 0``
    the messages never leave the honest range, so trimming cannot tell them apart.

    Parameters
    ----------
    margin : float
        Distance beyond the current honest extremes, in hull widths, >= 0.
    """

    margin: float = 0.0
    name: ClassVar[str] = "colluding_split"

    def __post_init__(self):
        check_nonneg_float("margin", self.margin)

    def reset(self, ctx, rng):
        super().reset(ctx, rng)
        honest_init = ctx.initial[ctx.honest]
        median = np.median(honest_init) if honest_init.size else 0.0
        self._lower = ctx.initial[ctx.receiver] <= median

    def messages(self, t, values):
        h = values[self.ctx.honest]
        lo, hi = h.min(), h.max()
        m = self.margin * self.ctx.width
        return np.where(self._lower, lo - m, hi + m)


@dataclass
class StealthyDriftAttack(Attack):
    """Pull each receiver up while staying inside its honest neighbourhood's range.

    To robot ``j`` with value ``x_j`` the attackers send ``x_j + rate * (h_j - x_j)``,
    where ``h_j`` is the largest value ``j`` hears from honest neighbours: never an
    outlier, so trimming keeps it whenever more than ``f`` values lie above ``x_j``.

    Parameters
    ----------
    rate : float
        In [0, 1].
    """

    rate: float = 1.0
    name: ClassVar[str] = "stealthy_drift"

    def __post_init__(self):
        if not 0.0 <= check_nonneg_float("rate", self.rate) <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {self.rate}")

    def reset(self, ctx, rng):
        super().reset(ctx, rng)
        n = ctx.byzantine.shape[0]
        receivers = np.repeat(np.arange(n), np.diff(ctx.indptr))
        honest_edges = ~ctx.byzantine[ctx.indices]
        self._h_recv = receivers[honest_edges]
        self._h_send = ctx.indices[honest_edges]

    def messages(self, t, values):
        top = values.copy()
        np.maximum.at(top, self._h_recv, values[self._h_send])
        x = values[self.ctx.receiver]
        return x + self.rate * (top[self.ctx.receiver] - x)


@dataclass
class NonFiniteAttack(Attack):
    """NaN, +inf and -inf in turn."""

    name: ClassVar[str] = "non_finite"

    def messages(self, t, values):
        bad = np.array([np.nan, np.inf, -np.inf])
        return bad[(t + np.arange(self.ctx.edge_index.size)) % 3]


@dataclass
class HugeValueAttack(Attack):
    """Values of magnitude ``magnitude``, alternating in sign.

    Parameters
    ----------
    magnitude : float
        Finite, > 0.
    """

    magnitude: float = 1e300
    name: ClassVar[str] = "huge"

    def __post_init__(self):
        check_nonneg_float("magnitude", self.magnitude, positive=True)

    def messages(self, t, values):
        sign = np.where((self.ctx.receiver + t) % 2 == 0, 1.0, -1.0)
        return sign * self.magnitude


@dataclass
class CrashAttack(Attack):
    """Behave honestly (send the own initial value) until ``at_round``, then go silent.

    Parameters
    ----------
    at_round : int
        First silent round, >= 0.
    """

    at_round: int = 0
    name: ClassVar[str] = "crash"

    def __post_init__(self):
        check_int("at_round", self.at_round, low=0)

    def messages(self, t, values):
        if t >= self.at_round:
            return np.full(self.ctx.edge_index.size, np.nan)
        return self.ctx.initial[self.ctx.sender].copy()


ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls
    for cls in (
        ConstantAttack,
        NoiseAttack,
        OscillatingAttack,
        TwoFacedAttack,
        ColludingSplitAttack,
        StealthyDriftAttack,
        NonFiniteAttack,
        HugeValueAttack,
        CrashAttack,
    )
}


def make_attack(name: str, **kwargs) -> Attack:
    """Build an attack by name.

    Parameters
    ----------
    name : str
        A key of :data:`ATTACKS`.
    **kwargs
        The attack's parameters; unknown ones are an error.

    Returns
    -------
    Attack
        The attack.
    """
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; known: {', '.join(ATTACKS)}")
    return ATTACKS[name](**kwargs)


def select_byzantine(
    indptr: np.ndarray,
    indices: np.ndarray,
    count: int,
    rng: np.random.Generator,
    *,
    threat: str = "total",
    f: int | None = None,
) -> np.ndarray:
    """Choose the Byzantine robots under a threat model.

    Parameters
    ----------
    indptr, indices : numpy.ndarray
        In-edge CSR of the communication graph (n nodes).
    count : int
        Number of Byzantine robots, ``0 <= count <= n``.
    rng : numpy.random.Generator
        Source of randomness.
    threat : {"total", "local"}
        ``"total"``: ``count`` robots uniformly at random (F-total with F = count).
        ``"local"``: robots drawn in random order, each kept only if no honest robot
        then hears more than ``f`` Byzantine neighbours (F-local).
    f : int, optional
        The local bound, required for ``threat="local"``.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        Byzantine mask.
    """
    n = indptr.shape[0] - 1
    count = check_int("count", count, low=0, high=n)
    mask = np.zeros(n, dtype=bool)
    if threat == "total":
        mask[rng.choice(n, size=count, replace=False)] = True
        return mask
    if threat != "local":
        raise ValueError(f"threat must be 'total' or 'local', got {threat!r}")
    if f is None:
        raise ValueError("threat='local' needs f, the bound on Byzantine neighbours")
    f = check_int("f", f, low=0)
    # Out-neighbours of v are the nodes that receive from v.
    out_ptr, out_nbrs = transpose_csr(indptr, indices, n)
    heard = np.zeros(n, dtype=np.int64)
    for v in rng.permutation(n):
        if mask.sum() == count:
            break
        nbrs = out_nbrs[out_ptr[v] : out_ptr[v + 1]]
        honest_nbrs = nbrs[~mask[nbrs]]
        if np.all(heard[honest_nbrs] < f):
            mask[v] = True
            heard[nbrs] += 1
    if mask.sum() < count:
        raise ValueError(
            f"cannot place {count} Byzantine robots with at most f={f} per honest "
            f"neighbourhood on this graph (placed {int(mask.sum())}); lower count or raise f"
        )
    return mask

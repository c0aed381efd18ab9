"""Byzantine consensus as a PettingZoo parallel environment (and a Gymnasium team view).

The spec (agents, spaces, rewards, ends) and the arguments are in the docstring of
:class:`raw_env` (``help(raw_env)``); :func:`parallel_env` and :func:`env` build it.

Examples
--------
>>> import numpy as np
>>> from envs.byzantine_consensus_v0 import parallel_env
>>> env = parallel_env(n_robots=10, n_byzantine=1)
>>> obs, infos = env.reset(seed=0)
>>> env.agents, obs["byzantine_0"].shape
(['byzantine_0'], (31,))
>>> obs, rewards, term, trunc, infos = env.step({"byzantine_0": np.zeros(10)})
>>> sorted(infos["byzantine_0"])
['honest_mean', 'honest_spread', 'hull_violation']
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs._common import (
    AgentSpacesMixin,
    FrameRenderMixin,
    HumanWindow,
    aec_from_parallel,
    check_actions,
)
from envs._consensus_world import ConsensusConfig, ConsensusWorld
from protocols.consensus_obs import TeamObservation, TeamSwarms, team_observations
from protocols.wmsr import AttackedSwarms, attacked_round_batch, wmsr_step
from swarm.plots import network_frame

__all__ = [
    "GYM_TEST_KWARGS",
    "TEST_KWARGS",
    "ByzantineConsensusTeamEnv",
    "env",
    "parallel_env",
    "protocol_policy",
    "raw_env",
]

#: Small, fast arguments for the conformance suite.
TEST_KWARGS = {"n_robots": 10, "n_byzantine": 1, "max_cycles": 30}
GYM_TEST_KWARGS = {"swarmgym/ByzantineConsensusAttack-v0": {"n_robots": 10, "n_byzantine": 1}}


def protocol_policy(observation: np.ndarray, f: int, message_bound: float = 2.0) -> np.ndarray:
    """W-MSR with parameter ``f`` (LCP for ``f = 0``) as a defender policy.

    Parameters
    ----------
    observation : numpy.ndarray, shape (2n + 2,)
        A defender's observation.
    f : int
        Trimming parameter, >= 0.

    message_bound : float
        The environment's ``message_bound``.

    Returns
    -------
    numpy.ndarray of float32, shape (1,)
        The action whose value is the W-MSR update of the robot's value.
    """
    obs = np.asarray(observation, dtype=np.float64)
    n = (obs.shape[0] - 2) // 2
    msgs = obs[2 : 2 + n][obs[2 + n :] > 0.5]
    new = wmsr_step(obs[:1], np.array([0, msgs.size]), np.zeros(msgs.size, dtype=np.int64), msgs, f)
    return ((new - 0.5) / (0.5 + message_bound)).astype(np.float32)


def _update(world: ConsensusWorld, messages: np.ndarray) -> None:
    new = np.empty_like(world.values)
    if world.config.protocol == "dbp":
        messages = world.dbp_filter(messages)
    f = world.config.trim if world.config.protocol == "wmsr" else 0
    wmsr_step(world.values, world.indptr, world.indices, messages, f, new, check=False)
    world.values[world.honest] = new[world.honest]


def _attacked_round(world: ConsensusWorld, actions: np.ndarray) -> None:
    """W-MSR or LCP round against attacker actions (F, n): the batched kernel with B = 1."""
    c = world.config
    new = np.empty((1, c.n_robots))
    swarms = AttackedSwarms(
        world.indptr[None],
        world.sources[None],
        np.array([world.lo]),
        np.array([world.width]),
        c.n_honest,
        c.message_bound,
        c.trim,
    )
    attacked_round_batch(
        swarms, world.values[None], actions[None], np.ones(1, dtype=bool), new, check=False
    )
    world.values[world.honest] = new[0, world.honest]


#: The single source of every default (:class:`envs._consensus_world.ConsensusConfig`).
_D = ConsensusConfig


class raw_env(FrameRenderMixin, AgentSpacesMixin, ParallelEnv):
    """Byzantine consensus: robots agreeing while Byzantine robots lie.

    ==================  ==========================================================================
    Agents              ``role="attacker"``: ``byzantine_0 .. byzantine_{F-1}`` (robot ids
                        ``n-F .. n-1``); ``role="defender"``: ``robot_0 .. robot_{n-F-1}``
                        (the honest robots)
    Action space        ``Box(-1, 1, ., float32)``, mapped affinely onto ``[-b, 1+b]`` hull units
                        (``b = message_bound``): attacker, shape ``(n,)``, the message to each
                        robot (entries for non-neighbours ignored, NaN is silence); defender,
                        shape ``(1,)``, the robot's next value
    Observation space   attacker: ``Box(-b-1, b+2, (3n+1,), float32)``: every robot's value in hull
                        units (0 for Byzantine robots), this attacker's out-neighbour mask, the
                        Byzantine mask, the elapsed fraction of ``max_cycles``;
                        defender: ``Box(-b-1, b+2, (2n+2,), float32)``: own value, elapsed
                        fraction, the message received from each robot this round (hull units,
                        clipped, 0 if none or non-finite), the mask of who sent one
    Rewards             attacker (shared): honest spread plus how far the honest values are
                        outside the honest initial hull, in hull widths, every round;
                        defender: ``-|x_i - mean| - hull_penalty * (distance outside the hull)``
    Termination         all agents when the honest spread falls below ``tol`` hull widths;
                        truncation after ``max_cycles`` rounds
    Info                ``honest_spread``, ``hull_violation`` (largest excursion so far) and
                        ``honest_mean``, in hull units
    ==================  ==========================================================================

    *Hull units* map the interval of honest initial values to [0, 1], whatever the episode
    draws. Each ``reset(seed=...)`` draws a new swarm: robots in the unit square linked
    within ``radio_range`` and made (2F+1)-robust by construction
    (:func:`swarm.topology.robust_geometric`), robot ids shuffled, values uniform in [0, 1).
    With ``role="attacker"`` the honest robots run ``protocol``; with ``role="defender"``
    the Byzantine robots run the built-in ``attack`` and :func:`protocol_policy` is the
    ready policy that reproduces W-MSR (or LCP) from an observation. Against attacker
    actions, which are bounded, W-MSR and LCP run the one-pass kernel of the batched mode
    (:func:`protocols.wmsr._bounded_node`, within a few roundings of the exact mean), so
    :class:`envs.vector.ByzantineConsensusVectorEnv` reproduces this environment bit for
    bit; against the built-in attacks, which may send anything, they run
    :func:`protocols.wmsr.wmsr_step`'s exact kernel.

    Arguments:

    - ``n_robots``: robots in the swarm, >= 4F + 1.
    - ``n_byzantine``: number of Byzantine robots F, >= 0.
    - ``role``: ``"attacker"`` or ``"defender"``: who the learning policy controls.
    - ``protocol``: the honest robots' rule (attacker role): ``"wmsr"``, ``"lcp"`` or
      ``"dbp"`` (LCP over robots not on the DBP blocklist; robots accuse an origin that
      told two honest robots within one relay hop different things, see
      :meth:`envs._consensus_world.ConsensusWorld.dbp_filter`).
    - ``f``: W-MSR parameter of the honest robots (default F).
    - ``attack``: built-in attack of the Byzantine robots (defender role), see
      :data:`swarm.attacks.ATTACKS`.
    - ``radio_range``: radio range, in units of the side of the square.
    - ``message_bound``: how far beyond the hull actions may reach, in hull widths.
    - ``tol``: spread (hull widths) at which the swarm counts as agreed.
    - ``max_cycles``: rounds before truncation.
    - ``hull_penalty``: weight of a defender's distance outside the honest hull.
    - ``render_mode``: None, ``"rgb_array"`` or ``"human"``.

    Defaults come from :class:`envs._consensus_world.ConsensusConfig`. Batched forms:
    :class:`envs.vector.ByzantineConsensusVectorEnv` (attacker team, Gymnasium vector)
    and :class:`envs.consensus_batched.ConsensusDefenderBatchedEnv` (defenders, per
    agent).
    """

    metadata: ClassVar[dict] = {
        "render_modes": ["human", "rgb_array"],
        "name": "byzantine_consensus_v0",
        "is_parallelizable": True,
        "render_fps": 5,
    }

    def __init__(
        self,
        n_robots: int = _D.n_robots,
        n_byzantine: int = _D.n_byzantine,
        role: str = _D.role,
        protocol: str = _D.protocol,
        f: int | None = _D.f,
        attack: str = _D.attack,
        radio_range: float = _D.radio_range,
        message_bound: float = _D.message_bound,
        tol: float = _D.tol,
        max_cycles: int = _D.max_cycles,
        hull_penalty: float = _D.hull_penalty,
        render_mode: str | None = None,
    ):
        self.config = ConsensusConfig(
            n_robots=n_robots,
            n_byzantine=n_byzantine,
            role=role,
            protocol=protocol,
            f=f,
            attack=attack,
            radio_range=radio_range,
            message_bound=message_bound,
            tol=tol,
            max_cycles=max_cycles,
            hull_penalty=hull_penalty,
        )
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be None or one of "
                f"{self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self.world = ConsensusWorld(self.config)
        c = self.config
        n = c.n_robots
        lo, hi = -c.obs_clip, 1.0 + c.obs_clip
        if c.role == "attacker":
            self.possible_agents = [f"byzantine_{k}" for k in range(c.n_byzantine)]
            self._robot = {a: c.n_honest + k for k, a in enumerate(self.possible_agents)}
            obs_dim, act_dim = 3 * n + 1, n
        else:
            self.possible_agents = [f"robot_{i}" for i in range(c.n_honest)]
            self._robot = {a: i for i, a in enumerate(self.possible_agents)}
            obs_dim, act_dim = 2 * n + 2, 1
        self._observation_spaces = {
            a: spaces.Box(lo, hi, shape=(obs_dim,), dtype=np.float32) for a in self.possible_agents
        }
        self._action_spaces = {
            a: spaces.Box(-1.0, 1.0, shape=(act_dim,), dtype=np.float32)
            for a in self.possible_agents
        }
        self.agents: list[str] = []
        self._rng: np.random.Generator | None = None
        self._window = HumanWindow(self.metadata["render_fps"])

    # ------------------------------------------------------------ observations
    def _observe(self) -> dict:
        w = self.world
        c = self.config
        frac = np.float32(w.t / c.max_cycles)
        if c.role == "attacker":
            values = np.where(w.honest, w.to_units(w.values), 0.0)
            common = np.concatenate([values, np.zeros(c.n_robots), w.byzantine, [frac]])
            out = {}
            for a in self.agents:
                obs = common.copy()
                obs[c.n_robots : 2 * c.n_robots] = w.adjacency[:, self._robot[a]]
                out[a] = obs.astype(np.float32)
            return out
        obs = w.defender_observations(np.empty((c.n_honest, 2 * c.n_robots + 2), dtype=np.float32))
        return {a: obs[self._robot[a]] for a in self.agents}

    def _infos(self, spread: float, mean: float) -> dict:
        info = {
            "honest_spread": spread,
            "hull_violation": self.world.violation,
            "honest_mean": mean,
        }
        return {a: dict(info) for a in self.agents}

    # ----------------------------------------------------------------- the loop
    def reset(self, seed: int | None = None, options: dict | None = None):
        """Draw a new swarm; return the first observations and infos."""
        if seed is not None or self._rng is None:
            self._rng = np.random.default_rng(seed)
        self.world.reset(self._rng)
        self.agents = list(self.possible_agents)
        if self.config.role == "defender":
            self.world.gather(self.world.builtin_attack_messages())
        spread, _, mean = self.world.honest_stats()
        return self._observe(), self._infos(spread, mean)

    def step(self, actions: dict):
        """Apply one synchronous round; see the module docstring for rewards and ends."""
        if not self.agents:
            raise RuntimeError("step() called with no live agents; call reset() first")
        w = self.world
        c = self.config
        check_actions(actions, self.agents)
        if c.role == "attacker":
            act = np.full((c.n_byzantine, c.n_robots), np.nan)
            for agent, a in actions.items():
                act[self._robot[agent] - c.n_honest] = self._check_action(agent, a)
            if c.protocol == "dbp":
                _update(w, w.gather(w.attacker_messages(self._to_units(act))))
            else:
                _attacked_round(w, act)
            spread, _, mean = w.finish_round()
            h = (w.values[w.honest] - w.lo) / w.width
            team = spread + max(0.0, float(h.max()) - 1.0, -float(h.min()))
            rewards = dict.fromkeys(self.agents, team)
        else:
            units = np.full(c.n_honest, np.nan)
            for agent, a in actions.items():
                units[self._robot[agent]] = self._to_units(self._check_action(agent, a))[0]
            spread, mean = w.defender_round(units)
            r = w.defender_rewards(mean)
            rewards = {a: float(r[self._robot[a]]) for a in self.agents}
        done = spread < c.tol
        truncated = w.t >= c.max_cycles
        obs = self._observe()
        terms = dict.fromkeys(self.agents, bool(done))
        truncs = dict.fromkeys(self.agents, bool(truncated and not done))
        infos = self._infos(spread, mean)
        if done or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return obs, rewards, terms, truncs, infos

    def _check_action(self, agent: str, action) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        shape = self._action_spaces[agent].shape
        if a.shape != shape:
            raise ValueError(f"action of {agent} must have shape {shape}, got {a.shape}")
        return a

    def _to_units(self, action: np.ndarray) -> np.ndarray:
        """Actions in [-1, 1] (clipped) to hull units ``[-b, 1 + b]``."""
        return 0.5 + (0.5 + self.config.message_bound) * np.clip(action, -1.0, 1.0)

    def defender_actions(self, observations: dict) -> dict:
        """Every defender's :func:`protocol_policy` action (the honest protocol)."""
        c = self.config
        return {a: protocol_policy(o, c.trim, c.message_bound) for a, o in observations.items()}

    # ---------------------------------------------------------------- rendering
    def _frame(self) -> np.ndarray:
        """Draw the network, honest robots coloured by value, Byzantine robots marked."""
        w = self.world
        return network_frame(
            w.graph, w.byzantine, w.values, vmin=w.lo, vmax=w.hi, title=f"round {w.t}"
        )


def parallel_env(**kwargs) -> raw_env:
    """Build the parallel environment (see the module docstring for the arguments)."""
    return raw_env(**kwargs)


def env(**kwargs):
    """Build the AEC environment, derived from the parallel one with ``parallel_to_aec``."""
    return aec_from_parallel(raw_env, **kwargs)


class ByzantineConsensusTeamEnv(gymnasium.Env):
    """One controller for the whole Byzantine team (Gymnasium single-agent view).

    Observation ``Box(-b-1, b+2, ((F+1)n+1,), float32)``: every robot's value in hull
    units (0 for Byzantine robots), each attacker's out-neighbour mask, the elapsed
    fraction. Action ``Box(-1, 1, (F*n,), float32)``: row k of the reshaped action is
    what Byzantine robot k tells each robot (mapped onto ``[-b, 1+b]`` hull units).
    Reward, termination and truncation are those of the attackers in :class:`raw_env`;
    the same seed gives the same episode.
    Registered as ``swarmgym/ByzantineConsensusAttack-v0`` with ``max_episode_steps``
    100 (the default ``max_cycles``; pass both to change the horizon) and
    :class:`envs.vector.ByzantineConsensusVectorEnv` as its ``vector_entry_point``;
    arguments as :class:`raw_env` without ``role``.
    """

    metadata: ClassVar[dict] = {"render_modes": ["human", "rgb_array"], "render_fps": 5}

    def __init__(self, render_mode: str | None = None, **kwargs):
        if "role" in kwargs:
            raise TypeError("ByzantineConsensusTeamEnv takes no 'role': it controls the attackers")
        self._env = raw_env(render_mode=render_mode, role="attacker", **kwargs)
        self.render_mode = render_mode
        c = self._env.config
        if c.n_byzantine == 0:
            raise ValueError("n_byzantine must be >= 1 for the attacker team")
        n, nb = c.n_robots, c.n_byzantine
        self.observation_space = spaces.Box(
            -c.obs_clip, 1.0 + c.obs_clip, shape=((nb + 1) * n + 1,), dtype=np.float32
        )
        self.action_space = spaces.Box(-1.0, 1.0, shape=(nb * n,), dtype=np.float32)

    def _team_obs(self) -> np.ndarray:
        """Return the team observation (:func:`protocols.consensus_obs.team_observations`)."""
        w = self._env.world
        c = self._env.config
        swarms = TeamSwarms(
            w.values[None],
            np.array([w.lo]),
            np.array([w.width]),
            w.team_masks[None],
            np.array([w.t]),
        )
        out = TeamObservation(
            np.empty((1, self.observation_space.shape[0]), dtype=np.float32),
            np.empty(1),
            np.empty(1),
        )
        team_observations(swarms, c.n_honest, c.obs_clip, c.max_cycles, out, check=False)
        return out.obs[0]

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Draw a new swarm."""
        super().reset(seed=seed)
        _, infos = self._env.reset(seed=int(self.np_random.integers(2**63)))
        return self._team_obs(), infos[self._env.possible_agents[0]]

    def step(self, action):
        """Every Byzantine robot sends its row of ``action``."""
        c = self._env.config
        a = np.asarray(action, dtype=np.float64).reshape(c.n_byzantine, c.n_robots)
        acts = {agent: a[k] for k, agent in enumerate(self._env.possible_agents)}
        _, rew, term, trunc, infos = self._env.step(acts)
        first = self._env.possible_agents[0]
        return (self._team_obs(), rew[first], term[first], trunc[first], infos[first])

    def render(self):
        """As :meth:`raw_env.render`."""
        return self._env.render()

    def close(self):
        """Close the window, if any."""
        self._env.close()

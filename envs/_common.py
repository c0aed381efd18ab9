"""Pieces shared by the PettingZoo environments: rendering, the AEC form, action checks."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from pettingzoo.utils import conversions, wrappers

__all__ = [
    "AgentSpacesMixin",
    "FrameRenderMixin",
    "HumanWindow",
    "aec_from_parallel",
    "check_actions",
    "figure_to_rgb",
]

_NON_INTERACTIVE = {"agg", "pdf", "ps", "svg", "pgf", "cairo", "template"}


def figure_to_rgb(fig: Figure) -> np.ndarray:
    """Draw a figure on an Agg canvas and return its pixels.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.

    Returns
    -------
    numpy.ndarray of uint8, shape (H, W, 3)
        The frame.
    """
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


class HumanWindow:
    """A pyplot window that shows RGB frames (``render_mode="human"``).

    On a non-interactive backend (no display) frames are drawn but nothing waits.

    Parameters
    ----------
    fps : float
        Frames per second when shown.
    """

    def __init__(self, fps: float):
        self.fps = fps
        self._fig = None
        self._image = None

    def show(self, frame: np.ndarray) -> None:
        """Display ``frame`` (H, W, 3 uint8), opening the window on first use."""
        import matplotlib.pyplot as plt

        if self._fig is None:
            self._fig, ax = plt.subplots()
            ax.set_axis_off()
            self._image = ax.imshow(frame)
        else:
            self._image.set_data(frame)
        if matplotlib.get_backend().lower() in _NON_INTERACTIVE:
            self._fig.canvas.draw()
        else:
            plt.pause(1.0 / self.fps)

    def close(self) -> None:
        """Close the window if it is open."""
        if self._fig is not None:
            import matplotlib.pyplot as plt

            plt.close(self._fig)
            self._fig = None
            self._image = None

    def __getstate__(self):
        return {"fps": self.fps, "_fig": None, "_image": None}


class FrameRenderMixin:
    """``render`` and ``close`` for an environment that draws its state with ``_frame()``.

    The environment sets ``render_mode`` and ``_window`` (a :class:`HumanWindow`) and
    defines ``_frame() -> ndarray`` (H, W, 3 uint8).
    """

    def render(self):
        """Return the frame (``"rgb_array"``), or show it (``"human"``, returns None)."""
        if self.render_mode is None:
            warnings.warn("render() called without a render_mode", stacklevel=2)
            return None
        frame = self._frame()
        if self.render_mode == "rgb_array":
            return frame
        self._window.show(frame)
        return None

    def close(self):
        """Close the human-mode window, if any."""
        self._window.close()


class AgentSpacesMixin:
    """Per-agent spaces of a PettingZoo environment, the same object every call.

    The environment builds the dicts ``_observation_spaces`` and ``_action_spaces``
    (agent -> space) once, in ``__init__``.
    """

    def observation_space(self, agent: str):
        """Return the observation space of ``agent`` (the same object every call)."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str):
        """Return the action space of ``agent`` (the same object every call)."""
        return self._action_spaces[agent]


def aec_from_parallel(raw_env_cls, **kwargs):
    """Build the AEC form of a parallel environment, as PettingZoo's own envs do.

    Parameters
    ----------
    raw_env_cls : type
        The parallel environment class.
    **kwargs
        Its arguments.

    Returns
    -------
    pettingzoo.AECEnv
        ``parallel_to_aec`` wrapped in PettingZoo's bounds and order checks.
    """
    aec = conversions.parallel_to_aec(raw_env_cls(**kwargs))
    aec = wrappers.AssertOutOfBoundsWrapper(aec)
    return wrappers.OrderEnforcingWrapper(aec)


def check_actions(actions, agents: list[str]) -> Mapping:
    """Check a parallel ``step`` argument: a dict with one action for every live agent.

    This is the PettingZoo parallel API (``step`` receives a dictionary of actions keyed
    by agent name, one per agent in ``env.agents``), enforced the same way by every
    swarmgym PettingZoo environment: anything but a mapping is a ``TypeError``; a live
    agent without an action, or an action for an agent that is unknown or no longer
    live, is a ``ValueError`` naming them.

    Parameters
    ----------
    actions : mapping
        Agent -> action.
    agents : list of str
        The live agents (``env.agents``).

    Returns
    -------
    Mapping
        ``actions``.
    """
    if not isinstance(actions, Mapping):
        raise TypeError(
            f"actions must be a dict of agent name -> action (one for every "
            f"agent in env.agents), got {type(actions).__name__}"
        )
    if len(actions) != len(agents) or any(a not in actions for a in agents):
        live = set(agents)
        missing = [a for a in agents if a not in actions]
        extra = [a for a in actions if a not in live]
        if missing:
            raise ValueError(
                f"actions has no action for live agent(s) {_names(missing)}; "
                "step() takes one for every agent in env.agents"
            )
        raise ValueError(
            f"actions names agent(s) {_names(extra)} that are not live "
            f"(env.agents: {_names(agents)})"
        )
    return actions


def _names(agents: list) -> str:
    """At most five agent names, then how many more."""
    shown = ", ".join(repr(a) for a in agents[:5])
    return shown + (f" and {len(agents) - 5} more" if len(agents) > 5 else "")

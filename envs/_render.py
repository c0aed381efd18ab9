"""Rendering helpers shared by the environments: Agg figures to RGB, a human window."""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["HumanWindow", "figure_to_rgb"]

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

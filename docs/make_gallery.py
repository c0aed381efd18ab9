"""Regenerate the README gallery: the main plot of every shipped scenario.

Run from a source checkout::

    python docs/make_gallery.py            # every shipped scenario
    python docs/make_gallery.py NAME ...   # only these

Each scenario runs at its defaults with its own seed, except where ``SMALL`` below
states a smaller size; its main plot (``MAIN_PLOT``, by scenario kind) is shrunk to at
most ``WIDTH`` pixels wide, reduced to a 256-colour palette and written to
``docs/gallery/<scenario>.png``. Pictures of scenarios that no longer exist are
removed. ``tests/test_gallery.py`` checks that the gallery matches the scenarios.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scenarios.runner import available_scenarios, load_scenario, run_scenario  # noqa: E402

__all__ = ["GALLERY", "MAIN_PLOT", "SMALL", "WIDTH", "make_picture", "picture_path"]

#: Where the pictures go.
GALLERY = ROOT / "docs" / "gallery"
#: The main plot each scenario kind writes.
MAIN_PLOT = {
    "bavt": "accuracy_vs_budget.png",
    "consensus": "trajectories.png",
    "dbp": "error.png",
    "gmfg": "convergence.png",
    "iwf": "nash_gap.png",
    "sgn": "phase_portrait.png",
}
#: Overrides (``--set`` syntax) that keep a scenario's gallery run short.
SMALL = {
    "bavt-budget": ["n_questions=30"],
}
#: Largest picture width in pixels.
WIDTH = 720


def picture_path(name: str) -> Path:
    """Return the gallery file of scenario ``name``."""
    return GALLERY / f"{name}.png"


def make_picture(name: str) -> Path:
    """Run scenario ``name`` in a temporary folder and store its main plot, shrunk.

    Parameters
    ----------
    name : str
        A shipped scenario.

    Returns
    -------
    Path
        The gallery picture.
    """
    scenario = load_scenario(name, SMALL.get(name, ()))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run_scenario(scenario, out_dir=out)
        image = Image.open(out / MAIN_PLOT[scenario.kind]).convert("RGB")
    if image.width > WIDTH:
        image = image.resize(
            (WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS
        )
    GALLERY.mkdir(parents=True, exist_ok=True)
    path = picture_path(name)
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    return path


def main(argv: list[str]) -> int:
    """Regenerate the pictures named in ``argv`` (default: all) and drop stale ones."""
    names = sorted(available_scenarios())
    unknown = [a for a in argv if a not in names]
    if unknown:
        print(
            f"unknown scenario(s) {', '.join(unknown)}; shipped: {', '.join(names)}",
            file=sys.stderr,
        )
        return 2
    for name in argv or names:
        start = time.perf_counter()
        path = make_picture(name)
        print(
            f"{path.relative_to(ROOT)}: {path.stat().st_size / 1024:.0f} KB "
            f"({time.perf_counter() - start:.0f} s)"
        )
    for stale in GALLERY.glob("*.png"):
        if stale.stem not in names:
            stale.unlink()
            print(f"removed {stale.relative_to(ROOT)} (no such scenario)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The README gallery is current with the shipped scenarios (docs/make_gallery.py)."""

import importlib.util
from pathlib import Path

from PIL import Image

from scenarios.runner import available_scenarios, load_scenario

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "docs" / "make_gallery.py")
make_gallery = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_gallery)


def test_every_scenario_has_a_picture_and_every_picture_a_scenario():
    names = set(available_scenarios())
    pictures = {p.stem for p in make_gallery.GALLERY.glob("*.png")}
    assert names - pictures == set(), "run `python docs/make_gallery.py` for these"
    assert pictures - names == set(), "pictures of scenarios that are not shipped"


def test_every_kind_names_its_main_plot():
    kinds = {load_scenario(n).kind for n in available_scenarios()}
    assert kinds <= set(make_gallery.MAIN_PLOT)


def test_pictures_are_small_pngs_and_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in available_scenarios():
        path = make_gallery.picture_path(name)
        assert path.stat().st_size < 150 * 1024, path
        with Image.open(path) as im:
            assert im.format == "PNG" and im.width <= make_gallery.WIDTH
        assert f"docs/gallery/{name}.png" in readme, f"README gallery lacks {name}"

"""The README's promises: its code runs and every name it documents can be imported.

The stable public API is what the README shows; a refactor that moves a module keeps
these paths working (a package re-exports its public names).
"""

import importlib
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
OURS = ("protocols", "games", "swarm", "envs", "scenarios")

BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
#: File names the README mentions (``swarm.gif``) are not Python names.
_FILES = (".gif", ".png", ".html", ".json", ".csv", ".toml", ".py", ".md", ".sqlite")
DOTTED = sorted(
    {
        m
        for m in re.findall(r"`([A-Za-z_][\w.]*)", README)
        if m.split(".")[0] in OURS and "." in m and not m.endswith(_FILES)
    }
)
_IMPORT = r"from ((?:" + "|".join(OURS) + r")[\w.]*) import ([\w, ]+)"
IMPORTS = sorted(set(re.findall(_IMPORT, README)))


def _resolve(dotted: str):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_code_blocks_run(code):
    exec(compile(code, "README.md", "exec"), {})


@pytest.mark.parametrize("dotted", DOTTED)
def test_every_dotted_name_in_the_readme_resolves(dotted):
    _resolve(dotted)


@pytest.mark.parametrize(("module", "names"), IMPORTS)
def test_every_import_in_the_readme_works(module, names):
    mod = importlib.import_module(module)
    for name in (n.strip() for n in names.split(",")):
        assert hasattr(mod, name), f"{module} has no {name}"

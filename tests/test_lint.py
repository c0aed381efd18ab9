import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(
    shutil.which("ruff") is None and not Path(sys.prefix, "bin", "ruff").exists(),
    reason="ruff is installed by the test extra",
)
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.prefix, "bin", "ruff"))
    proc = subprocess.run(
        [ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(
    shutil.which("ruff") is None and not Path(sys.prefix, "bin", "ruff").exists(),
    reason="ruff is installed by the test extra",
)
def test_ruff_format_is_clean():
    """The code is formatted by ``ruff format`` (settings in pyproject.toml)."""
    ruff = shutil.which("ruff") or str(Path(sys.prefix, "bin", "ruff"))
    proc = subprocess.run(
        [ruff, "format", "--check", "--no-cache", str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_layering_imports_only_point_down():
    """protocols imports nothing of ours; games and swarm only protocols; envs not scenarios."""
    allowed = {
        "protocols": {"protocols"},
        "games": {"games", "protocols"},
        "swarm": {"swarm", "protocols"},
        "envs": {"envs", "swarm", "games", "protocols"},
        "scenarios": {"scenarios", "envs", "swarm", "games", "protocols"},
    }
    ours = set(allowed)
    bad = []
    for pkg, ok in allowed.items():
        for path in (ROOT / pkg).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                words = line.strip().split()
                if len(words) >= 2 and words[0] in ("import", "from"):
                    top = words[1].split(".")[0]
                    if top in ours and top not in ok:
                        bad.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def private_imports_across_packages(root: Path = ROOT) -> list[str]:
    """Every import of a ``_name`` (or from a ``_module``) of another of our packages.

    One line per offender, ``path:line: statement``, so the list shows who to fix.
    """
    ours = {"protocols", "games", "swarm", "envs", "scenarios"}
    bad = []
    for pkg in sorted(ours):
        for path in sorted((root / pkg).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules = [node.module]
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                    names = []
                else:
                    continue
                for module in modules:
                    parts = module.split(".")
                    if parts[0] not in ours or parts[0] == pkg:
                        continue
                    private_module = any(p.startswith("_") for p in parts)
                    private_names = [n for n in names if n.startswith("_")]
                    if private_module or private_names:
                        what = ", ".join(private_names) or module
                        bad.append(f"{path.relative_to(root)}:{node.lineno}: {what}")
    return bad


def test_no_private_name_crosses_a_package_boundary():
    """A ``_name`` of protocols/games/swarm/envs/scenarios is used only inside its package."""
    bad = private_imports_across_packages()
    assert not bad, "private names imported across packages:\n" + "\n".join(bad)

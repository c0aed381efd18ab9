import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None and not Path(sys.prefix, "bin", "ruff").exists(),
                    reason="ruff is installed by the test extra")
def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.prefix, "bin", "ruff"))
    proc = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True,
                          text=True, cwd=ROOT)
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

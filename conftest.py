"""Collection of the docstring examples (``--doctest-modules`` over the package folders)."""

import importlib.util

# envs/sb3.py needs the ``rl`` extra at import; without it, skip its examples rather than
# fail collection (the ``test`` extra installs it, so CI runs them).
collect_ignore = [] if importlib.util.find_spec("stable_baselines3") else ["envs/sb3.py"]

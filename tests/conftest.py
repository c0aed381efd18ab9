import os

from hypothesis import HealthCheck, settings

# Numba compiles on first call; never let compile time fail a property test.
settings.register_profile(
    "swarmgym", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
    derandomize=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "swarmgym")
os.environ.setdefault("MPLBACKEND", "Agg")

"""Scenario kinds: one module a kind, each declaring ``PARAMS`` and a ``run`` function."""

"""Former home of the argument checks: see :mod:`protocols.checks`."""

from protocols.checks import *  # noqa: F403
from protocols.checks import __all__  # noqa: F401

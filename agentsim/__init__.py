"""agentsim: simulate many fleetd agents (orbit + osqueryd) talking to a Fleet-compatible server.

The programmatic entry point is :func:`agentsim.run`, which returns a :class:`agentsim.Summary`.
The CLI is ``python -m agentsim --help``.
"""

from agentsim.runner import run
from agentsim.stats import Summary

__all__ = ["Summary", "run"]

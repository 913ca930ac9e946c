"""What hosts tell the apps built on them, without importing those apps."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the host's transaction when its installed software changed, with `host_id`,
# `added` and `removed` (sets of Software ids). Vulnerability matching keeps these so that an
# hourly run works on what changed instead of every host's whole inventory.
software_installs_changed = Signal()

"""The hub's state, as connectors and services see it: this package's public interface.

Connectors import from ``hub.state`` only, never from its modules (``make lint`` checks it): the store's
tables, codec and migrations may change without touching a connector. What is here is what an ingress
service (the form intake, the AMI listener) or a connector that reads the inbox needs.
"""

from __future__ import annotations

from hub.state.engine import make_engine
from hub.state.leases import Leases
from hub.state.migrate import upgrade
from hub.state.models import utcnow
from hub.state.store import InboxItem, StateStore, Stored
from hub.state.upsert import upsert as upsert_rows  # not `upsert`: that is also the module's name

__all__ = ["InboxItem", "Leases", "StateStore", "Stored", "make_engine", "upgrade", "upsert_rows", "utcnow"]

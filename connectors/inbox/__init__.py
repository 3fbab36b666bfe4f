"""The inbox as a source: events that ingress services (form intake, AMI listener) committed durably.

Each event is read once per exchange, in commit order, by its position in the stream (positions follow
commit order even with several writers, see :mod:`hub.state.inbox_order`): the checkpoint is the last
position applied, so a killed run resumes exactly after it. Records are the event payload plus ``inbox_id``
(that position), ``received_at`` and the sender metadata under ``meta``.
"""

from __future__ import annotations

from hub.manifest import lazy_exports

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"InboxConnector": "hub.inbox"}  # the reader lives in the core: the website connector extends it

__all__ = ["InboxConnector"]

__getattr__ = lazy_exports(__name__, _EXPORTS)

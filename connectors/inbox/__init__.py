"""The inbox as a source: events that ingress services (form intake, AMI listener) committed durably.

Each event is read once per exchange, in commit order, by its position in the stream (positions follow
commit order even with several writers, see :mod:`hub.state.inbox_order`): the checkpoint is the last
position applied, so a killed run resumes exactly after it. Records are the event payload plus ``inbox_id``
(that position), ``received_at`` and the sender metadata under ``meta``.
"""

from __future__ import annotations

from hub.inbox import InboxConnector

CONNECTOR = InboxConnector

__all__ = ["CONNECTOR", "InboxConnector"]

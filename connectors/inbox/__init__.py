"""The inbox as a source: events that ingress services (form intake, AMI listener) committed durably.

Each event is read once per exchange, in commit order, by its inbox id: the checkpoint is the last id
applied, so a killed run resumes exactly after it. Records are the event payload plus ``inbox_id``,
``received_at`` and the sender metadata under ``meta``.
"""

from __future__ import annotations

from connectors.inbox.connector import InboxConnector

CONNECTOR = InboxConnector

__all__ = ["CONNECTOR", "InboxConnector"]

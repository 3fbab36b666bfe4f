"""What the inbox package brings to the hub (see :mod:`hub.manifest`): the source over the hub's own inbox, on the
built-in connection ``hub`` (no connection type of its own)."""

from hub.manifest import Manifest

MANIFEST = Manifest(name="inbox", connectors={"inbox": "hub.inbox:InboxConnector"})

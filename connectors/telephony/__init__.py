"""Asterisk PBX: the AMI listener (calls -> inbox), gap recovery from the CDR, missed-call callbacks, and
click-to-call (CRM request -> AMI Originate).

Connectors (``connector:`` names in mappings):

* ``telephony_ami``: target; entity ``originate`` places a call with an AMI ``Originate``;
* ``telephony_callbacks``: source; missed inbound calls that nobody returned, from the inbox ``calls``
  stream, as callback tasks (open, then done once the number is reached).
"""

from __future__ import annotations

from hub.manifest import lazy_exports

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"AmiOriginateConnector": "connectors.telephony.originate",
            "CallbacksSource": "connectors.telephony.callbacks"}

__all__ = ["AmiOriginateConnector", "CallbacksSource"]

__getattr__ = lazy_exports(__name__, _EXPORTS)

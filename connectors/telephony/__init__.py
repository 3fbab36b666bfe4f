"""Asterisk PBX: the AMI listener (calls -> inbox), gap recovery from the CDR, missed-call callbacks, and
click-to-call (CRM request -> AMI Originate).

Connectors (``connector:`` names in mappings):

* ``telephony_ami``: target; entity ``originate`` places a call with an AMI ``Originate``;
* ``telephony_callbacks``: source; missed inbound calls that nobody returned, from the inbox ``calls``
  stream, as callback tasks (open, then done once the number is reached).
"""

from __future__ import annotations

import importlib
from typing import Any

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"AmiOriginateConnector": "connectors.telephony.originate",
            "CallbacksSource": "connectors.telephony.callbacks"}

__all__ = ["AmiOriginateConnector", "CallbacksSource"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

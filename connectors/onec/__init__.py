"""1C:Enterprise 8.3 connectors: the standard OData interface (``onec_odata``) and SOAP web services
(``onec_soap``). See docs/onec.md and /work/shared/reference/onec.md."""

import importlib
from typing import Any

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"ODataConnector": "connectors.onec.odata", "SoapConnector": "connectors.onec.soap"}

__all__ = ["ODataConnector", "SoapConnector"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

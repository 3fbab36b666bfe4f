"""1C:Enterprise 8.3 connectors: the standard OData interface (``onec_odata``) and SOAP web services
(``onec_soap``). See docs/onec.md and /work/shared/reference/onec.md."""

from hub.manifest import lazy_exports

# imported on first use: loading the package (its manifest, at every start) must not import its drivers
_EXPORTS = {"ODataConnector": "connectors.onec.odata", "SoapConnector": "connectors.onec.soap"}

__all__ = ["ODataConnector", "SoapConnector"]

__getattr__ = lazy_exports(__name__, _EXPORTS)

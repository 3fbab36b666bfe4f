"""1C:Enterprise 8.3 connectors: the standard OData interface (``onec_odata``) and SOAP web services
(``onec_soap``). See docs/onec.md and /work/shared/reference/onec.md."""

from connectors.onec.odata import ODataConnector
from connectors.onec.soap import SoapConnector

__all__ = ["ODataConnector", "SoapConnector"]

"""What the onec package brings to the hub (see :mod:`hub.manifest`): 1C over OData and over SOAP web services."""

from hub.manifest import ConnectionType, FormField, Manifest


def _onec_extras(**more: FormField) -> dict[str, FormField]:
    return {
        "scheme": FormField("Scheme", default="http", choices=("http", "https")),
        "verify": FormField("Check TLS certificates", "boolean", default=True),
        "timezone": FormField("Time zone of the 1C server", description="default: the hub's HUB_TIMEZONE"),
        "timeout": FormField("Timeout, seconds", "integer", default=120),
        **more,
    }


MANIFEST = Manifest(
    name="onec",
    connectors={"onec_odata": "connectors.onec.odata:ODataConnector",
                "onec_soap": "connectors.onec.soap:SoapConnector"},
    connection_types=(
        ConnectionType(
            conn_type="hub_onec_odata",
            connector="onec_odata",
            system="1c",
            label="Hub: 1C OData",
            default_conn_id="onec",
            example="hub-onec-odata://exchange:secret@1c.internal:80/buh?scheme=http",
            extra_fields=_onec_extras(odata_path=FormField("OData path", default="odata/standard.odata")),
            relabel={"schema": "Publication", "login": "1C user"},
            placeholders={"host": "1c.internal", "port": "80", "schema": "buh"},
        ),
        ConnectionType(
            conn_type="hub_onec_soap",
            connector="onec_soap",
            system="1c",
            label="Hub: 1C SOAP web service",
            default_conn_id="onec_soap",
            example="hub-onec-soap://exchange:secret@1c.internal:80/buh?scheme=http&service=Exchange",
            extra_fields=_onec_extras(service=FormField("Web service name")),
            relabel={"schema": "Publication", "login": "1C user"},
            placeholders={"host": "1c.internal", "port": "80", "schema": "buh"},
        ),
    ),
    demo="sandbox.demo_onec:PART",
)

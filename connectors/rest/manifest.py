"""What the rest package brings to the hub (see :mod:`hub.manifest`)."""

from hub.manifest import ConnectionType, Manifest

MANIFEST = Manifest(
    name="rest",
    connectors={"rest": "connectors.rest.connector:RestConnector"},
    connection_types=(
        ConnectionType(
            conn_type="hub_rest",
            connector="rest",
            system="api",
            label="Hub: JSON API (REST)",
            default_conn_id="api",
            example="hub-rest://client_id:secret@api.example.ru:443/?scheme=https",
            relabel={"login": "Login or client id", "password": "Token, password or client secret"},
            placeholders={"host": "api.example.ru", "port": "443"},
        ),
    ),
)

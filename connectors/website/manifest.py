"""What the website package brings to the hub (see :mod:`hub.manifest`): the form source and ``hub serve intake``."""

from hub.manifest import Command, ConnectionType, Manifest

MANIFEST = Manifest(
    name="website",
    connectors={"website": "connectors.website.connector:WebsiteConnector"},
    connection_types=(
        ConnectionType(
            conn_type="hub_website",
            connector="website",
            system="website",
            label="Hub: website form source",
            default_conn_id="website",
            example="hub-website://:token-from-the-webhook-url@www.example.ru:443/api?scheme=https",
            relabel={"password": "Token or HMAC secret"},
            placeholders={"host": "shop-api.example.ru (poll sources only)"},
        ),
    ),
    commands=(Command("serve", "intake", "connectors.website.cli:serve_intake"),),
    demo="sandbox.demo_website:PART",
    inbox_streams={"website": "website"},
)

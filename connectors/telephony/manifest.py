"""What the telephony package brings to the hub (see :mod:`hub.manifest`): click-to-call and callback tasks,
``hub listen ami``, and the listener's tables (the Alembic branch ``telephony`` in ``migrations/versions``)."""

from pathlib import Path

from hub.manifest import Command, ConnectionType, FormField, Manifest, Tables

MANIFEST = Manifest(
    name="telephony",
    connectors={"telephony_ami": "connectors.telephony.originate:AmiOriginateConnector",
                "telephony_callbacks": "connectors.telephony.callbacks:CallbacksSource"},
    connection_types=(
        ConnectionType(
            conn_type="hub_asterisk_ami",
            connector="telephony_ami",
            system="pbx",
            label="Hub: Asterisk AMI",
            default_conn_id="pbx",
            example='hub-asterisk-ami://hub:secret@pbx.internal:5038/?__extra__={"cdr_timezone": "Europe/Moscow"}',
            extra_fields={
                "cdr_timezone": FormField("Time zone of the CDR",
                                          description="cdr.conf usegmtime=no: the PBX's zone"),
                "cdr_csv": FormField("cdr_csv Master.csv path", description="for recovering calls missed in a gap"),
                "region": FormField("Default phone region", default="RU"),
            },
            hidden=("schema",),
            relabel={"login": "AMI user", "password": "AMI secret"},
            placeholders={"host": "pbx.internal", "port": "5038"},
        ),
    ),
    commands=(Command("listen", "ami", "connectors.telephony.cli:listen_ami"),),
    demo="sandbox.demo_telephony:PART",
    inbox_streams={"calls": "pbx", "originate_results": "pbx"},
    tables=Tables(branch="telephony", versions=Path(__file__).parent / "migrations" / "versions",
                  metadata="connectors.telephony.state:metadata"),
)

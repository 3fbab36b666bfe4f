"""What the files package brings to the hub (see :mod:`hub.manifest`)."""

from hub.manifest import ConnectionType, FormField, Manifest

MANIFEST = Manifest(
    name="files",
    connectors={"files": "connectors.files.connector:FilesConnector"},
    connection_types=(
        ConnectionType(
            conn_type="hub_files",
            connector="files",
            system="files",
            label="Hub: files (CSV, XLSX, JSON)",
            default_conn_id="legacy_files",
            example='{"conn_type": "hub_files", "extra": {"path": "/srv/import"}}',
            extra_fields={"path": FormField("Folder", description="the folder whose files the mappings' globs name")},
            hidden=("host", "port", "login", "password", "schema"),
        ),
    ),
)

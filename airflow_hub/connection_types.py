"""The Airflow side of the installed packages' connection types (:class:`hub.manifest.ConnectionType`).

Nothing here names a system: each connector package declares its connection types in its manifest, and this
module renders them in Airflow's provider.yaml shape (:mod:`airflow_hub.provider` publishes them) and names the
hook :mod:`airflow_hub.hooks` generates for each.
"""

from __future__ import annotations

from typing import Any

from hub.manifest import ConnectionType, FormField


def hook_class_name(conn_type: str) -> str:
    """``hub_crm_db`` -> ``HubCrmDbHook`` (the class :mod:`airflow_hub.hooks` makes for the type)."""
    return "".join(part[:1].upper() + part[1:] for part in conn_type.split("_")) + "Hook"


def hook_class_path(conn_type: str) -> str:
    return f"airflow_hub.hooks.{hook_class_name(conn_type)}"


def form_field_info(form_field: FormField) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [form_field.type, "null"]}
    if form_field.default is not None:
        schema["default"] = form_field.default
    if form_field.choices:
        schema["enum"] = [*form_field.choices, None]
    info: dict[str, Any] = {"label": form_field.label, "schema": schema}
    if form_field.description:
        info["description"] = form_field.description
    return info


def provider_info(ct: ConnectionType) -> dict[str, Any]:
    """The ``connection-types`` entry of the provider info."""
    return {
        "connection-type": ct.conn_type,
        "hook-class-name": hook_class_path(ct.conn_type),
        "hook-name": ct.label,
        "conn-fields": {name: form_field_info(extra) for name, extra in ct.extra_fields.items()},
        "ui-field-behaviour": {
            "hidden-fields": list(ct.hidden),
            "relabeling": dict(ct.relabel),
            "placeholders": dict(ct.placeholders),
        },
    }

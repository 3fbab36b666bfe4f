"""The mapping model: the one source of truth for what a mapping file may say.

``config/mapping.schema.json`` is generated from these classes (``hub schema``), so editors complete and
check mapping files with exactly the rules the hub enforces. Closed vocabularies are ``Literal`` types.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import quote, unquote

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

WriteMode = Literal["create", "upsert", "update_only"]
IncrementalStrategy = Literal["cursor", "hash", "version"]
DeletePolicy = Literal["ignore", "delete", "mark"]

EXCHANGE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


#: a field name or a list of them: ``key: id`` and ``key: [id]`` mean the same
FieldNames = Annotated[
    list[str],
    BeforeValidator(_one_or_many),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


def normalize_asset_uri(uri: str) -> str:
    """``hub://onec/Catalog_Контрагенты`` and its percent-encoded form name the same asset."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    return f"{scheme}://" + "/".join(quote(unquote(part), safe="") for part in rest.split("/"))


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a mapping must not silently do nothing."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Incremental(_Strict):
    """How the source finds what is new since the last run."""

    strategy: IncrementalStrategy = Field(
        "hash",
        description="cursor: read rows whose cursor field is past the checkpoint; hash: read everything and "
        "skip records whose mapped content did not change; version: compare a version field (1C DataVersion) "
        "and fetch only new or changed objects",
    )
    cursor: str | None = Field(None, description="the source field that grows on every change (strategy: cursor)")
    version_field: str | None = Field(
        None, description="the source field that changes on every write (strategy: version)")
    lookback: int = Field(
        0, ge=0, description="cursor strategy: seconds (datetime cursor) or units (numeric cursor) re-read before "
        "the checkpoint, for rows committed late; unchanged re-reads cost nothing",
    )
    detect_deletes: bool = Field(False, description="a full read reports keys that disappeared from the source")

    @model_validator(mode="after")
    def _needs_field(self) -> Incremental:
        if self.strategy == "cursor" and not self.cursor:
            raise ValueError("strategy 'cursor' needs 'cursor: <field>'")
        if self.strategy == "version" and not self.version_field:
            raise ValueError("strategy 'version' needs 'version_field: <field>'")
        if self.detect_deletes and self.strategy == "cursor":
            raise ValueError("detect_deletes needs a full read (strategy 'hash' or 'version'), not 'cursor'")
        return self


class Source(_Strict):
    connector: str = Field(description="connector package name under connectors/, e.g. crm_db, onec_odata, inbox")
    connection: str = Field(description="connection id (Airflow Connection or AIRFLOW_CONN_<ID>)")
    stream: str = Field(description="table, entity set, or event stream to read")
    key: FieldNames = Field(description="field(s) that identify a record in the source")
    incremental: Incremental = Incremental()
    options: dict[str, Any] = Field(default_factory=dict, description="connector-specific read options")


class Target(_Strict):
    connector: str
    connection: str
    entity: str = Field(description="table or entity set to write")
    key: str | None = Field(None, description="the target's own id field, recorded in the key map")
    match: FieldNames = Field(
        default_factory=list,
        description="natural-key fields used to find an existing target object before creating one "
        "(a retry then never duplicates)",
    )
    mode: WriteMode = "upsert"
    create_only: FieldNames = Field(
        default_factory=list,
        description="fields set when the object is created and never overwritten afterwards "
        "(the target system owns them from then on)",
    )
    on_delete: DeletePolicy = Field("ignore", description="what to do when the source record disappears")
    delete_fields: dict[str, Any] = Field(
        default_factory=dict, description="on_delete: mark: the fields to set on the target object, e.g. deleted: true"
    )
    key_map_entity: str | None = Field(None, description="entity name in the key map (default: the target entity)")
    options: dict[str, Any] = Field(default_factory=dict, description="connector-specific write options")

    @model_validator(mode="after")
    def _coherent(self) -> Target:
        if self.on_delete == "mark" and not self.delete_fields:
            raise ValueError("on_delete: mark needs delete_fields (e.g. {deleted: true})")
        return self


class LookupRule(_Strict):
    """Find an existing object (e.g. the CRM client of a form submission) before mapping a record.

    ``match`` lists alternatives tried in order; each maps target fields to expressions over the source
    record. The first alternative that finds an object wins, and its fields are available to ``fields``
    under the lookup's name (``client.id``). Nothing found gives ``null``. An alternative may use the
    lookups declared before it (``{id: contact.client_id}``: the client of the contact found first).
    """

    connection: str | None = Field(None, description="default: the target connection")
    connector: str | None = Field(None, description="default: the target connector")
    entity: str
    match: list[dict[str, str]] = Field(min_length=1)
    fields: list[str] = Field(min_length=1, description="fields of the found object made available to the mapping")


class EachField(_Strict):
    """A list-valued target field (1C tabular section, child rows) built from a list in the source."""

    each: str = Field(description="expression giving the list of source rows")
    fields: dict[str, FieldSpec]
    owns: FieldNames | None = Field(
        None,
        description="the target's rows that belong to the hub: those whose values in these row fields equal a "
        "mapped row's (e.g. [Тип, Вид_Key] for 1C contact information). Every other row (an accountant's "
        "address) is kept as it is; on an object the hub did not create, mapped rows are only added. "
        "Without owns the hub owns the whole list",
    )

    @model_validator(mode="after")
    def _owns_something(self) -> EachField:
        if self.owns is not None and not self.owns:
            raise ValueError("owns needs at least one row field that tells the hub's rows from others")
        return self


class ConstField(_Strict):
    const: Any = Field(description="a literal value, written as is")


def _field_kind(value: Any) -> str | None:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return "field:expression"
    if isinstance(value, dict):
        return "field:each" if "each" in value else "field:const" if "const" in value else None
    if isinstance(value, (ConstField, EachField)):
        return "field:each" if isinstance(value, EachField) else "field:const"
    return None


FIELD_SHAPE = "a field is an expression, a literal, {const: value} or {each: list, fields: {...}}"

FieldSpec = Annotated[
    Annotated[str | int | float | bool | None, Tag("field:expression")]
    | Annotated[ConstField, Tag("field:const")]
    | Annotated[EachField, Tag("field:each")],
    Discriminator(_field_kind, custom_error_type="field_shape", custom_error_message=FIELD_SHAPE),
    Field(description="an expression over the source record, a literal, {const: ...} or {each: ..., fields: ...}"),
]
EachField.model_rebuild()


#: the business identifiers an operator searches by (``hub trace``); each is stored normalized (hub.search.kinds)
SearchKind = Literal["phone", "email", "inn", "document", "tranid", "call_id", "submission"]


class SearchField(_Strict):
    """A value this exchange's records can be found by (``hub trace``), or the key of an object it refers to.

    Only these values are kept, normalized, in the hub's search index (for ``settings.search_retention_days``);
    logs carry keys, never values.
    """

    field: str | None = Field(None, description="a target field of this mapping (its mapped value)")
    source: str | None = Field(None, description="a source field (the value as read), e.g. closed_by_call")
    kind: SearchKind | None = Field(
        None, description="what the value is: phone (stored E.164), email (lower case), inn (digits), document "
        "(a document number), tranid, call_id, submission (a form's submission id)")
    refers_to: str | None = Field(
        None, description="the value is the key of an object `hub trace` follows: 'entity' on the target's "
        "connection, or 'connection/entity' (e.g. deals, hub/calls)")

    @model_validator(mode="after")
    def _coherent(self) -> SearchField:
        if (self.field is None) == (self.source is None):
            raise ValueError("name exactly one of 'field' (a target field) or 'source' (a source field)")
        if self.kind is None and self.refers_to is None:
            raise ValueError("say what the value is ('kind') or what it refers to ('refers_to')")
        return self


class Alerts(_Strict):
    """When a run that rejected records counts as failed: its writes stay committed, but the run (and its Airflow
    task) ends failed, so the operator's notifiers and callbacks fire."""

    rejected_max: int | None = Field(None, ge=0, description="a run that rejected more records than this fails")
    rejected_ratio: float | None = Field(
        None, gt=0, le=1, description="a run that rejected more than this share of the records it read fails (0.1: 10%)"
    )

    def exceeded(self, rejected: int, read: int) -> str | None:
        """Which threshold ``rejected`` of ``read`` records is above, in words; None when none is."""
        if self.rejected_max is not None and rejected > self.rejected_max:
            return f"above alerts.rejected_max {self.rejected_max}"
        if self.rejected_ratio is not None and read and rejected / read > self.rejected_ratio:
            return f"above alerts.rejected_ratio {self.rejected_ratio:g}"
        return None


class Mapping(_Strict):
    """One exchange: which fields cross from which system to which, and how."""

    mapping_format: Literal[1] = Field(1, description="version of this file format")
    exchange: str = Field(description="unique name; becomes the DAG id")
    description: str = Field(min_length=1, description="what this exchange does, for operators")
    schedule: str | None = Field(None, description="cron expression or preset such as @hourly; null: event-driven only")
    triggers: list[str] = Field(
        default_factory=list,
        description="asset URIs that wake this exchange, e.g. hub://inbox/website or hub://crm/clients",
    )
    source: Source
    target: Target
    where: str | None = Field(None, description="a record crosses only if this expression is true")
    lookups: dict[str, LookupRule] = Field(default_factory=dict)
    fields: dict[str, FieldSpec] = Field(min_length=1, description="target field <- expression; nothing else crosses")
    batch_size: int | None = Field(None, ge=1, le=100_000)
    search: list[SearchField] = Field(
        default_factory=list,
        description="business identifiers worth finding (hub trace) and the objects a record refers to",
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="exchange-level parameters available to expressions as settings.<name>"
    )
    alerts: Alerts = Field(Alerts(), description="when rejected records make a run fail (after it committed)")

    @field_validator("triggers")
    @classmethod
    def _normalize_triggers(cls, value: list[str]) -> list[str]:
        for uri in value:
            scheme = uri.partition("://")[0] if "://" in uri else ""
            if not scheme:
                raise ValueError(f"trigger {uri!r} is not an asset URI such as hub://inbox/website")
            if scheme.lower() == "airflow":
                raise ValueError(f"trigger {uri!r}: the scheme 'airflow' is reserved by Airflow")
        return [normalize_asset_uri(uri) for uri in value]

    @field_validator("description")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the description must say what the exchange does")
        return value.strip()

    @field_validator("exchange")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not EXCHANGE_NAME.match(value):
            raise ValueError("must be lower-case letters, digits and underscores, starting with a letter")
        return value

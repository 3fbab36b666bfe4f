"""The 1C OData connector (``onec_odata``): 1C:Enterprise 8.3's standard OData interface as a source
and a target of exchanges.

Connection (Airflow shape, conn_type ``hub_onec_odata``): ``host``, ``port``, ``schema`` = the publication
path (``buh`` in ``http://srv/buh/odata/standard.odata/``), ``login``/``password`` of a 1C user (Cyrillic
is fine). Extras:

* ``scheme``: http | https (default http); ``verify``: check TLS certificates (default true)
* ``timezone``: the 1C server's time zone, in which its naive datetimes are (default: the hub's)
* ``timeout``: seconds to wait for an answer (default 120: heavy 1C queries are slow)
* ``metadata_ttl``: seconds ``$metadata`` stays cached in the process (default 3600)
* ``odata_path``: default ``odata/standard.odata``
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from connectors.onec.metadata import METADATA_CACHE, EntitySet, Metadata, service_sets
from connectors.onec.options import ODataSourceOptions, ODataTargetOptions
from connectors.onec.query import any_of, both
from connectors.onec.reader import KEY_CHUNK, EntityReader
from connectors.onec.transport import HttpClient
from connectors.onec.values import VERSION, Codec, prepare_value
from connectors.onec.writer import EntityWriter
from hub.connections import Connection
from hub.connector import (
    AmbiguousMatch,
    Capabilities,
    Connector,
    EntityInfo,
    OptionProblem,
    ReadRequest,
    Record,
    SourceBatch,
    WriteAction,
    WriteResult,
)
from hub.errors import DataError, OutcomeUnknown
from hub.settings import HubSettings


class ODataConnector(Connector):
    name: ClassVar[str] = "onec_odata"
    capabilities: ClassVar[Capabilities] = Capabilities(
        select_fields=True,
        incremental=frozenset({"cursor", "hash", "version"}),
        lookup=True,
        write_modes=frozenset({"create", "upsert", "update_only"}),
        delete=True,
    )
    source_options: ClassVar[type[BaseModel]] = ODataSourceOptions
    target_options: ClassVar[type[BaseModel]] = ODataTargetOptions

    def __init__(self, connection: Connection, settings: HubSettings):
        super().__init__(connection, settings)
        extra = connection.extra
        self.zone = connection.zone(settings.timezone)
        path = str(extra.get("odata_path", "odata/standard.odata")).strip("/")
        self.root = f"{connection.base_url()}/{path}/"
        self.metadata_ttl = float(extra.get("metadata_ttl", 3600))
        self.timeout = float(extra.get("timeout", 120))
        self._client: HttpClient | None = None
        self._codecs: dict[str, Codec] = {}
        #: (entity set, Ref_Key) -> the DataVersion the last lookup saw: what the runner planned against
        self._versions: dict[tuple[str, str], str] = {}

    # -- plumbing (nothing touches the network until it is needed)

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(self.connection, self.settings.retry, self.timeout, self.retried)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def metadata(self) -> Metadata:
        def fetch() -> bytes:
            return self.client.get_text(self.root + "$metadata", what="read $metadata").encode("utf-8")

        return METADATA_CACHE.get((self.root, self.connection.login or ""), self.metadata_ttl, fetch)

    def entity(self, name: str, where: str) -> EntitySet:
        return self.metadata.require(name, where)

    def codec(self, name: str) -> Codec:
        if name not in self._codecs:
            self._codecs[name] = Codec(self.entity(name, "connector"), self.zone)
        return self._codecs[name]

    def reader(self, name: str) -> EntityReader:
        return EntityReader(self.client, self.root, self.entity(name, "read"), self.codec(name), self.zone)

    # -- the connector interface

    def check(self) -> str:
        # JSON is asked for, but some publications answer the service document in Atom whatever is asked
        response = self.client.call("GET", self.root, params={"$format": "json"}, idempotent=True,
                                    what="read the service document", expect="text")
        sets = service_sets(response.headers.get("Content-Type", "").lower(), response.content)
        return f"{self.client.where}: OData answers, {len(sets)} entity sets visible to {self.connection.login!r}"

    def describe(self, entity: str) -> EntityInfo | None:
        found = self.metadata.entity(entity)
        return found.entity_info() if found is not None else None

    def option_problems(self, stream: str, options: BaseModel) -> Iterator[OptionProblem]:
        """``where`` names properties of the set, with values its enumerations have: 1C itself answers a
        misspelled field or value with an empty result, not an error."""
        found = self.metadata.entity(stream)
        if found is None or not isinstance(options, ODataSourceOptions):
            return
        for name, wanted in options.where.items():
            prop = found.props.get(name)
            if prop is None:
                yield ("where", name), f"{stream} has no property {name!r} in 1C's $metadata"
                continue
            for value in wanted if isinstance(wanted, list) else [wanted]:
                if prop.choices and isinstance(value, str) and value not in prop.choices:
                    yield ("where", name), f"{value!r} is not a value of {stream}.{name} " \
                                           f"(one of: {', '.join(sorted(prop.choices))})"

    def read(self, request: ReadRequest) -> Iterator[SourceBatch]:
        options = request.options if isinstance(request.options, ODataSourceOptions) else ODataSourceOptions()
        return self.reader(request.stream).read(request, options)

    def source_keys_present(self, stream: str, key: tuple[str, ...], keys: Sequence[str],
                            options: BaseModel) -> set[str] | None:
        """Of ``keys``, the objects that still exist in 1C, whatever ``options.where`` says (an unposted receipt
        only left the scope). In 1C marking for deletion *is* deleting (the physical deletion of marked objects
        comes later, by an administrator), so a marked object counts as deleted."""
        found = self.metadata.entity(stream)
        if found is None or len(key) != 1:
            return None
        live = "DeletionMark eq false" if "DeletionMark" in found.props else None
        reader = self.reader(stream)
        present: set[str] = set()  # lower case: 1C's GUIDs are compared as text
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = [(k,) for k in keys[start:start + KEY_CHUNK]]
            condition = both(any_of(found, list(key), chunk, self.zone, "existence check"), live)
            present.update(str(row[key[0]]).lower() for row in reader.fetch(list(key), condition, ()))
        return {k for k in keys if k.lower() in present}

    def prepare(self, entity: str, record: Record) -> Record:
        return self.codec(entity).prepare(record)

    def target_key_field(self, entity: str) -> str | None:
        found = self.metadata.entity(entity)
        return found.key[0] if found is not None and len(found.key) == 1 else None

    def lookup(self, entity: str, by: Sequence[str], values: Sequence[tuple[Any, ...]],
               fields: Sequence[str]) -> dict[tuple[Any, ...], Record | AmbiguousMatch]:
        """Objects whose ``by`` fields equal one of ``values``: one ``$filter`` per chunk of values.

        1C compares text ignoring case and trailing spaces, so answers are matched back to the values asked
        for the same way. An object marked for deletion counts only when no unmarked one has the values;
        several left (duplicates made by hand) are an :class:`AmbiguousMatch`, never one picked by chance.
        Each object's ``DataVersion`` is remembered: an update checks it has not moved since (:meth:`write`)."""
        target = self.entity(entity, "lookup")
        reader = self.reader(entity)
        where = f"lookup in {entity}"
        props = [target.prop(name, where) for name in by]
        extra = [name for name in ("DeletionMark", VERSION) if name in target.props]
        select = list(dict.fromkeys([*by, *fields, *target.key, *extra]))
        for name in list(select):
            if target.prop(name, where).composite and f"{name}_Type" not in select:
                select.append(f"{name}_Type")
        wanted: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # normalized values -> the values asked for
        to_send: list[tuple[Any, ...]] = []
        for original in values:
            try:
                prepared = tuple(prepare_value(p, v, self.zone, where) for p, v in zip(props, original, strict=True))
            except DataError:
                continue  # a value the field cannot hold matches nothing
            if _normal(prepared) not in wanted:
                wanted[_normal(prepared)] = tuple(original)
                to_send.append(prepared)
        rows: dict[tuple[Any, ...], list[Record]] = {}
        chunk = max(1, KEY_CHUNK // max(1, len(by)))
        for start in range(0, len(to_send), chunk):
            condition = any_of(target, by, to_send[start:start + chunk], self.zone, where)
            for row in reader.fetch(select, condition, target.key):
                asked = wanted.get(_normal(tuple(row.get(name) for name in by)))
                if asked is not None:
                    rows.setdefault(asked, []).append(row)
        found: dict[tuple[Any, ...], Record | AmbiguousMatch] = {}
        for original, candidates in rows.items():
            candidates = [r for r in candidates if not r.get("DeletionMark")] or candidates
            if len(candidates) > 1:
                found[original] = AmbiguousMatch(tuple(str(_key(target, r)) for r in candidates))
                continue
            found[original] = candidates[0]
            if VERSION in candidates[0] and len(target.key) == 1:
                self._versions[(entity, str(_key(target, candidates[0])))] = candidates[0][VERSION]
        return found

    def deletion_blockers(self, entity: str, target_keys: Sequence[str]) -> dict[str, str]:
        """Objects that documents in 1C (not marked for deletion) refer to: marking them would break the
        accountant's books, so they wait for a person. Which documents can refer to ``entity`` comes from
        ``$metadata`` (their reference properties), not from a list in the code."""
        found: dict[str, list[str]] = {}
        wanted = {key.lower(): key for key in target_keys}
        for documents, prop in self.metadata.documents_referring_to(entity):
            reader = self.reader(documents.name)
            shown = [name for name in ("Number", "Date") if name in documents.props]
            live = "DeletionMark eq false" if "DeletionMark" in documents.props else None
            for start in range(0, len(target_keys), KEY_CHUNK):
                chunk = [(key,) for key in target_keys[start:start + KEY_CHUNK]]
                condition = both(any_of(documents, [prop], chunk, self.zone, "deletion check"), live)
                for row in reader.fetch(["Ref_Key", prop, *shown], condition, ()):
                    key = wanted.get(str(row.get(prop)).lower())
                    if key is not None:
                        found.setdefault(key, []).append(_document(documents.name, row))
        return {key: f"1C has {len(docs)} document(s) referring to it: " + ", ".join(sorted(docs)[:5])
                + (", ..." if len(docs) > 5 else "") for key, docs in found.items()}

    def write(self, entity: str, actions: Sequence[WriteAction], options: BaseModel) -> list[WriteResult]:
        target = self.entity(entity, "write")

        def find(match: dict[str, Any]) -> Record | None:
            found = next(iter(self.lookup(entity, list(match), [tuple(match.values())], target.key).values()), None)
            if isinstance(found, AmbiguousMatch):
                raise OutcomeUnknown(f"create {entity}: the answer was lost and {found.describe()} {match}; check "
                                     "which one this record should have made, then replay or discard this dead letter")
            return found

        opts = options if isinstance(options, ODataTargetOptions) else ODataTargetOptions()
        writer = EntityWriter(self.client, self.root, target, self.codec(entity), find,
                              lambda ref: self._versions.get((entity, ref)))
        return writer.write(actions, opts)


def _document(set_name: str, row: Record) -> str:
    if "Number" not in row:  # a row of a tabular section: its document's key
        return f"{set_name} of {row.get('Ref_Key')}"
    when = row.get("Date")
    return f"{set_name} {row.get('Number')}" + (f" of {when:%d.%m.%Y}" if when is not None else "")


def _key(entity: EntitySet, row: Record) -> Any:
    return row.get(entity.key[0]) if len(entity.key) == 1 else tuple(row.get(k) for k in entity.key)


def _normal(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as 1C compares them: text without case and trailing spaces, empty text and null alike."""
    return tuple((v.rstrip().casefold() if isinstance(v, str) else v) if v not in (None, "") else "" for v in values)

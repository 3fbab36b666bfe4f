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
from connectors.onec.query import any_of
from connectors.onec.reader import KEY_CHUNK, EntityReader
from connectors.onec.transport import HttpClient
from connectors.onec.values import Codec, prepare_value
from connectors.onec.writer import EntityWriter
from hub.connections import Connection
from hub.connector import (
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
from hub.errors import DataError
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

    # -- plumbing (nothing touches the network until it is needed)

    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(self.connection, self.settings.retry, self.timeout)
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

    def prepare(self, entity: str, record: Record) -> Record:
        return self.codec(entity).prepare(record)

    def target_key_field(self, entity: str) -> str | None:
        found = self.metadata.entity(entity)
        return found.key[0] if found is not None and len(found.key) == 1 else None

    def lookup(self, entity: str, by: Sequence[str], values: Sequence[tuple[Any, ...]],
               fields: Sequence[str]) -> dict[tuple[Any, ...], Record]:
        """Objects whose ``by`` fields equal one of ``values``: one ``$filter`` per chunk of values.

        1C compares text ignoring case and trailing spaces, so answers are matched back to the values asked
        for the same way. Several objects with the same values (duplicates made by hand): one not marked
        for deletion wins."""
        target = self.entity(entity, "lookup")
        reader = self.reader(entity)
        where = f"lookup in {entity}"
        props = [target.prop(name, where) for name in by]
        select = list(dict.fromkeys([*by, *fields, *target.key, *(["DeletionMark"] if "DeletionMark" in
                                                                   target.props else [])]))
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
        found: dict[tuple[Any, ...], Record] = {}
        chunk = max(1, KEY_CHUNK // max(1, len(by)))
        for start in range(0, len(to_send), chunk):
            condition = any_of(target, by, to_send[start:start + chunk], self.zone, where)
            for row in reader.fetch(select, condition, target.key):
                original = wanted.get(_normal(tuple(row.get(name) for name in by)))
                if original is None:
                    continue
                if original not in found or (found[original].get("DeletionMark") and not row.get("DeletionMark")):
                    found[original] = row
        return found

    def write(self, entity: str, actions: Sequence[WriteAction], options: BaseModel) -> list[WriteResult]:
        target = self.entity(entity, "write")

        def find(match: dict[str, Any]) -> Record | None:
            found = self.lookup(entity, list(match), [tuple(match.values())], target.key)
            return next(iter(found.values()), None)

        opts = options if isinstance(options, ODataTargetOptions) else ODataTargetOptions()
        writer = EntityWriter(self.client, self.root, target, self.codec(entity), find)
        return writer.write(actions, opts)


def _normal(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as 1C compares them: text without case and trailing spaces, empty text and null alike."""
    return tuple((v.rstrip().casefold() if isinstance(v, str) else v) if v not in (None, "") else "" for v in values)

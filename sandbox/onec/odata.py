"""The ``/<publication>/odata/standard.odata/`` interface: routes, serialization, writes and actions.

Framework-free: :meth:`ODataService.handle` takes a decoded :class:`Request` and returns a
:class:`Response`; ``server.py`` puts it on real HTTP. Behaviour follows reference §8: JSON only with
``$format=json``/``Accept: application/json`` (Atom otherwise), no server paging, ``$inlinecount``
ignoring ``$top``/``$skip``, Int64 as strings, writes returning the full entity, tabular sections replaced
whole and requiring ``LineNumber``, ``DELETE`` deleting physically, ``Post``/``Unpost`` actions, business
errors as HTTP 500 with code ``-1``.
"""

from __future__ import annotations

import copy
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote
from xml.sax.saxutils import escape

from sandbox.onec.business import Business, BusinessError
from sandbox.onec.config import EMPTY_DATE, TYPES_BY_SET, UNDEFINED_TYPE, ZERO_GUID, Attr, ObjectType
from sandbox.onec.edmx import metadata_xml, service_document
from sandbox.onec.query import (
    FilterCompiler,
    ODataError,
    normalize_datetime,
    property_types,
    row_property_types,
    sort_key,
    typed,
)
from sandbox.onec.store import ObjectStore

Obj = dict[str, Any]
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INTERNAL_ERROR = ("Произошла внутренняя ошибка OData сервиса. Дополнительные сведения можно найти в "
                  "технологическом журнале.")
KNOWN_OPTIONS = {"$format", "$select", "$filter", "$orderby", "$top", "$skip", "$expand", "$inlinecount",
                 "allowedOnly", "$allowedOnly", "PostingModeOperational"}


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, relative to the OData root
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json;charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    wrote: bool = False  # the request changed data (a "lost response" fault may follow)


IfMatch = Literal["ignore", "enforce"]


@dataclass
class Interleaved:
    """A person saving an object in 1C while a client works on it, at a moment tests choose (it happens once):
    ``after_read`` right after an answer that contains the object went out (between a client's read and its
    write), ``before_write`` just before a client's write to the object is applied."""

    set_name: str
    ref: str
    edit: Callable[[], object]
    when: Literal["after_read", "before_write"] = "after_read"


@dataclass(frozen=True)
class Target:
    """What a URL path names."""

    set_name: str
    ref: str | None = None  # a single entity
    line: int | None = None  # a tabular row
    tail: str | None = None  # $count, Post, Unpost, or a navigation property


class ODataService:
    def __init__(self, store: ObjectStore, business: Business, root_url: str):
        self.store = store
        self.business = business
        #: If-Match on PATCH/PUT/DELETE: live servers ignore it (reference §13); "enforce" answers a stale
        #: DataVersion with 412, as the documentation says
        self.if_match: IfMatch = "ignore"
        self.interleaved: list[Interleaved] = []
        self.root_url = root_url.rstrip("/") + "/"
        self._metadata = metadata_xml(store.config).encode("utf-8")
        self._cache: OrderedDict[tuple[Any, ...], list[Any]] = OrderedDict()
        self._shapes: dict[tuple[Any, ...], list[tuple[str, str]]] = {}
        #: some publications answer the service document in Atom even to $format=json (reference §1.1)
        self.atom_service_document = False

    # -- entry point

    def handle(self, request: Request) -> Response:
        json_format = _wants_json(request)
        try:
            return self._route(request, json_format)
        except ODataError as exc:
            return error_response(exc, json_format)
        except BusinessError as exc:
            return error_response(ODataError(500, "-1", str(exc)), json_format)

    def _route(self, request: Request, as_json: bool) -> Response:
        for name in request.query:
            if name.startswith("$") and name not in KNOWN_OPTIONS:
                raise ODataError(400, "0", f"Параметр {name} не поддерживается")
        path = request.path.strip("/")
        if path == "":
            if as_json and not self.atom_service_document:
                return self._json({"odata.metadata": self.root_url + "$metadata",
                                   "value": [{"name": s, "url": s} for s in self._all_sets()]})
            return Response(200, service_document(self.root_url.rstrip("/"), self.store.config).encode(),
                            "application/xml;charset=utf-8")
        if path == "$metadata":
            if request.query.get("$format"):
                raise ODataError(406, "3", "Тип представления не поддерживается: метаданные доступны только в XML")
            return Response(200, self._metadata, "application/xml;charset=utf-8")
        target = parse_path(path)
        method = request.method
        if target.tail == "$count" and method == "GET":
            return Response(200, str(len(self._matching(target.set_name, request.query))).encode(),
                            "text/plain;charset=utf-8")
        if target.tail in ("Post", "Unpost"):
            if method != "POST":
                raise ODataError(405, "19", "HTTP метод не поддерживается")
            return self._action(target, request)
        if target.ref is None:
            if method == "GET":
                return self._collection(target.set_name, request, as_json)
            if method == "POST":
                return self._create(target.set_name, request, as_json)
            raise ODataError(405, "19", "HTTP метод не поддерживается")
        if method == "GET":
            return self._single(target, request, as_json)
        if method in ("PATCH", "MERGE", "PUT"):
            return self._update(target, request, as_json, replace=method == "PUT")
        if method == "DELETE":
            return self._delete(target, request)
        raise ODataError(405, "19", "HTTP метод не поддерживается")

    # -- reading

    def _type(self, set_name: str) -> ObjectType:
        t = self.store.config.by_set.get(set_name)
        if t is None:
            raise ODataError(404, "8", f"\"{set_name}\" entity is not found")
        return t

    def _table_of(self, set_name: str) -> tuple[ObjectType, str] | None:
        for t in self.store.config.types:
            for tab in t.tables:
                if set_name == f"{t.set_name}_{tab}":
                    return t, tab
        return None

    def _all_sets(self) -> list[str]:
        types = self.store.config.types
        return [name for t in types for name in [t.set_name, *(f"{t.set_name}_{x}" for x in t.tables)]]

    def _matching(self, set_name: str, query: dict[str, str]) -> list[Any]:
        """Objects (or tabular rows) passing ``$filter`` in ``$orderby`` order; cached until the next write."""
        key = (self.store.generation, set_name, query.get("$filter", ""), query.get("$orderby", ""))
        with self.store.lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
            found = self._compute(set_name, query)
            self._cache[key] = found
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
            return found

    def _compute(self, set_name: str, query: dict[str, str]) -> list[Any]:
        table = self._table_of(set_name)
        if table is not None:
            owner, tab = table
            items: list[Any] = [{"Ref_Key": o["Ref_Key"], **row} for o in self.store.all(owner.set_name)
                                for row in o.get(tab, [])]
            compiler = FilterCompiler(None, row_property_types(owner, tab), self.store.get)
            types = row_property_types(owner, tab)
        else:
            t = self._type(set_name)
            items = list(self.store.all(set_name))
            compiler = FilterCompiler(t, None, self.store.get)
            types = property_types(t)
        text = query.get("$filter")
        if text:
            predicate = compiler.compile(text)
            items = [] if predicate is None else [o for o in items if predicate(o)]
        for name, descending in reversed(parse_orderby(query.get("$orderby", ""))):
            if name not in types:
                raise ODataError(400, "10", f"Свойство не найдено: {name}")
            edm = types[name]
            items.sort(key=lambda o, n=name, e=edm: sort_key(typed(o.get(n), e)), reverse=descending)
        return items

    def _collection(self, set_name: str, request: Request, as_json: bool) -> Response:
        query = request.query
        items = self._matching(set_name, query)
        count = None
        if query.get("$inlinecount") == "allpages":
            count = len(items)  # 1C ignores $top/$skip when $inlinecount is given (reference §0.9)
        else:
            skip, top = _int_option(query, "$skip"), _int_option(query, "$top")
            items = items[skip or 0:]
            if top is not None:
                items = items[:top]
        level = _metadata_level(request)
        shape = Shape.parse(query.get("$select"), query.get("$expand"))
        table = self._table_of(set_name)
        if table is not None:
            owner, tab = table
            rows = [self._row(owner, tab, row) for row in items]
            values = [shape.project(row) for row in rows]
        else:
            t = self._type(set_name)
            values = [self._serialize(t, obj, shape, level) for obj in items]
        if table is None and self.interleaved:
            self._interleave("after_read", set_name, (o["Ref_Key"] for o in items))
        if not as_json:
            return atom_feed(self.root_url, set_name, values)
        envelope: dict[str, Any] = {}
        if level != "nometadata":
            envelope["odata.metadata"] = f"{self.root_url}$metadata#{set_name}"
        if count is not None:
            envelope["odata.count"] = str(count)
        envelope["value"] = values
        return self._json(envelope)

    def _single(self, target: Target, request: Request, as_json: bool) -> Response:
        if request.query.get("$expand"):
            raise ODataError(400, "0", "Параметр $expand не поддерживается для одиночной сущности")
        t = self._type(target.set_name)
        obj = self._require(t, target.ref or "")
        if target.tail:  # navigation property: the referenced object
            nav = t.navigation().get(target.tail)
            if nav is None:
                raise ODataError(400, "10", f"Свойство не найдено: {target.tail}")
            nav_key = {"Owner": "Owner_Key", "Parent": "Parent_Key"}.get(target.tail, f"{target.tail}_Key")
            t, obj = self._type(nav), self._require(self._type(nav), obj.get(nav_key, ZERO_GUID))
        value = self._serialize(t, obj, Shape.parse(request.query.get("$select"), None), _metadata_level(request))
        if self.interleaved:
            self._interleave("after_read", t.set_name, [obj["Ref_Key"]])
        if not as_json:
            return atom_feed(self.root_url, t.set_name, [value])
        return self._json(self._element(t, value, request))

    def _element(self, t: ObjectType, value: Obj, request: Request) -> Obj:
        if _metadata_level(request) == "nometadata":
            return value
        return {"odata.metadata": f"{self.root_url}$metadata#{t.set_name}/@Element", **value}

    def _require(self, t: ObjectType, ref: str) -> Obj:
        obj = self.store.get(t.set_name, ref)
        if obj is None:
            raise ODataError(404, "9", "Entity instance not found")
        return obj

    # -- serialization

    def _columns(self, t: ObjectType, shape: Shape) -> list[tuple[str, str]]:
        """The selected properties in metadata order, each with how it is written (cached per query shape)."""
        key = (t.set_name, shape.everything, shape.no_tables, frozenset(shape.names))
        found = self._shapes.get(key)
        if found is None:
            ints = {a.name for a in t.attrs if a.kind == "int"}
            found = [(name, "table" if name in t.tables else "int" if name in ints else "plain")
                     for name in empty_object(t) if shape.wants(name, name in t.tables)]
            self._shapes[key] = found
        return found

    def _serialize(self, t: ObjectType, obj: Obj, shape: Shape, level: str) -> Obj:
        out: Obj = {}
        for name, kind in self._columns(t, shape):
            if name not in obj:
                continue
            value = obj[name]
            if kind == "table":
                out[name] = [self._row(t, name, {"Ref_Key": obj["Ref_Key"], **row}) for row in value]
            else:
                out[name] = str(value) if kind == "int" else value
        if level != "nometadata" and shape.everything:
            for nav in t.navigation():
                out[f"{nav}@navigationLinkUrl"] = f"{t.set_name}(guid'{obj['Ref_Key']}')/{nav}"
        for nav, fields in shape.expand.items():
            target_set = t.navigation().get(nav)
            if target_set is None:
                raise ODataError(400, "10", f"Свойство не найдено: {nav}")
            nav_key = {"Owner": "Owner_Key", "Parent": "Parent_Key"}.get(nav, f"{nav}_Key")
            linked = self.store.get(target_set, obj.get(nav_key, ZERO_GUID))
            inner = Shape.parse(",".join(fields) if fields else None, None)
            out[nav] = None if linked is None else self._serialize(self._type(target_set), linked, inner, "nometadata")
        return out

    def _row(self, t: ObjectType, tab: str, row: Obj) -> Obj:
        ints = {"LineNumber", *(a.name for a in t.tables[tab] if a.kind == "int")}
        return {k: (str(v) if k in ints else v) for k, v in row.items()}

    def _json(self, value: Any, status: int = 200, headers: dict[str, str] | None = None,
              wrote: bool = False) -> Response:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return Response(status, body, "application/json;charset=utf-8", headers or {}, wrote)

    # -- writing

    def _create(self, set_name: str, request: Request, as_json: bool) -> Response:
        if self._table_of(set_name) is not None:
            raise ODataError(400, "13", "Создание строк табличной части напрямую не поддерживается")
        t = self._type(set_name)
        body = _json_body(request)
        with self.store.lock:
            obj = empty_object(t)
            ref = body.get("Ref_Key")
            if ref not in (None, "", ZERO_GUID):
                if not isinstance(ref, str) or not GUID.match(ref):
                    raise ODataError(400, "4", "Неверное значение свойства Ref_Key")
                if self.store.get(set_name, ref.lower()) is not None:
                    raise ODataError(409, "15", "Сущность с таким ключом уже существует")
                obj["Ref_Key"] = ref.lower()
            else:
                obj["Ref_Key"] = self.store.new_ref()
            apply_properties(t, obj, body)
            if t.kind == "Document" and not obj["Number"]:
                obj["Number"] = self.store.next_code(t)
            if t.kind == "Catalog" and not obj["Code"]:
                obj["Code"] = self.store.next_code(t)
            if not _load_mode(request):
                self.business.before_write(t, obj, new=True)
            self.store.put(set_name, obj)
            value = self._serialize(t, obj, Shape.parse(None, None), _metadata_level(request))
        location = f"{self.root_url}{quote(set_name)}(guid'{obj['Ref_Key']}')"
        return self._json(self._element(t, value, request), 201, {"Location": location}, wrote=True)

    def _update(self, target: Target, request: Request, as_json: bool, replace: bool) -> Response:
        if self._table_of(target.set_name) is not None:
            raise ODataError(405, "19", "Изменение строк табличной части напрямую не поддерживается")
        t = self._type(target.set_name)
        body = _json_body(request)
        with self.store.lock:
            current = self._current_for_write(t, target, request)
            obj = copy.deepcopy(current)
            if replace:
                keep = {k: obj[k] for k in ("Ref_Key", "DataVersion", "Posted") if k in obj}
                obj = {**empty_object(t), **keep}
            apply_properties(t, obj, body)
            if not _load_mode(request):
                self.business.before_write(t, obj, new=False)
            self.store.put(t.set_name, obj)
            value = self._serialize(t, obj, Shape.parse(None, None), _metadata_level(request))
        return self._json(self._element(t, value, request), wrote=True)

    def _current_for_write(self, t: ObjectType, target: Target, request: Request) -> Obj:
        """The object a write is about to change, after what a person saved meanwhile; If-Match as configured."""
        self._interleave("before_write", t.set_name, [target.ref or ""])
        current = self._require(t, target.ref or "")
        tag = request.headers.get("if-match", "").removeprefix("W/").strip('"')
        if self.if_match == "enforce" and tag and tag not in ("*", current["DataVersion"]):
            raise ODataError(412, "-1", "Объект изменен или удален другим пользователем (версия данных не совпадает)")
        return current

    def _delete(self, target: Target, request: Request) -> Response:
        t = self._type(target.set_name)
        with self.store.lock:
            self._current_for_write(t, target, request)
            self.store.delete(t.set_name, target.ref or "")
        return Response(204, b"", "", wrote=True)

    def _action(self, target: Target, request: Request) -> Response:
        t = self._type(target.set_name)
        if t.kind != "Document":
            raise ODataError(404, "11", f"Метод не найден: {target.tail}")
        with self.store.lock:
            self._interleave("before_write", t.set_name, [target.ref or ""])
            obj = copy.deepcopy(self._require(t, target.ref or ""))
            if target.tail == "Post":
                self.business.before_write(t, obj, new=False)
                self.business.post(t, obj)
                obj["Posted"] = True
            else:
                obj["Posted"] = False
            self.store.put(t.set_name, obj)
        return Response(200, b"", "", wrote=True)

    def interleave(self, set_name: str, ref: str, edit: Callable[[], object],
                   when: Literal["after_read", "before_write"] = "after_read") -> None:
        self.interleaved.append(Interleaved(set_name, ref, edit, when))

    def _interleave(self, when: str, set_name: str, refs: Iterable[str]) -> None:
        refs = set(refs)
        for hook in [h for h in self.interleaved if h.when == when and h.set_name == set_name and h.ref in refs]:
            self.interleaved.remove(hook)
            hook.edit()


# -- shapes: $select / $expand -------------------------------------------------------------------------

@dataclass
class Shape:
    everything: bool  # no $select, or '*'
    no_tables: bool  # '**'
    names: set[str]
    expand: dict[str, list[str]]  # navigation property -> selected fields (empty: all)

    @classmethod
    def parse(cls, select: str | None, expand: str | None) -> Shape:
        parts = [p.strip() for p in (select or "").split(",") if p.strip()]
        expanded = [p.strip() for p in (expand or "").split(",") if p.strip()]
        nav_fields: dict[str, list[str]] = {name: [] for name in expanded}
        names = set()
        for part in parts:
            head, _, rest = part.partition("/")
            if rest and head in nav_fields:
                nav_fields[head].append(rest)
            elif not part.endswith("____Presentation"):
                names.add(head)
        return cls(not parts or "*" in names, "**" in names, names - {"*", "**"}, nav_fields)

    def wants(self, name: str, is_table: bool) -> bool:
        if self.everything:
            return True
        if self.no_tables:
            return not is_table or name in self.names
        return name in self.names

    def project(self, row: Obj) -> Obj:
        return row if self.everything else {k: v for k, v in row.items() if k in self.names}


# -- helpers -------------------------------------------------------------------------------------------

def parse_path(path: str) -> Target:
    match = re.fullmatch(r"([^(/]+)(?:\((.*?)\))?(?:/(.+?))?(?:\(\))?", path)
    if match is None:
        raise ODataError(404, "6", "Неверный URL")
    set_name, key, tail = match.groups()
    if key is None:
        if tail not in (None, "$count"):
            raise ODataError(404, "6", "Неверный URL")
        return Target(set_name, tail=tail)
    ref, line = None, None
    for part in key.split(","):
        name, _, literal = part.rpartition("=")
        literal = literal.strip()
        if literal.startswith("guid'") and literal.endswith("'"):
            value = literal[5:-1]
            if not GUID.match(value):
                raise ODataError(400, "7", "Неверный элемент ключа")
            ref = value.lower()
        elif name.strip() == "LineNumber" and literal.isdigit():
            line = int(literal)
        else:
            raise ODataError(400, "7", "Неверный элемент ключа")
    if ref is None:
        raise ODataError(400, "7", "Отсутствует элемент ключа Ref_Key")
    return Target(set_name, ref, line, tail)


def parse_orderby(text: str) -> list[tuple[str, bool]]:
    keys = []
    for part in text.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise ODataError(400, "14", "Ошибка разбора параметра запроса $orderby")
        keys.append((words[0], len(words) == 2 and words[1] == "desc"))
    return keys


def _int_option(query: dict[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None:
        return None
    if not text.isdigit():
        raise ODataError(400, "1", f"Невозможно разобрать значение параметра {name}")
    return int(text)


def _wants_json(request: Request) -> bool:
    fmt = request.query.get("$format", "")
    if fmt:
        return fmt == "json" or fmt.startswith("application/json")
    return "application/json" in request.headers.get("accept", "")


def _metadata_level(request: Request) -> str:
    text = request.query.get("$format", "") + ";" + request.headers.get("accept", "")
    for level in ("nometadata", "fullmetadata"):
        if f"odata={level}" in text:
            return level
    return "minimalmetadata"


def _load_mode(request: Request) -> bool:
    return request.headers.get("1c_odata-dataloadmode", "").lower() == "true"


def _json_body(request: Request) -> Obj:
    try:
        body = json.loads(request.body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ODataError(400, "2", "Неверный формат запроса") from None
    if not isinstance(body, dict):
        raise ODataError(400, "2", "Неверный формат запроса")
    return body


def empty_object(t: ObjectType) -> Obj:
    obj: Obj = dict(t.standard_empty())
    for attr in t.attrs:
        obj.update(_attr_empty(attr))
    for tab in t.tables:
        obj[tab] = []
    return obj


def _attr_empty(attr: Attr) -> Obj:
    if attr.kind == "composite":
        return {attr.name: "", f"{attr.name}_Type": UNDEFINED_TYPE}
    return {attr.properties[0][0]: attr.empty()}


WRITABLE_STANDARD = {"DeletionMark", "Code", "Description", "Parent_Key", "Owner_Key", "IsFolder", "Number", "Date"}


def apply_properties(t: ObjectType, obj: Obj, body: Obj) -> None:
    """Set the properties a client sent; unknown ones are ignored, as 1C does."""
    standard = {name: edm for name, edm, _ in t.standard()}
    lengths = {name: length for name, _, length in t.standard()}
    for name, value in body.items():
        if "@" in name:
            if name.endswith("@odata.bind") and isinstance(value, str):
                _bind(t, obj, name[:-len("@odata.bind")], value)
            continue
        if name in standard:
            if name in WRITABLE_STANDARD:
                obj[name] = convert(name, standard[name], value, lengths.get(name))
            continue
        if name in t.tables:
            obj[name] = _rows(t, name, value)
            continue
        attr = _attr_for(t.attrs, name)
        if attr is not None:
            obj.update(_attr_value(attr, name, value))


def _bind(t: ObjectType, obj: Obj, nav: str, uri: str) -> None:
    match = re.search(r"\(guid'([0-9a-fA-F-]{36})'\)$", uri)
    if nav in t.navigation() and match:
        obj[{"Owner": "Owner_Key", "Parent": "Parent_Key"}.get(nav, f"{nav}_Key")] = match.group(1).lower()


def _attr_for(attrs: Iterable[Attr], prop: str) -> Attr | None:
    for attr in attrs:
        if prop in (name for name, _ in attr.properties):
            return attr
    return None


def _attr_value(attr: Attr, prop: str, value: Any) -> Obj:
    if attr.kind == "composite":
        if prop.endswith("_Type"):
            type_name = value or UNDEFINED_TYPE
            if not isinstance(type_name, str) or (type_name != UNDEFINED_TYPE
                                                  and type_name.removeprefix("StandardODATA.") not in TYPES_BY_SET):
                raise ODataError(400, "4", f"Неверное значение свойства {prop}")
            return {prop: type_name}
        text = "" if value is None else value
        if not isinstance(text, str) or (text and not GUID.match(text)):
            raise ODataError(400, "4", f"Неверное значение свойства {prop}")
        return {prop: text.lower()}
    edm = attr.properties[0][1]
    return {prop: convert(prop, edm, value, attr.length if attr.kind == "string" else None)}


def convert(prop: str, edm: str, value: Any, length: int | None) -> Any:
    """A JSON value for an Edm property, as 1C stores it; a wrong type is code 4."""
    def bad() -> ODataError:
        return ODataError(400, "4", f"Неверное значение свойства {prop}")

    if edm == "Edm.Guid":
        if value in (None, ""):
            return ZERO_GUID
        if not isinstance(value, str) or not GUID.match(value):
            raise bad()
        return value.lower()
    if edm == "Edm.String":
        if value is None:
            return ""
        if not isinstance(value, str):
            raise bad()
        return value[:length] if length else value  # 1C cuts strings to the attribute's length
    if edm == "Edm.Boolean":
        if not isinstance(value, bool):
            raise bad()
        return value
    if edm == "Edm.DateTime":
        if value in (None, ""):
            return EMPTY_DATE
        if not isinstance(value, str):
            raise bad()
        try:
            return normalize_datetime(value)
        except ODataError:
            raise bad() from None
    if edm == "Edm.Int64":
        try:
            number = int(value) if not isinstance(value, bool) and not isinstance(value, float) else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise bad()
        return number
    if edm == "Edm.Double":
        if isinstance(value, bool):
            raise bad()
        if value is None:
            return 0
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad() from None
        return int(number) if number.is_integer() else number
    return value


def _rows(t: ObjectType, tab: str, value: Any) -> list[Obj]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise ODataError(400, "4", f"Неверное значение свойства {tab}")
    rows = []
    for number, raw in enumerate(value, 1):
        if "LineNumber" not in raw:  # reference §2.1: a row without LineNumber is an internal error
            raise ODataError(500, "-1", INTERNAL_ERROR)
        row: Obj = {"LineNumber": number}
        for attr in t.tables[tab]:
            row.update(_attr_empty(attr))
        for name, cell in raw.items():
            attr = _attr_for(t.tables[tab], name)
            if attr is not None:
                row.update(_attr_value(attr, name, cell))
        rows.append(row)
    return rows


def error_response(exc: ODataError, as_json: bool) -> Response:
    if as_json:
        body = json.dumps({"odata.error": {"code": exc.code, "message": {"lang": "ru", "value": exc.message}}},
                          ensure_ascii=False).encode("utf-8")
        return Response(exc.status, body, "application/json;charset=utf-8")
    xml = ('<?xml version="1.0" encoding="utf-8"?><m:error xmlns:m="http://schemas.microsoft.com/ado/2007/08/'
           f'dataservices/metadata"><m:code>{escape(exc.code)}</m:code><m:message xml:lang="ru">'
           f"{escape(exc.message)}</m:message></m:error>")
    return Response(exc.status, xml.encode("utf-8"), "application/xml;charset=utf-8")


def atom_feed(root: str, set_name: str, values: list[Obj]) -> Response:
    """A minimal Atom feed: enough for a client that forgot ``$format=json`` to notice it got XML."""
    entries = []
    for value in values:
        props = "".join(f"<d:{escape(k)}>{escape(str(v))}</d:{escape(k)}>" for k, v in value.items()
                        if not isinstance(v, (list, dict)) and "@" not in k)
        entries.append(f"<entry><category term=\"StandardODATA.{escape(set_name)}\"/><content type=\"application/xml\">"
                       f"<m:properties>{props}</m:properties></content></entry>")
    xml = ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
           'xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" '
           'xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" '
           f'xml:base="{escape(root)}"><title type="text">{escape(set_name)}</title>{"".join(entries)}</feed>')
    return Response(200, xml.encode("utf-8"), "application/atom+xml;type=feed;charset=utf-8")


"""``$metadata`` (EDMX, CSDL v3) parsed into what the connector needs: entity sets, their properties with
Edm types, tabular sections with their row properties, composite attributes (a ``X``/``X_Type`` pair),
the values of enumeration attributes; and the service document's list of entity sets (JSON or Atom).

A real configuration's EDMX is ~15 MB (reference §1.1), so it is fetched once and cached in the process
for ``metadata_ttl`` seconds per server and user (the visible objects depend on the user's rights).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lxml import etree

from hub.connector import EntityInfo, FieldInfo, FieldKind
from hub.errors import ConfigError

EDM_KINDS: dict[str, FieldKind] = {
    "Edm.String": "string", "Edm.Guid": "uuid", "Edm.Boolean": "boolean", "Edm.DateTime": "datetime",
    "Edm.DateTimeOffset": "datetime", "Edm.Int16": "integer", "Edm.Int32": "integer", "Edm.Int64": "integer",
    "Edm.Byte": "integer", "Edm.SByte": "integer", "Edm.Double": "decimal", "Edm.Single": "decimal",
    "Edm.Decimal": "decimal", "Edm.Binary": "binary", "Edm.Stream": "binary",
}


@dataclass(frozen=True)
class Prop:
    name: str
    edm: str  # Edm.* or Collection(StandardODATA.<RowType>)
    nullable: bool = True
    max_length: int | None = None
    composite: bool = False  # the value half of a composite attribute (its type is in <name>_Type)
    choices: frozenset[str] | None = None  # an enumeration's members, when the name tells which (see EnumChoices)

    @property
    def kind(self) -> FieldKind:
        if self.edm.startswith("Collection("):
            return "list"
        return "string" if self.composite else EDM_KINDS.get(self.edm, "any")


@dataclass(frozen=True)
class EntitySet:
    name: str
    props: dict[str, Prop]
    key: tuple[str, ...]
    tables: dict[str, dict[str, Prop]] = field(default_factory=dict)  # tabular section -> row properties
    navigation: frozenset[str] = frozenset()
    #: reference property (``Контрагент_Key``) -> the entity set it points to, from the navigation properties
    references: dict[str, str] = field(default_factory=dict)

    @property
    def is_document(self) -> bool:
        return self.name.startswith("Document_")

    def prop(self, name: str, where: str) -> Prop:
        found = self.props.get(name)
        if found is None:
            raise ConfigError(f"{self.name} has no property {name!r} in 1C's $metadata ({where})")
        return found

    def entity_info(self) -> EntityInfo:
        fields: dict[str, FieldInfo] = {}
        for name, prop in self.props.items():
            children = None
            if name in self.tables:
                children = {n: FieldInfo(n, p.kind, p.nullable, p.max_length, choices=p.choices)
                            for n, p in self.tables[name].items()}
            fields[name] = FieldInfo(name, prop.kind, prop.nullable, prop.max_length, children, prop.choices)
        return EntityInfo(self.name, fields, self.key)


@dataclass(frozen=True)
class Metadata:
    sets: dict[str, EntitySet]
    actions: frozenset[tuple[str, str]]  # (entity set, bound function) such as (Document_X, Post)

    def entity(self, name: str) -> EntitySet | None:
        return self.sets.get(name)

    def documents_referring_to(self, name: str) -> list[tuple[EntitySet, str]]:
        """(document set or its tabular section, reference property) pairs that can point to set ``name``."""
        return [(found, prop) for found in self.sets.values() if found.name.startswith("Document_")
                for prop, target in found.references.items() if target == name]

    def require(self, name: str, where: str) -> EntitySet:
        found = self.sets.get(name)
        if found is None:
            raise ConfigError(f"entity set {name!r} is not in 1C's $metadata ({where}); is it included in the "
                              "OData interface (УстановитьСоставСтандартногоИнтерфейсаOData) and spelled exactly?")
        return found


EDM_NS = "{http://schemas.microsoft.com/ado/2009/11/edm}"


def parse_metadata(xml: bytes) -> Metadata:
    try:
        root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"1C's $metadata is not valid XML: {exc}") from None
    types: dict[str, etree._Element] = {}
    enums: dict[str, frozenset[str]] = {}
    for schema in root.iter(f"{EDM_NS}Schema"):
        namespace = schema.get("Namespace", "")
        for element in schema:
            if element.tag in (f"{EDM_NS}EntityType", f"{EDM_NS}ComplexType"):
                types[f"{namespace}.{element.get('Name')}"] = element
            elif element.tag == f"{EDM_NS}EnumType":
                enums[element.get("Name", "")] = frozenset(m.get("Name", "") for m in element
                                                           if m.tag == f"{EDM_NS}Member")
    choices = EnumChoices(enums)
    sets: dict[str, EntitySet] = {}
    actions: set[tuple[str, str]] = set()
    for container in root.iter(f"{EDM_NS}EntityContainer"):
        for element in container:
            if element.tag == f"{EDM_NS}EntitySet":
                entity_type = types.get(element.get("EntityType", ""))
                if entity_type is not None:
                    sets[element.get("Name", "")] = _entity_set(element.get("Name", ""), entity_type, types, choices)
            elif element.tag == f"{EDM_NS}FunctionImport" and element.get("EntitySetPath"):
                actions.add((element.get("EntitySetPath", ""), element.get("Name", "")))
    return Metadata(_with_references(root, sets), frozenset(actions))


class EnumChoices:
    """Which enumeration an attribute takes its values from.

    1C types an enumeration attribute ``Edm.String`` and does not name its ``EnumType`` (reference §1.1), so
    the link is made by 1C's naming habit: the enumeration's name starts with the attribute's words, the first
    one in the plural (``СтавкаНДС`` -> ``СтавкиНДС``, ``ВидДоговора`` -> ``ВидыДоговоровКонтрагентов``,
    ``ЮридическоеФизическоеЛицо`` -> itself). Several enumerations may fit (``ВидОперации`` of different
    documents): a value is valid if one of them has it. An attribute that fits none is not checked."""

    def __init__(self, enums: dict[str, frozenset[str]]):
        self._enums = [(_words(name), members) for name, members in enums.items()]
        self._found: dict[str, frozenset[str] | None] = {}

    def of(self, attribute: str, edm: str) -> frozenset[str] | None:
        if edm != "Edm.String" or not self._enums:
            return None
        if attribute not in self._found:
            words = [_stem(w) for w in _words(attribute)]
            members = [m for enum_words, m in self._enums if len(enum_words) >= len(words)
                       and all(e.startswith(w) for w, e in zip(words, enum_words, strict=False))]
            self._found[attribute] = frozenset().union(*members) if members else None
        return self._found[attribute]


WORD = re.compile(r"[А-ЯЁA-Z]+(?![а-яёa-z])|[А-ЯЁA-Z][а-яёa-z0-9]*|[а-яёa-z0-9]+")


def _words(name: str) -> list[str]:
    return WORD.findall(name)


def _stem(word: str) -> str:
    """The word without a final vowel, so that its plural and other cases start with it (Ставка -> Ставк)."""
    return word[:-1] if len(word) > 3 and word[-1] in "аяоеиыйь" else word


def _props(element: etree._Element, choices: EnumChoices) -> dict[str, Prop]:
    raw = [(p.get("Name", ""), p.get("Type", ""), p.get("Nullable", "true") != "false", p.get("MaxLength"))
           for p in element if p.tag == f"{EDM_NS}Property"]
    names = {name for name, *_ in raw}
    props = {}
    for name, edm, nullable, length in raw:
        composite = edm == "Edm.String" and f"{name}_Type" in names
        props[name] = Prop(name, edm, nullable, int(length) if length and length.isdigit() and int(length) else None,
                           composite=composite,
                           choices=None if composite or name.endswith("_Type") or length else choices.of(name, edm))
    return props


def _entity_set(name: str, element: etree._Element, types: dict[str, etree._Element],
                choices: EnumChoices) -> EntitySet:
    props = _props(element, choices)
    key = tuple(ref.get("Name", "") for ref in element.iter(f"{EDM_NS}PropertyRef"))
    tables: dict[str, dict[str, Prop]] = {}
    for prop in props.values():
        if prop.edm.startswith("Collection("):
            row_type = types.get(prop.edm[len("Collection("):-1])
            if row_type is not None:
                tables[prop.name] = {"LineNumber": Prop("LineNumber", "Edm.Int64", False),
                                     **_props(row_type, choices)}
    navigation = frozenset(n.get("Name", "") for n in element if n.tag == f"{EDM_NS}NavigationProperty")
    return EntitySet(name, props, key, tables, navigation)


APP_NS = "{http://www.w3.org/2007/app}"


def service_sets(content_type: str, body: bytes) -> list[str]:
    """The entity sets a service document lists, in either of the forms 1C answers it (reference §1.1):
    JSON (``{"value": [{"name": …, "url": …}]}``) or Atom (``<service><workspace><collection href=…>``)."""
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            raise ConfigError("1C's service document is not valid JSON") from None
        values = data.get("value", []) if isinstance(data, dict) else []
        return [str(v.get("url") or v.get("name")) for v in values if isinstance(v, dict)]
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"1C's service document is neither JSON nor valid XML: {exc}") from None
    if root.tag != f"{APP_NS}service":
        raise ConfigError(f"1C's service document is XML but not an Atom service document (<{root.tag}>)")
    return [c.get("href", "") for c in root.iter(f"{APP_NS}collection")]


class MetadataCache:
    """Process-wide cache: ``$metadata`` per (service root, user), refreshed after ``ttl`` seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], tuple[float, Metadata]] = {}

    def get(self, key: tuple[str, str], ttl: float, fetch: Callable[[], bytes]) -> Metadata:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and time.monotonic() - entry[0] < ttl:
                return entry[1]
        metadata = parse_metadata(fetch())
        with self._lock:
            self._entries[key] = (time.monotonic(), metadata)
        return metadata

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


METADATA_CACHE = MetadataCache()


def _with_references(root: etree._Element, sets: dict[str, EntitySet]) -> dict[str, EntitySet]:
    """Each set with its reference properties and the sets they point to: a navigation property names an
    association, whose far end names the entity type, whose entity set is the target."""
    ends: dict[tuple[str, str], str] = {}  # (association, role) -> entity type
    entity_types: dict[str, etree._Element] = {}
    for schema in root.iter(f"{EDM_NS}Schema"):
        namespace = schema.get("Namespace", "")
        for element in schema:
            if element.tag == f"{EDM_NS}EntityType":
                entity_types[f"{namespace}.{element.get('Name')}"] = element
            elif element.tag == f"{EDM_NS}Association":
                for end in element.iter(f"{EDM_NS}End"):
                    ends[(f"{namespace}.{element.get('Name')}", end.get("Role", ""))] = end.get("Type", "")
    declared = list(root.iter(f"{EDM_NS}EntitySet"))
    set_of_type: dict[str, str] = {}
    for element in declared:
        set_of_type.setdefault(element.get("EntityType", ""), element.get("Name", ""))
    linked = dict(sets)
    for element in declared:
        found, entity_type = sets.get(element.get("Name", "")), entity_types.get(element.get("EntityType", ""))
        if found is None or entity_type is None:
            continue
        references = {f"{nav.get('Name')}_Key": set_of_type.get(ends.get((nav.get("Relationship", ""),
                                                                          nav.get("ToRole", "")), ""), "")
                      for nav in entity_type if nav.tag == f"{EDM_NS}NavigationProperty"}
        linked[found.name] = replace(found, references={prop: target for prop, target in references.items()
                                                        if target and prop in found.props})
    return linked

"""Checks a mapping against the systems it names: ``hub validate`` proves every stream, entity and field
exists and that field types are compatible, before anything runs.

Offline checks (connector names, connector options) need no connection; online checks ask each connector
to ``describe`` the stream or entity.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hub.connector import Connector, EntityInfo, FieldInfo, FieldKind, connector_class, parse_options
from hub.errors import ConfigError, HubError, MappingError
from hub.expr.functions import FUNCTIONS
from hub.expr.language import CONSTANT_NAMES, RESERVED, parse
from hub.mapping.loader import LoadedMapping
from hub.mapping.model import ConstField, EachField

#: which expression result kinds a target field of each kind accepts
ACCEPTS: dict[str, set[str]] = {
    "string": {"string", "integer", "decimal", "float", "boolean", "date", "datetime", "uuid", "any"},
    "integer": {"integer", "boolean", "any"},
    "decimal": {"integer", "decimal", "float", "any"},
    "float": {"integer", "decimal", "float", "any"},
    "boolean": {"boolean", "any"},
    "date": {"date", "datetime", "any"},
    "datetime": {"datetime", "date", "any"},
    "uuid": {"uuid", "string", "any"},
    "json": {"string", "integer", "decimal", "float", "boolean", "date", "datetime", "uuid", "json", "list", "any"},
    "list": {"list", "any"},
    "binary": {"binary", "any"},
    "any": {"string", "integer", "decimal", "float", "boolean", "date", "datetime", "uuid", "json", "list",
            "binary", "any"},
}


@dataclass(frozen=True)
class Finding:
    error: MappingError
    warning: bool = False


ConnectorFactory = Callable[[str, str], Connector]


def offline_findings(loaded: LoadedMapping) -> Iterator[Finding]:
    mapping = loaded.mapping
    for side, spec in (("source", mapping.source), ("target", mapping.target)):
        try:
            cls = connector_class(spec.connector)
        except ConfigError as exc:
            yield Finding(_error(loaded, str(exc), side, "connector"))
            continue
        model = cls.source_options if side == "source" else cls.target_options
        try:
            parse_options(model, spec.options, side)
        except ConfigError as exc:
            yield Finding(_error(loaded, exc.problem, side, "options", *exc.loc))
        if side == "source" and mapping.source.incremental.strategy not in cls.capabilities.incremental:
            yield Finding(_error(loaded, f"connector {spec.connector!r} cannot read with strategy "
                                         f"{mapping.source.incremental.strategy!r}", "source", "incremental"))
        if side == "target" and mapping.target.mode not in cls.capabilities.write_modes:
            yield Finding(_error(loaded, f"connector {spec.connector!r} cannot write in mode "
                                         f"{mapping.target.mode!r}", "target", "mode"))
    yield from _search_findings(loaded)


def _search_findings(loaded: LoadedMapping) -> Iterator[Finding]:
    """A search entry naming a target field the mapping does not write would index nothing, silently."""
    for position, entry in enumerate(loaded.mapping.search):
        if entry.field is not None and entry.field not in loaded.mapping.fields:
            yield Finding(_error(loaded, f"{entry.field!r} is not a field of this mapping (use 'source:' for a "
                                         "source field)", "search", position, "field"))


def online_findings(loaded: LoadedMapping, connect: ConnectorFactory) -> Iterator[Finding]:
    mapping = loaded.mapping
    try:
        source = connect(mapping.source.connector, mapping.source.connection)
        options = parse_options(type(source).source_options, mapping.source.options, "source")
        source_info = source.describe_source(mapping.source.stream, options)
    except HubError as exc:
        yield Finding(_error(loaded, f"cannot inspect the source: {exc}", "source", "connection"))
        return
    try:
        target = connect(mapping.target.connector, mapping.target.connection)
        target_info = target.describe(mapping.target.entity)
    except HubError as exc:
        yield Finding(_error(loaded, f"cannot inspect the target: {exc}", "target", "connection"))
        return
    if source_info is None:
        yield Finding(_error(loaded, f"stream {mapping.source.stream!r} does not exist in connection "
                                     f"{mapping.source.connection!r}", "source", "stream"))
    if target_info is None:
        yield Finding(_error(loaded, f"entity {mapping.target.entity!r} does not exist in connection "
                                     f"{mapping.target.connection!r}", "target", "entity"))
    if source_info is not None:
        yield from _source_fields(loaded, source_info)
        for path, problem in source.option_problems(mapping.source.stream, options):
            yield Finding(_error(loaded, problem, "source", "options", *path))
    if target_info is not None:
        yield from _target_fields(loaded, source_info, target_info)
    yield from _lookup_rules(loaded, connect)
    yield from _owned_rows(loaded)


WILDCARD = "*"  # an entity without a fixed schema declares this field: any name is accepted


def _source_fields(loaded: LoadedMapping, info: EntityInfo) -> Iterator[Finding]:
    mapping = loaded.mapping
    if WILDCARD in info.fields:
        return
    known = set(info.fields) | set(mapping.lookups)
    for index, name in enumerate(mapping.source.key):
        if name not in info.fields:
            yield Finding(_error(loaded, f"source key field {name!r} is not in {info.name!r}", "source", "key", index))
    for attr in ("cursor", "version_field"):
        name = getattr(mapping.source.incremental, attr)
        if name and name not in info.fields:
            yield Finding(_error(loaded, f"{attr} {name!r} is not a field of {info.name!r}",
                                 "source", "incremental", attr))
    for path, text in _expressions(loaded):
        for name in sorted(_top_level_names(text) - known):
            if path[0] == "fields" and "fields" in path[2:]:
                continue  # a field of a child row: checked by the connector that builds the rows
            yield Finding(_error(loaded, f"source stream {info.name!r} has no field {name!r}", *path))


def _target_fields(loaded: LoadedMapping, source: EntityInfo | None, info: EntityInfo) -> Iterator[Finding]:
    mapping = loaded.mapping
    for name, spec in mapping.fields.items():
        field = info.fields.get(name) or info.fields.get(WILDCARD)
        if field is None:
            yield Finding(_error(loaded, f"target entity {info.name!r} has no field {name!r}", "fields", name))
            continue
        produced = _spec_kind(spec, source)
        if produced not in ACCEPTS.get(field.kind, ACCEPTS["any"]):
            yield Finding(_error(loaded, f"field {name!r} is {field.kind} in {info.name!r}, but the expression "
                                         f"gives {produced}", "fields", name))
        yield from _choices(loaded, spec, field, ("fields", name))
        if isinstance(spec, EachField) and field.children:
            for child, child_spec in spec.fields.items():
                if child not in field.children:
                    yield Finding(_error(loaded, f"rows of {name!r} have no field {child!r}",
                                         "fields", name, "fields", child))
                else:
                    yield from _choices(loaded, child_spec, field.children[child], ("fields", name, "fields", child))
    if mapping.target.match and tuple(mapping.target.match) not in {tuple(k) for k in info.unique_keys} \
            and set(mapping.target.match) != set(info.primary_key):
        yield Finding(_error(loaded, f"no unique key on {mapping.target.match} in {info.name!r}: concurrent "
                                     "writers could create duplicates (add a unique constraint)",
                             "target", "match"), warning=True)


def _choices(loaded: LoadedMapping, spec: Any, field: FieldInfo, path: tuple[Any, ...]) -> Iterator[Finding]:
    """A literal (or a setting) given to a field that takes only some values (a 1C enumeration) must be one."""
    if not field.choices:
        return
    for value, where in _literals(loaded, spec, path):
        if value not in field.choices:
            shown = ", ".join(sorted(field.choices)[:12]) + (", ..." if len(field.choices) > 12 else "")
            yield Finding(_error(loaded, f"{value!r} is not a value of {field.name!r} (one of: {shown})", *where))


def _literals(loaded: LoadedMapping, spec: Any, path: tuple[Any, ...]) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """The text values a field spec can give without reading a record, each with where it is written."""
    if isinstance(spec, ConstField):
        if isinstance(spec.const, str):
            yield spec.const, path
        return
    if not isinstance(spec, str):
        return
    try:
        tree = parse(spec).tree
    except ValueError:
        return  # reported by the offline checks

    def walk(node: ast.expr) -> Iterator[tuple[str, tuple[Any, ...]]]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value, path
        elif isinstance(node, ast.IfExp):
            yield from walk(node.body)
            yield from walk(node.orelse)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings":
            value = loaded.mapping.settings.get(node.attr)
            if isinstance(value, str):
                yield value, ("settings", node.attr)

    yield from walk(tree)


def _lookup_rules(loaded: LoadedMapping, connect: ConnectorFactory) -> Iterator[Finding]:
    mapping = loaded.mapping
    for name, rule in mapping.lookups.items():
        try:
            connector = connect(rule.connector or mapping.target.connector,
                                rule.connection or mapping.target.connection)
            info = connector.describe(rule.entity)
        except HubError as exc:
            yield Finding(_error(loaded, f"cannot inspect the lookup's entity: {exc}", "lookups", name))
            continue
        if info is None:
            yield Finding(_error(loaded, f"lookup entity {rule.entity!r} does not exist", "lookups", name, "entity"))
            continue
        if WILDCARD in info.fields:
            continue
        for position, alternative in enumerate(rule.match):
            for field in alternative:
                if field not in info.fields:
                    yield Finding(_error(loaded, f"{rule.entity!r} has no field {field!r}",
                                         "lookups", name, "match", position, field))
        for index, field in enumerate(rule.fields):
            if field not in info.fields:
                yield Finding(_error(loaded, f"{rule.entity!r} has no field {field!r}",
                                     "lookups", name, "fields", index))


def _owned_rows(loaded: LoadedMapping) -> Iterator[Finding]:
    """``owns`` names row fields the mapping writes: the hub tells its rows by values it writes itself."""
    for name, spec in loaded.mapping.fields.items():
        for index, owned in enumerate(spec.owns or () if isinstance(spec, EachField) else ()):
            if owned not in spec.fields:  # type: ignore[union-attr]
                yield Finding(_error(loaded, f"owns names {owned!r}, which is not one of the row fields of {name!r} "
                                             "the mapping writes", "fields", name, "owns", index))


def _expressions(loaded: LoadedMapping) -> Iterator[tuple[tuple[Any, ...], str]]:
    mapping = loaded.mapping
    if mapping.where:
        yield ("where",), mapping.where
    for name, rule in mapping.lookups.items():
        for position, alternative in enumerate(rule.match):
            for field, text in alternative.items():
                yield ("lookups", name, "match", position, field), text
    yield from _field_expressions(mapping.fields, ("fields",))


def _field_expressions(fields: dict[str, Any], prefix: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    for name, spec in fields.items():
        if isinstance(spec, str):
            yield (*prefix, name), spec
        elif isinstance(spec, EachField):
            yield (*prefix, name, "each"), spec.each
            yield from _field_expressions(spec.fields, (*prefix, name, "fields"))


def _top_level_names(text: str) -> set[str]:
    return set(parse(text).names)


def _spec_kind(spec: Any, source: EntityInfo | None) -> str:
    if isinstance(spec, EachField):
        return "list"
    if isinstance(spec, ConstField):
        return _literal_kind(spec.const)
    if isinstance(spec, str):
        return expression_kind(parse(spec).tree, source)
    return _literal_kind(spec)


def expression_kind(node: ast.expr, source: EntityInfo | None) -> str:
    """A best-effort static type of an expression ("any" when it cannot be known)."""
    if isinstance(node, ast.Constant):
        return _literal_kind(node.value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANT_NAMES:
            return _literal_kind(CONSTANT_NAMES[node.id])
        if node.id in RESERVED or source is None or node.id not in source.fields:
            return "any"
        kind: FieldKind = source.fields[node.id].kind
        return kind
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        returns = FUNCTIONS[node.func.id].returns
        if node.func.id in ("coalesce", "default") and node.args:
            return expression_kind(node.args[0], source)
        return returns
    if isinstance(node, (ast.Compare, ast.BoolOp)) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
        return "boolean"
    if isinstance(node, ast.IfExp):
        kinds = {expression_kind(branch, source) for branch in (node.body, node.orelse) if not _null(branch)}
        return kinds.pop() if len(kinds) == 1 else "any"
    return "any"


def _null(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (isinstance(node, ast.Name) and node.id == "null")


def _literal_kind(value: Any) -> str:
    if value is None:
        return "any"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "json"


def _error(loaded: LoadedMapping, problem: str, *path: Any) -> MappingError:
    return MappingError(problem, file=str(loaded.path), line=loaded.line_of(*path), path=".".join(map(str, path)))

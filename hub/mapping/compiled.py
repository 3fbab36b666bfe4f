"""A mapping compiled once into Python functions: ``where``, ``map_record`` and the lookup matchers."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.errors import MappingError
from hub.expr.compiler import Module, Scope, field_assignment
from hub.expr.functions import FUNCTIONS
from hub.expr.language import ExpressionError, parse
from hub.mapping.model import ConstField, EachField, FieldSpec, Mapping
from hub.mapping.yaml_source import LocatedData

Record = dict[str, Any]
MapFn = Callable[[Record, Any, Record], Record]
WhereFn = Callable[[Record, Any, Record], bool]
MatchFn = Callable[[Record, Any, Record], Record]


@dataclass(frozen=True)
class CompiledMapping:
    mapping: Mapping
    file: str | None
    version: str  # changes whenever what the mapping does changes
    source_fields: frozenset[str] | None  # source fields the mapping reads (None: all); ask only for these
    child_fields: dict[str, frozenset[str]]  # list field -> row fields read from each row
    map_record: MapFn
    where: WhereFn | None
    where_uses_lookups: bool
    #: the output depends only on the source record (no lookups, no key map): an unchanged source record
    #: can be skipped without mapping it
    pure: bool
    lookup_matchers: dict[str, list[MatchFn]]
    python_source: str

    @property
    def exchange(self) -> str:
        return self.mapping.exchange


def mapping_version(mapping: Mapping) -> str:
    # ``search`` changes what is indexed, not what crosses: adding it must not make every record look changed
    dumped = mapping.model_dump(mode="json", by_alias=True, exclude={"search"})
    canonical = json.dumps(dumped, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def compile_mapping(mapping: Mapping, file: str | None = None, located: LocatedData | None = None) -> CompiledMapping:
    return _Compiler(mapping, file, located).compile()


class _Compiler:
    def __init__(self, mapping: Mapping, file: str | None, located: LocatedData | None):
        self.mapping = mapping
        self.file = file
        self.located = located
        self.module = Module(settings=mapping.settings)
        self.lookup_names = frozenset(mapping.lookups)
        self.child_fields: dict[str, frozenset[str]] = {}
        self._each_count = 0

    def compile(self) -> CompiledMapping:
        top = Scope(record="rec", lookups=self.lookup_names)
        where_scope = Scope(record="rec", lookups=self.lookup_names)
        if self.mapping.where is not None:
            code = self._emit(self.mapping.where, where_scope, ("where",))
            self.module.add_function("_where", "rec, ctx, lk", [f"return _bool({code})"])
        body = ["out = {}"]
        for name, spec in self.mapping.fields.items():
            body += field_assignment("out", name, self._field_code(spec, top, ("fields", name), name))
        body.append("return out")
        self.module.add_function("_map", "rec, ctx, lk", body)
        matcher_names = self._compile_lookups(top)
        functions = self.module.build()
        reads = set(top.reads) | set(where_scope.reads)
        source = self.mapping.source
        reads.update(source.key)
        reads.update(entry.source for entry in self.mapping.search if entry.source)
        for extra in (source.incremental.cursor, source.incremental.version_field):
            if extra:
                reads.add(extra)
        whole = top.reads_whole_record or where_scope.reads_whole_record
        return CompiledMapping(
            mapping=self.mapping,
            file=self.file,
            version=mapping_version(self.mapping),
            source_fields=None if whole else frozenset(reads),
            child_fields=self.child_fields,
            map_record=functions["_map"],
            where=functions.get("_where"),
            where_uses_lookups=_uses(self.mapping.where, self.lookup_names),
            pure=not self.mapping.lookups and all(FUNCTIONS[n].pure for n in self.module.functions_used),
            lookup_matchers={name: [functions[f] for f in fns] for name, fns in matcher_names.items()},
            python_source=self.module.source,
        )

    def _compile_lookups(self, top: Scope) -> dict[str, list[str]]:
        names: dict[str, list[str]] = {}
        for number, (lookup_name, rule) in enumerate(self.mapping.lookups.items()):
            earlier = frozenset(names)  # a lookup may use the lookups declared before it (contact -> its client)
            names[lookup_name] = []
            for position, alternative in enumerate(rule.match):
                # the lookup name is a YAML key, i.e. arbitrary text: generated identifiers are built from
                # numbers only, so no name from the file can ever become code
                fn = f"_lookup_{number}_{position}"
                body = ["out = {}"]
                scope = Scope(record="rec", lookups=earlier)
                for target_field, text in alternative.items():
                    code = self._emit(text, scope, ("lookups", lookup_name, "match", position, target_field))
                    body += field_assignment("out", target_field, code, f"{lookup_name}.{target_field}")
                body.append("return out")
                self.module.add_function(fn, "rec, ctx, lk", body)
                top.reads |= scope.reads
                top.reads_whole_record |= scope.reads_whole_record
                names[lookup_name].append(fn)
        return names

    def _field_code(self, spec: FieldSpec, scope: Scope, path: tuple[str | int, ...], name: str) -> str:
        if isinstance(spec, ConstField):
            return self.module.constant(spec.const)
        if isinstance(spec, EachField):
            return self._each(spec, scope, path, name)
        if isinstance(spec, str):
            return self._emit(spec, scope, path, name)
        # ``repr`` of a YAML ``.nan``/``.inf`` is ``nan``/``inf``, a name in the generated code: bind a constant
        if isinstance(spec, float) and not math.isfinite(spec):
            return self.module.constant(spec)
        return repr(spec)  # YAML number, boolean or null: a literal

    def _each(self, spec: EachField, scope: Scope, path: tuple[str | int, ...], name: str) -> str:
        number = self._each_count
        self._each_count += 1
        source_list = self._emit(spec.each, scope, (*path, "each"), name)
        row_var, index_var = f"r{number}", f"i{number}"
        # lookups stay visible inside rows (a contact row's kind: ``phone_kind.Ref_Key``)
        row_scope = Scope(record=row_var, parent=scope.record, index=index_var, parent_scope=scope,
                          lookups=scope.lookups)
        body = [
            "rows = []",
            f"for {index_var}, {row_var} in _enumerate({source_list} or (), 1):",
            f"    if not _isinstance({row_var}, _dict):",
            f"        {row_var} = {{'value': {row_var}}}",
            "    row = {}",
        ]
        for child_name, child_spec in spec.fields.items():
            # a list inside a list is named 'lines[].parts', so its row fields' errors read 'lines[].parts[].qty'
            code = self._field_code(child_spec, row_scope, (*path, "fields", child_name), f"{name}[].{child_name}")
            body += ["    " + line for line in field_assignment("row", child_name, code, f"{name}[].{child_name}")]
        body += ["    rows.append(row)", "return rows"]
        params = [scope.record, scope.parent or "_no_parent", scope.index or "_no_index", "ctx", "lk"]
        args = [scope.record, scope.parent or "None", scope.index or "None", "ctx", "lk"]
        self.module.add_function(f"_each_{number}", ", ".join(params), body)
        self.child_fields[name] = frozenset(row_scope.reads)
        return f"_each_{number}({', '.join(args)})"

    def _emit(self, text: str, scope: Scope, path: tuple[str | int, ...], field: str | None = None) -> str:
        try:
            return self.module.emit(parse(text), scope, field)
        except ExpressionError as exc:
            raise self._error(f"{exc.message} in {text!r}" + _at(exc), path) from None

    def _error(self, problem: str, path: tuple[str | int, ...]) -> MappingError:
        line = self.located.line_of(path) if self.located else None
        return MappingError(problem, file=self.file, line=line, path=".".join(map(str, path)))


def _at(exc: ExpressionError) -> str:
    return "" if exc.column is None else f" (column {exc.column + 1})"


def _uses(text: str | None, names: frozenset[str]) -> bool:
    return bool(text and parse(text).names & names)

"""``settings.omit``: target fields a deployment's system does not have, left out of the mapping.

The stock 1C mappings are written for 1C:Бухгалтерия 3.0. A smaller configuration (УНФ, a trimmed base)
may have no organizations, warehouses or contact-information kinds; listing the fields that need them in
``settings.omit`` makes the mapping fit it by editing settings, not expressions::

    settings:
      omit: [Организация_Key, Склад_Key, КонтактнаяИнформация.Вид_Key]   # row fields as <list>.<field>

An omitted field does not cross and is not validated; a lookup that only omitted fields used is dropped
too (its entity need not exist). ``create_only`` forgets omitted fields; ``match`` may not name one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from hub.errors import MappingError
from hub.expr.language import ExpressionError, parse
from hub.mapping.model import EachField, Mapping
from hub.mapping.yaml_source import LocatedData

OMIT = "omit"


def apply_omit(mapping: Mapping, located: LocatedData, file: str) -> tuple[Mapping, list[MappingError]]:
    """The mapping without the fields ``settings.omit`` names (and the lookups only they used)."""
    omit = mapping.settings.get(OMIT)
    if not omit:
        return mapping, []
    if not isinstance(omit, list) or not all(isinstance(name, str) for name in omit):
        return mapping, [_problem(located, file, "omit must be a list of target field names", "settings", OMIT)]
    problems = [_problem(located, file, f"omit names {name!r}, which is not a field of this mapping",
                         "settings", OMIT, index)
                for index, name in enumerate(omit) if not _has(mapping.fields, name)]
    if problems:
        return mapping, problems
    fields = _without(mapping.fields, set(omit))
    unused = _used_lookups(mapping, mapping.fields) - _used_lookups(mapping, fields)
    target = mapping.target.model_copy(update={"create_only": [f for f in mapping.target.create_only if f not in omit]})
    lookups = {name: rule for name, rule in mapping.lookups.items() if name not in unused}
    return mapping.model_copy(update={"fields": fields, "lookups": lookups, "target": target}), []


def _has(fields: dict[str, Any], dotted: str) -> bool:
    name, _, rest = dotted.partition(".")
    if name not in fields:
        return False
    return not rest or (isinstance(fields[name], EachField) and _has(fields[name].fields, rest))


def _without(fields: dict[str, Any], omit: set[str]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in omit:
            continue
        inner = {rest for dotted in omit for head, _, rest in [dotted.partition(".")] if head == name and rest}
        if not inner:
            kept[name] = spec
            continue
        update: dict[str, Any] = {"fields": _without(spec.fields, inner)}
        owns = getattr(spec, "owns", None)  # the row fields that say which rows are the hub's (list fields)
        if owns:
            update["owns"] = [field for field in owns if field not in inner]
        kept[name] = spec.model_copy(update=update)
    return kept


def _used_lookups(mapping: Mapping, fields: dict[str, Any]) -> set[str]:
    """The lookups that ``fields`` and ``where`` use, directly or through other lookups."""
    declared = set(mapping.lookups)
    used = _names([*_texts(fields), *([mapping.where] if mapping.where else [])]) & declared
    for name in reversed(list(mapping.lookups)):  # a lookup uses only those declared before it
        if name in used:
            used |= _names(text for alternative in mapping.lookups[name].match for text in alternative.values())
            used &= declared
    return used


def _texts(fields: dict[str, Any]) -> Iterator[str]:
    for spec in fields.values():
        if isinstance(spec, str):
            yield spec
        elif isinstance(spec, EachField):
            yield spec.each
            yield from _texts(spec.fields)


def _names(texts: Iterable[str]) -> set[str]:
    names: set[str] = set()
    for text in texts:
        try:
            names |= parse(text).names
        except ExpressionError:
            continue  # reported with its position when the mapping is compiled
    return names


def _problem(located: LocatedData, file: str, message: str, *path: str | int) -> MappingError:
    return MappingError(message, file=file, line=located.line_of(path), path=".".join(map(str, path)))

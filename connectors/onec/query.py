"""Building OData v3 URLs and ``$filter`` text the way 1C parses them (reference §1.5-1.6, §2.7).

* Entity-set names are Cyrillic: the path is percent-encoded UTF-8 (``quote`` keeps ``()',=`` literal).
* Literals by Edm type: ``guid'…'``, ``datetime'2025-06-01T00:00:00'`` (naive server-local time),
  ``'text'`` with ``'`` doubled, bare numbers, ``true``/``false``.
* v3 only: no ``in`` operator (an ``or`` chain instead), no ``contains``; a composite attribute is never
  compared with a bare ``guid`` (1C silently matches nothing) but through ``cast(guid'…', 'Type')``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from connectors.onec.metadata import EntitySet, Prop
from connectors.onec.values import TYPE_PREFIX, ZERO_GUID, prepare_value
from hub.errors import ConfigError

Condition = str


def entity_url(root: str, set_name: str, ref: str | None = None, action: str | None = None) -> str:
    url = root + quote(set_name, safe="")
    if ref is not None:
        url += f"(guid'{ref}')"
    if action:
        url += "/" + quote(action, safe="$")
    return url


def literal(prop: Prop, value: Any, zone: ZoneInfo, where: str) -> str:
    """``value`` as an OData literal of ``prop``'s type."""
    converted = prepare_value(prop, value, zone, where)
    if prop.edm == "Edm.Guid":
        return f"guid'{converted or ZERO_GUID}'"
    if prop.edm in ("Edm.DateTime", "Edm.DateTimeOffset"):
        if converted is None:
            return "datetime'0001-01-01T00:00:00'"
        return f"datetime'{converted.astimezone(zone).replace(tzinfo=None).isoformat(timespec='seconds')}'"
    if prop.edm == "Edm.Boolean":
        return "true" if converted else "false"
    if isinstance(converted, (int, Decimal)) and not isinstance(converted, bool):
        return format(converted, "f") if isinstance(converted, Decimal) else str(converted)
    if converted is None:
        return "''" if prop.edm == "Edm.String" else "null"
    return "'" + str(converted).replace("'", "''") + "'"


def equals(entity: EntitySet, name: str, value: Any, zone: ZoneInfo, where: str) -> Condition:
    prop = entity.prop(name, where)
    if prop.composite:
        type_name = entity.props.get(f"{name}_Type")
        if isinstance(value, tuple) and len(value) == 2 and type_name is not None:
            return f"{name} eq cast(guid'{value[1]}', '{str(value[0]).removeprefix(TYPE_PREFIX)}')"
        raise ConfigError(f"{entity.name}.{name} is a composite attribute: 1C cannot compare it with a plain "
                          f"value ({where}); compare {name}_Type and use the reference's own entity set")
    if prop.kind == "list":
        raise ConfigError(f"{entity.name}.{name} is a tabular section and cannot be compared ({where})")
    return f"{name} eq {literal(prop, value, zone, where)}"


def any_of(entity: EntitySet, names: Sequence[str], rows: Iterable[Sequence[Any]], zone: ZoneInfo,
           where: str) -> Condition:
    """``(a eq 1 and b eq 2) or (…)``: 1C has no ``in``."""
    groups = []
    for values in rows:
        parts = [equals(entity, name, value, zone, where) for name, value in zip(names, values, strict=True)]
        groups.append(parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")")
    return " or ".join(groups)


def where_filter(entity: EntitySet, where: dict[str, Any], zone: ZoneInfo) -> Condition | None:
    """``options.where`` ({field: value | [values]}) as a ``$filter``."""
    parts = []
    for name, wanted in where.items():
        if isinstance(wanted, list):
            if not wanted:
                raise ConfigError(f"source.options.where.{name}: an empty list matches nothing")
            options = [equals(entity, name, v, zone, f"options.where.{name}") for v in wanted]
            parts.append("(" + " or ".join(options) + ")")
        else:
            parts.append(equals(entity, name, wanted, zone, f"options.where.{name}"))
    return " and ".join(parts) if parts else None


def both(*conditions: Condition | None) -> Condition | None:
    present = [c for c in conditions if c]
    if not present:
        return None
    return present[0] if len(present) == 1 else " and ".join(f"({c})" for c in present)


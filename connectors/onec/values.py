"""Values between 1C's wire form and the hub's Python form, faithfully (reference §1.4, §0.7):

=================  ===========================================  =========================================
Edm type           on the wire                                  in the hub
=================  ===========================================  =========================================
Edm.Guid           ``"…"``; empty reference = all-zero GUID     ``str`` (lower case); empty = ``None``
Edm.Int64          a JSON **string** (``"1"``)                  ``int``
Edm.Double         a JSON number                                ``Decimal`` (money stays exact)
Edm.DateTime       naive server-local ``"2025-06-03T12:00:00"``  aware ``datetime`` in the server's zone;
                   empty = ``"0001-01-01T00:00:00"``            empty = ``None``
composite ``X``    ``X`` (text) + ``X_Type`` ``StandardODATA.…``  ``X`` (``None`` if undefined/empty) +
                                                                ``X_Type`` without the prefix (or ``None``)
tabular section    list of rows with ``LineNumber``             list of dicts, ``LineNumber`` an ``int``
=================  ===========================================  =========================================

:class:`Codec` converts both ways for one entity set, with the converters worked out once per set.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from connectors.onec.metadata import EntitySet, Prop
from hub.errors import ConfigError, DataError

Record = dict[str, Any]
ZERO_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01T00:00:00"
TYPE_PREFIX = "StandardODATA."
UNDEFINED = "StandardODATA.Undefined"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
INTEGER_EDM = {"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"}
NUMBER_EDM = {"Edm.Double", "Edm.Single", "Edm.Decimal"}
#: changes on every write of an object (reference §0.8): equality only
VERSION = "DataVersion"
#: documents: ``Posted`` in a write means "post (or unpost) the document", not a property to set
POSTED = "Posted"


class Codec:
    def __init__(self, entity: EntitySet, zone: ZoneInfo):
        self.entity = entity
        self.zone = zone
        self._read = dict(_readers(entity.props, zone))
        self._row_readers = {name: dict(_readers(props, zone)) for name, props in entity.tables.items()}
        self._composites = [name for name, prop in entity.props.items() if prop.composite]
        self._row_composites = {table: [name for name, prop in props.items() if prop.composite]
                                for table, props in entity.tables.items()}

    # -- 1C -> hub

    def read(self, record: Record) -> Record:
        """Convert a record from 1C in place (only the properties it carries)."""
        readers = self._read
        for name, value in record.items():  # only what was selected: a sweep's header has two properties
            convert = readers.get(name)
            if convert is not None:
                record[name] = convert(value)
            elif value and name in self._row_readers:
                row_readers = self._row_readers[name]
                for row in value:
                    row.pop("Ref_Key", None)  # the owner's key, repeated on every row
                    for cell, cell_value in row.items():
                        convert = row_readers.get(cell)
                        if convert is not None:
                            row[cell] = convert(cell_value)
                    _read_composites(row, self._row_composites[name])
        _read_composites(record, self._composites)
        return record

    # -- hub -> hub form the target stores (for comparing and hashing)

    def prepare(self, record: Record) -> Record:
        """Mapped values in the form 1C will give back; a value 1C cannot take is a :class:`DataError`."""
        out: Record = {}
        for name, value in record.items():
            if name == POSTED and self.entity.is_document:
                out[name] = _boolean(value, name)
                continue
            prop = self.entity.props.get(name)
            if prop is None:
                raise ConfigError(f"{self.entity.name} has no property {name!r} in 1C's $metadata")
            if name in self.entity.tables:
                out[name] = self._prepare_rows(name, value)
            elif name.endswith("_Type") and name[:-5] in self.entity.props and self.entity.props[name[:-5]].composite:
                out[name] = None if value in (None, "", UNDEFINED) else str(value).removeprefix(TYPE_PREFIX)
            else:
                out[name] = prepare_value(prop, value, self.zone, name)
        return out

    def _prepare_rows(self, table: str, rows: Any) -> list[Record]:
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise DataError(f"{table}: a tabular section must be a list of rows, not {type(rows).__name__}")
        props = self.entity.tables[table]
        prepared = []
        for number, row in enumerate(rows, 1):
            if not isinstance(row, dict):
                raise DataError(f"{table}[{number}]: a row must be a set of fields")
            out: Record = {"LineNumber": number}
            for name, value in row.items():
                prop = props.get(name)
                if prop is None:
                    raise ConfigError(f"rows of {self.entity.name}.{table} have no property {name!r} in $metadata")
                if name == "LineNumber":
                    continue  # rows are numbered by their order: 1C renumbers them on write anyway
                if name.endswith("_Type") and name[:-5] in props and props[name[:-5]].composite:
                    out[name] = None if value in (None, "", UNDEFINED) else str(value).removeprefix(TYPE_PREFIX)
                else:
                    out[name] = prepare_value(prop, value, self.zone, f"{table}[{number}].{name}")
            prepared.append(out)
        return prepared

    # -- hub -> 1C

    def to_wire(self, record: Record) -> Record:
        """A prepared record as the JSON body 1C expects (``Posted`` is left out: it is an action)."""
        out: Record = {}
        for name, value in record.items():
            if name == POSTED and self.entity.is_document:
                continue
            prop = self.entity.props[name]
            if name in self.entity.tables:
                props = self.entity.tables[name]
                out[name] = [{k: _type_to_wire(v) if _is_type(props, k) else wire_value(props[k], v, self.zone)
                              if k in props else v for k, v in row.items()} for row in value]
            elif name.endswith("_Type") and name[:-5] in self.entity.props and self.entity.props[name[:-5]].composite:
                out[name] = UNDEFINED if value is None else TYPE_PREFIX + value
            else:
                out[name] = wire_value(prop, value, self.zone)
        for name in self._composites:  # a composite value needs its type, or 1C cannot interpret it
            if name in out and f"{name}_Type" not in out:
                if out[name] not in ("", None):
                    raise DataError(f"{name}: a composite attribute needs its type in {name}_Type "
                                    "(e.g. 'Catalog_Контрагенты')")
                out[f"{name}_Type"] = UNDEFINED
        return out


def _is_type(props: dict[str, Prop], name: str) -> bool:
    """``name`` is the ``_Type`` half of a composite attribute."""
    return name.endswith("_Type") and name[:-5] in props and props[name[:-5]].composite


def _type_to_wire(kind: Any) -> str:
    return UNDEFINED if kind is None else TYPE_PREFIX + str(kind)


def _read_composites(record: Record, names: list[str]) -> None:
    """Composite values (of a header or of a tabular row) in the hub form: the type without its prefix."""
    for name in names:
        kind = record.get(f"{name}_Type")
        if f"{name}_Type" in record:
            record[f"{name}_Type"] = None if kind in (None, "", UNDEFINED) else str(kind).removeprefix(TYPE_PREFIX)
        if name in record and (record[name] in ("", ZERO_GUID) or kind == UNDEFINED):
            record[name] = None


def _readers(props: dict[str, Prop], zone: ZoneInfo) -> list[tuple[str, Callable[[Any], Any]]]:
    readers: list[tuple[str, Callable[[Any], Any]]] = []
    for name, prop in props.items():
        if prop.edm == "Edm.Guid":
            readers.append((name, _read_guid))
        elif prop.edm in INTEGER_EDM:
            readers.append((name, _read_int))
        elif prop.edm in NUMBER_EDM:
            readers.append((name, _read_number))
        elif prop.edm == "Edm.DateTime":
            readers.append((name, partial(_read_datetime, zone=zone)))
    return readers


def _read_guid(value: Any) -> str | None:
    return None if value in (None, "", ZERO_GUID) else str(value).lower()


def _read_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _read_number(value: Any) -> Any:
    if isinstance(value, str):  # some 1C builds send numbers as strings; accept both (reference §1.4)
        return Decimal(value) if value else None
    return value


def _read_datetime(value: Any, zone: ZoneInfo) -> dt.datetime | None:
    if value in (None, "") or str(value).startswith("0001-01-01"):  # 1C's empty date, with or without a time
        return None
    return dt.datetime.fromisoformat(str(value)).replace(tzinfo=zone)


def prepare_value(prop: Prop, value: Any, zone: ZoneInfo, where: str) -> Any:
    """One mapped value in the hub form of ``prop``'s type."""
    if prop.composite:
        if value in (None, "", ZERO_GUID):
            return None
        return str(value).lower() if isinstance(value, (str, uuid.UUID)) and GUID.match(str(value)) else str(value)
    edm = prop.edm
    if edm == "Edm.Guid":
        if value in (None, ""):
            return None
        text = str(value)
        if not GUID.match(text):
            raise DataError(f"{where}: {_preview(value)} is not a 1C reference (a GUID)")
        return None if text == ZERO_GUID else text.lower()
    if edm == "Edm.String":
        if value is None:
            return ""
        text = format(value, "f") if isinstance(value, Decimal) else value.isoformat() \
            if isinstance(value, (dt.date, dt.datetime)) else str(value)
        if prop.max_length and len(text) > prop.max_length:
            raise DataError(f"{where}: {len(text)} characters, 1C keeps at most {prop.max_length}: {_preview(text)}")
        return text
    if edm == "Edm.Boolean":
        return _boolean(value, where)
    if edm in INTEGER_EDM:
        number = _decimal(value, where)
        if number is None:
            return None
        if number != number.to_integral_value():
            raise DataError(f"{where}: {_preview(value)} is not a whole number")
        return int(number)
    if edm in NUMBER_EDM:
        return _decimal(value, where)
    if edm in ("Edm.DateTime", "Edm.DateTimeOffset"):
        return _datetime(value, zone, where)
    return value


def wire_value(prop: Prop, value: Any, zone: ZoneInfo) -> Any:
    """A prepared value as 1C's JSON wants it."""
    if prop.composite:
        return "" if value is None else value
    edm = prop.edm
    if edm == "Edm.Guid":
        return ZERO_GUID if value is None else value
    if edm == "Edm.Int64":
        return "0" if value is None else str(value)
    if edm in INTEGER_EDM:
        return 0 if value is None else value
    if edm in NUMBER_EDM:
        return 0 if value is None else (int(value) if value == value.to_integral_value() else float(value))
    if edm in ("Edm.DateTime", "Edm.DateTimeOffset"):
        if value is None:
            return EMPTY_DATE
        return value.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")
    if edm == "Edm.String":
        return "" if value is None else value
    return value


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise DataError(f"{where}: {_preview(value)} is not true/false")


def _decimal(value: Any, where: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise DataError(f"{where}: {_preview(value)} is not a number")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except InvalidOperation:
        raise DataError(f"{where}: {_preview(value)} is not a number") from None
    if not number.is_finite():
        raise DataError(f"{where}: {_preview(value)} is not a number")
    return number


def _datetime(value: Any, zone: ZoneInfo, where: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime.combine(value, dt.time())
    else:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise DataError(f"{where}: {_preview(value)} is not a date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)  # a wall-clock time is taken as 1C's own
    if parsed.year < 2 and parsed.month == 1 and parsed.day == 1:
        return None
    return parsed.astimezone(zone).replace(microsecond=0)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

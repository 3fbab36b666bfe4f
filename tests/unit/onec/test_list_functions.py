"""The list functions 1C exchanges needed in mapping expressions (generic: any list of child rows)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from hub.errors import DataError
from hub.expr.functions import compact, max_of, rows_with, sum_of
from hub.mapping.loader import load_text

INVOICES = [{"status": "paid", "amount": Decimal("10.10")}, {"status": "issued", "amount": "5"},
            {"status": "paid", "amount": None}]


def test_sum_of_adds_a_field_exactly_and_skips_empty_values() -> None:
    assert sum_of(INVOICES, "amount") == Decimal("15.10")
    assert sum_of([1, 2.5, None]) == Decimal("3.5")
    assert sum_of(None, "amount") == Decimal(0) and sum_of([], "amount") == Decimal(0)
    with pytest.raises(DataError, match="not a number"):
        sum_of([{"amount": "много"}], "amount")


def test_max_of_rows_with_and_compact() -> None:
    dates = [{"paid_on": dt.date(2025, 3, 1)}, {"paid_on": None}, {"paid_on": dt.date(2025, 3, 9)}]
    assert max_of(dates, "paid_on") == dt.date(2025, 3, 9) and max_of([], "paid_on") is None
    assert rows_with(INVOICES, "status", "paid") == [INVOICES[0], INVOICES[2]]
    assert rows_with(None, "status", "paid") == []
    assert compact(["+79161234567", None, " ", "a@b.ru"]) == ["+79161234567", "a@b.ru"]
    with pytest.raises(DataError, match="not a list"):
        rows_with("paid", "status", "paid")


def test_they_compose_in_a_mapping_and_lookups_are_visible_inside_rows() -> None:
    loaded = load_text("""
exchange: deals_paid
description: test
schedule: "@hourly"
source: {connector: memory, connection: a, stream: deals, key: id}
target: {connector: memory, connection: b, entity: deals, match: [id], mode: update_only}
lookups:
  kind: {entity: kinds, match: [{name: "'phone'"}], fields: [ref]}
where: sum_of(rows_with(invoices, 'status', 'paid'), 'amount') >= amount
fields:
  id: id
  contacts:
    each: compact([phone, email])
    fields:
      value: value
      kind: kind.ref
""", "test.yaml")
    compiled = loaded.compiled

    class Context:
        default_region, timezone = "RU", "Europe/Moscow"

    record = {"id": 1, "amount": Decimal("10.10"), "invoices": INVOICES, "phone": "+7916", "email": None}
    assert compiled.where(record, Context(), {"kind": {"ref": "k1"}}) is True
    mapped = compiled.map_record(record, Context(), {"kind": {"ref": "k1"}})
    assert mapped["contacts"] == [{"value": "+7916", "kind": "k1"}]


def test_a_field_name_that_is_not_text_is_refused_when_the_mapping_is_loaded() -> None:
    from hub.errors import MappingError

    with pytest.raises(MappingError, match="field name must be text"):
        load_text("""
exchange: t
description: test
schedule: "@hourly"
source: {connector: memory, connection: a, stream: s, key: id}
target: {connector: memory, connection: b, entity: e, mode: create}
fields:
  total: sum_of(rows, 5)
""", "test.yaml")

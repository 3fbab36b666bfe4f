"""The state store's JSON keeps the types a replay or a ledger settlement needs, in both of its forms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from hub.state import codec

MATCH = {"inn": "7701234567", "balance": Decimal("1234.50"), "born": dt.date(1990, 5, 17),
         "at": dt.datetime(2026, 1, 2, 3, 4, 5)}
VALUE = [("a" * 48, "Клиент 1", "create", MATCH, None)]


@pytest.mark.parametrize("dumps", [codec.dumps, codec.dumps_unordered])
def test_values_come_back_with_their_types(dumps: Callable[[Any], str]) -> None:
    text = dumps(VALUE)
    assert codec.loads(text) == [list(VALUE[0])]  # tuples come back as lists, every value as it was


def test_only_the_canonical_form_sorts_keys() -> None:
    assert codec.dumps({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert codec.dumps_unordered({"b": 1, "a": 2}) == '{"b":1,"a":2}'

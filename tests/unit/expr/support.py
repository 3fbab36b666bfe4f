"""Shared helpers of the expression tests: a fake run context and one-expression mappings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.expr.functions import Loss
from hub.mapping.compiled import CompiledMapping, compile_mapping
from hub.mapping.model import Mapping as MappingModel

#: the lookups every one-expression mapping declares (so ``client.id`` reads a lookup result)
LOOKUP_NAMES = frozenset({"client"})
SETTINGS = {"region": "RU", "vat": 20, "manager": {"id": 7}}


@dataclass
class FakeContext:
    """The run context compiled expressions see: default phone region, time zone, the key map; it keeps the
    losses mapped fields report."""

    default_region: str = "RU"
    timezone: str = "Europe/Moscow"
    keys: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)
    calls: list[tuple[str, Any, str, str]] = field(default_factory=list)
    losses: list[Loss] = field(default_factory=list)

    def lookup(self, entity: str, value: Any, from_system: str, to_system: str) -> Any:
        self.calls.append((entity, value, from_system, to_system))
        return self.keys.get((entity, str(value), from_system, to_system))

    def warn(self, loss: Loss) -> None:
        self.losses.append(loss)


def one_field_mapping(expression: str, *, where: str | None = None, settings: Mapping[str, Any] | None = None,
                      **extra: Any) -> MappingModel:
    data: dict[str, Any] = {
        "exchange": "expression_test",
        "description": "one expression under test",
        "schedule": "@hourly",
        "source": {"connector": "memory", "connection": "src", "stream": "rows", "key": "id"},
        "target": {"connector": "memory", "connection": "dst", "entity": "rows", "mode": "create"},
        "lookups": {name: {"entity": "clients", "match": [{"id": "a"}], "fields": ["id"]} for name in LOOKUP_NAMES},
        "fields": {"v": expression},
        "settings": dict(SETTINGS if settings is None else settings),
        **extra,
    }
    if where is not None:
        data["where"] = where
    return MappingModel.model_validate(data)


def compile_expression(expression: str, **kwargs: Any) -> CompiledMapping:
    return compile_mapping(one_field_mapping(expression, **kwargs))


def evaluator(expression: str, **kwargs: Any) -> Callable[..., Any]:
    """``run(record, ctx=None, lookups=None)``: the compiled value of ``expression`` for one record."""
    compiled = compile_expression(expression, **kwargs)

    def run(record: dict[str, Any], ctx: Any = None, lookups: dict[str, Any] | None = None) -> Any:
        return compiled.map_record(record, ctx or FakeContext(), lookups or {})["v"]

    return run

"""Rows of a list field (a 1C tabular section) that belong to the hub, and rows that belong to people.

A list field declared with ``owns: [Тип, Вид_Key]`` owns only the target's rows whose values in those row
fields equal one of the mapped rows' values. On update those rows are replaced by the mapped rows (where
the first of them stood), every other row (an accountant's address) is kept with all its values, and the
rows are numbered again. On an object the hub did not create but found by ``match`` and linked, the hub
only adds the mapped rows that are missing and removes none: everything there was made by people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hub.runner.items import same_value

Record = dict[str, Any]
LINE = "LineNumber"


def with_kept_rows(mapped: Record, existing: Record, owned: Mapping[str, Sequence[str]], created: bool) -> Record:
    """``mapped`` with each owned list field merged into the rows the target object holds now."""
    merged = dict(mapped)
    for name, owns in owned.items():
        if isinstance(mapped.get(name), list):
            merged[name] = merged_rows(existing.get(name) or [], mapped[name], owns, created)
    return merged


def merged_rows(current: list[Record], mapped: list[Record], owns: Sequence[str], created: bool) -> list[Record]:
    """The rows to write: ``current`` (the target's) with the hub's replaced by ``mapped`` (``created``), or
    with the missing ones of ``mapped`` added; numbered from 1."""
    if created:
        def ours(row: Record) -> bool:
            return any(all(same_value(row.get(f), m.get(f)) for f in owns) for m in mapped)

        first = next((i for i, row in enumerate(current) if ours(row)), len(current))
        rows = current[:first] + mapped + [r for r in current[first:] if not ours(r)]
    else:
        rows = current + [m for m in mapped if not any(_same_row(row, m) for row in current)]
    return [{**row, LINE: number} for number, row in enumerate(rows, 1)]


def _same_row(row: Record, wanted: Record) -> bool:
    return all(same_value(row.get(k), v) for k, v in wanted.items() if k != LINE)

"""YAML loading that remembers where every value came from, so errors can name the line.

PyYAML's composer keeps a start mark on every node; we build plain Python data from the node tree and
record ``path -> line`` on the way. Duplicate keys are an error here (plain YAML silently keeps the last
one, which hides typos in mapping files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from hub.errors import MappingError

Path = tuple[str | int, ...]


@dataclass
class LocatedData:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    columns: dict[Path, int] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


def load_located(text: str, file: str) -> LocatedData:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise MappingError(f"invalid YAML: {exc.problem or exc.context}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise MappingError(f"invalid YAML: {exc}", file=file) from None
    located = LocatedData(data=None)
    if node is None:
        raise MappingError("the file is empty", file=file, line=1)
    located.data = _build(node, (), located, file)
    return located


def _build(node: yaml.Node, path: Path, located: LocatedData, file: str) -> Any:
    located.lines.setdefault(path, node.start_mark.line + 1)
    located.columns.setdefault(path, node.start_mark.column)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise MappingError("a key must be a plain value", file=file, line=key_node.start_mark.line + 1)
            key = str(_scalar(key_node))
            if key in result:
                raise MappingError(
                    f"duplicate key {key!r}", file=file, line=key_node.start_mark.line + 1,
                    path=".".join(map(str, (*path, key))),
                )
            located.lines[(*path, key)] = key_node.start_mark.line + 1
            located.columns[(*path, key)] = key_node.start_mark.column
            result[key] = _build(value_node, (*path, key), located, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), located, file) for index, item in enumerate(node.value)]
    assert isinstance(node, yaml.ScalarNode)  # the only other kind of node the composer makes
    return _scalar(node)


def _scalar(node: yaml.ScalarNode) -> Any:
    constructor = yaml.SafeLoader("")
    return constructor.construct_object(node, deep=True)

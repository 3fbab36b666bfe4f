"""Load mapping files: YAML -> typed model -> semantic checks -> compiled functions.

Every problem is reported as ``file:line: field.path: what is wrong``; ``check_file`` and ``validate_file``
collect all the problems of a file, ``load_mapping`` raises the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from hub.errors import MappingError
from hub.expr.language import ExpressionError, parse
from hub.mapping.compiled import CompiledMapping, compile_mapping
from hub.mapping.model import Mapping
from hub.mapping.omit import apply_omit
from hub.mapping.yaml_source import LocatedData, load_located

#: loc entries pydantic adds for the branches of a union; they are not part of the file's structure
_UNION_TAGS = {"field:expression", "field:const", "field:each"}


@dataclass(frozen=True)
class LoadedMapping:
    path: Path
    located: LocatedData
    compiled: CompiledMapping

    @property
    def mapping(self) -> Mapping:
        return self.compiled.mapping

    @property
    def exchange(self) -> str:
        return self.compiled.mapping.exchange

    def line_of(self, *path: str | int) -> int | None:
        return self.located.line_of(tuple(path))


def load_mapping(path: Path | str) -> LoadedMapping:
    return _first(*check_file(path))


def load_text(text: str, file: str) -> LoadedMapping:
    return _first(*check_text(text, file))


def validate_file(path: Path | str) -> list[MappingError]:
    """Every problem in one file (a file that does not parse yields one problem)."""
    return check_file(path)[1]


def check_file(path: Path | str) -> tuple[LoadedMapping | None, list[MappingError]]:
    """The loaded mapping, or every problem found in the file (none loaded)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [MappingError(f"not UTF-8 text (byte {exc.start})", file=str(path))]
    except OSError as exc:
        return None, [MappingError(f"cannot read: {exc.strerror}", file=str(path))]
    return check_text(text, str(path))


def check_text(text: str, file: str) -> tuple[LoadedMapping | None, list[MappingError]]:
    """YAML -> model -> rules spanning several keys -> compiled; stops at the first stage that finds problems."""
    try:
        located = load_located(text, file)
    except MappingError as exc:
        return None, [exc]
    if not isinstance(located.data, dict):
        return None, [MappingError("a mapping file must be a YAML mapping (key: value lines)", file=file, line=1)]
    try:
        mapping = Mapping.model_validate(located.data)
    except ValidationError as exc:
        return None, _validation_errors(exc, located, file)
    mapping, problems = apply_omit(mapping, located, file)
    if problems:
        return None, problems
    problems = list(semantic_problems(mapping, located, file))
    if problems:
        return None, problems
    try:
        compiled = compile_mapping(mapping, file, located)
    except MappingError as exc:
        return None, [exc]
    return LoadedMapping(path=Path(file), located=located, compiled=compiled), []


def _first(loaded: LoadedMapping | None, problems: list[MappingError]) -> LoadedMapping:
    if loaded is None:
        raise problems[0]
    return loaded


def load_directory(directory: Path) -> tuple[dict[str, LoadedMapping], list[MappingError]]:
    """All mappings of a directory; a broken file is reported and does not hide the others."""
    loaded: dict[str, LoadedMapping] = {}
    errors: list[MappingError] = []
    for path in sorted(directory.glob("*.y*ml")):
        try:
            item = load_mapping(path)
        except MappingError as exc:
            errors.append(exc)
            continue
        if item.exchange in loaded:
            errors.append(MappingError(
                f"exchange {item.exchange!r} is already defined in {loaded[item.exchange].path}",
                file=str(path), line=item.line_of("exchange"), path="exchange"))
            continue
        loaded[item.exchange] = item
    return loaded, errors


def semantic_problems(mapping: Mapping, located: LocatedData, file: str) -> Iterable[MappingError]:
    """Rules that span several keys (pydantic checks each key on its own)."""

    def problem(message: str, *path: str | int) -> MappingError:
        return MappingError(message, file=file, line=located.line_of(path), path=".".join(map(str, path)))

    mapped = set(mapping.fields)
    target = mapping.target
    for index, name in enumerate(target.match):
        if name not in mapped:
            yield problem(f"match field {name!r} is not in fields (it must be mapped to be matched)",
                          "target", "match", index)
    for index, name in enumerate(target.create_only):
        if name not in mapped:
            yield problem(f"create_only field {name!r} is not in fields", "target", "create_only", index)
    if target.mode in ("upsert", "update_only") and not target.match:
        yield problem(f"mode {target.mode!r} needs target.match: the fields that find the existing object",
                      "target", "mode")
    if target.mode == "update_only" and target.create_only:
        yield problem("create_only makes no sense with mode 'update_only' (nothing is ever created)",
                      "target", "create_only")
    for name in mapping.lookups:
        if name in ("parent", "settings", "record") or name.startswith("_"):
            yield problem(f"lookup name {name!r} is reserved", "lookups", name)
        elif not name.isidentifier():  # expressions could never refer to it
            yield problem(f"lookup name {name!r} must be a name such as 'client' (letters, digits, '_')",
                          "lookups", name)
    names = list(mapping.lookups)
    for position, (name, rule) in enumerate(mapping.lookups.items()):
        not_yet = set(names[position:])  # a lookup sees only the lookups declared before it
        for index, alternative in enumerate(rule.match):
            for field_name, text in alternative.items():
                try:
                    used = parse(text).names & not_yet
                except ExpressionError:
                    continue  # reported with its position when the mapping is compiled
                for other in sorted(used):
                    yield problem(f"lookup {name!r} uses lookup {other!r}, which is not declared before it",
                                  "lookups", name, "match", index, field_name)
    if not mapping.schedule and not mapping.triggers:
        yield problem("an exchange needs a schedule, triggers, or both (otherwise it never runs)", "schedule")


def _validation_errors(exc: ValidationError, located: LocatedData, file: str) -> list[MappingError]:
    errors: list[MappingError] = []
    for error in exc.errors(include_url=False):
        loc = _clean(tuple(error["loc"]))
        message = _message(error, loc)
        errors.append(MappingError(message, file=file, line=located.line_of(loc), path=".".join(map(str, loc))))
    return errors


def _clean(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union-branch tags pydantic puts in a location; they are not keys of the file."""
    return tuple(part for part in loc if not (isinstance(part, str) and (
        part in _UNION_TAGS or part.startswith(("function-", "constrained-")))))


def _message(error: ErrorDetails, loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing" if loc else "required key is missing"
    text: str = error["msg"] or kind
    if kind == "value_error":  # our own validators' messages: pydantic prefixes them with "Value error, "
        text = text.removeprefix("Value error, ")
    return text[0].lower() + text[1:]

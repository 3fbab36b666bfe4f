"""Loading mapping files: every problem names the file, the line and the field path; what a compiled
mapping reads and writes.

Each broken mapping below is the valid ``BASE`` with one edit; the expected line is found in the edited
text (the line that holds the offending key), so the tests say *which* line rather than a bare number.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from hub.errors import DataError, DependencyMissing, MappingError
from hub.mapping.compiled import compile_mapping
from hub.mapping.loader import LoadedMapping, load_mapping, load_text, validate_file
from hub.mapping.model import Mapping


@dataclass
class FakeContext:
    default_region: str = "RU"
    timezone: str = "Europe/Moscow"
    keys: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)

    def lookup(self, entity: str, value: Any, from_system: str, to_system: str) -> Any:
        return self.keys.get((entity, str(value), from_system, to_system))

FILE = "mappings/clients_to_onec.yaml"

BASE = """\
mapping_format: 1
exchange: clients_to_onec
description: CRM clients with a realization become 1C counterparties
schedule: "@hourly"
source:
  connector: crm_db
  connection: crm
  stream: clients
  key: id
  incremental:
    strategy: cursor
    cursor: updated_at
target:
  connector: onec_odata
  connection: onec
  entity: Catalog_Контрагенты
  match: [inn, kpp]
  mode: upsert
where: "has_realization == true"
lookups:
  manager:
    entity: managers
    match:
      - {email: "lower(manager_email)"}
    fields: [id]
fields:
  name: "trim(name)"
  inn: "inn"
  kpp: "kpp"
  phone: "phone(phone)"
  manager_id: "manager.id"
  lines:
    each: "items"
    fields:
      sku: "sku"
      client: "parent.name"
      row: "_index"
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def line_with(text: str, fragment: str) -> int:
    """The 1-based number of the only line of ``text`` that contains ``fragment``."""
    lines = [number for number, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(lines) == 1, f"{fragment!r} is on lines {lines}"
    return lines[0]


def error_of(text: str) -> MappingError:
    with pytest.raises(MappingError) as info:
        load_text(text, FILE)
    return info.value


def assert_error(text: str, *, line_of: str, path: str, says: str) -> None:
    error = error_of(text)
    rendered = str(error)
    expected_prefix = f"{FILE}:{line_with(text, line_of)}:" + (f" {path}:" if path else "")
    assert rendered.startswith(expected_prefix), f"{rendered!r} does not start with {expected_prefix!r}"
    assert says in rendered, rendered
    assert (error.file, error.line, error.path) == (FILE, line_with(text, line_of), path)


def test_the_base_mapping_is_valid() -> None:
    loaded = load_text(BASE, FILE)
    assert loaded.exchange == "clients_to_onec"
    assert loaded.line_of("target", "mode") == line_with(BASE, "mode: upsert")


# -- every problem names the file, the line and the path ----------------------------------------------


def test_invalid_yaml_names_the_line() -> None:
    text = edit("  stream: clients", " stream: clients")
    assert_error(text, line_of=" stream: clients", path="", says="invalid YAML")


def test_a_tab_in_indentation_names_the_line() -> None:
    text = edit("  stream: clients", "\tstream: clients")
    assert_error(text, line_of="\tstream", path="", says="invalid YAML: found character '\\t'")


@pytest.mark.parametrize(("old", "new", "duplicate", "path"), [
    ('schedule: "@hourly"', 'schedule: "@hourly"\nschedule: "@daily"', '"@daily"', "schedule"),
    ('  kpp: "kpp"', '  kpp: "kpp"\n  inn: "other_inn"', "other_inn", "fields.inn"),
    ('      sku: "sku"', '      sku: "sku"\n      sku: "article"', "article", "fields.lines.fields.sku"),
])
def test_a_duplicate_key_is_reported_where_it_repeats(old: str, new: str, duplicate: str, path: str) -> None:
    text = edit(old, new)
    assert_error(text, line_of=duplicate, path=path, says=f"duplicate key {path.split('.')[-1]!r}")


def test_an_unknown_key_is_reported_with_its_path() -> None:
    text = edit("  mode: upsert", "  mode: upsert\n  modes: create")
    assert_error(text, line_of="modes:", path="target.modes", says="unknown key 'modes'")


def test_an_unknown_top_level_key_is_reported() -> None:
    text = BASE + "fileds:\n  x: y\n"
    assert_error(text, line_of="fileds:", path="fileds", says="unknown key 'fileds'")


def test_a_missing_required_key_points_at_its_parent() -> None:
    text = edit("  connection: crm\n", "")
    assert_error(text, line_of="source:", path="source.connection", says="required key 'connection' is missing")


@pytest.mark.parametrize(("old", "new", "path", "says"), [
    ("  mode: upsert", "  mode: merge", "target.mode", "input should be 'create', 'upsert' or 'update_only'"),
    ("    strategy: cursor", "    strategy: cursr", "source.incremental.strategy", "'cursor', 'hash' or 'version'"),
    ("mapping_format: 1", "mapping_format: 2", "mapping_format", "input should be 1"),
])
def test_a_wrong_enum_value_lists_the_allowed_ones(old: str, new: str, path: str, says: str) -> None:
    assert_error(edit(old, new), line_of=new.strip(), path=path, says=says)


@pytest.mark.parametrize("shape", ["[1, 2]", "{foo: 1}", "{fields: {a: b}}"])
def test_a_field_of_the_wrong_shape_says_what_a_field_may_be(shape: str) -> None:
    text = edit('  kpp: "kpp"', f"  kpp: {shape}")
    assert_error(text, line_of="kpp:", path="fields.kpp", says="a field is an expression, a literal")


def test_an_each_field_without_its_list_is_the_wrong_shape() -> None:
    text = edit('    each: "items"\n', "")
    assert_error(text, line_of="  lines:", path="fields.lines", says="a field is an expression")


@pytest.mark.parametrize(("expression", "says"), [
    ("name.__class__", "field name '__class__' may not start with '_'"),
    ("__import__('os').system('id')", "only the mapping functions can be called"),
    ("__import__('os')", "unknown function '__import__'"),
    ("(lambda: 1)()", "only the mapping functions can be called"),
    ("[c for c in name]", "a comprehension is not allowed"),
    ("strip(name)", "unknown function 'strip'"),
    ("trim(name, 1)", "trim() takes 1 argument(s), got 2"),
    ("regex_replace(name, '[', '')", "invalid regular expression"),
    ("datetime(name, tz='Mars/Olympus')", "unknown time zone 'Mars/Olympus'"),
    ("name +", "syntax error"),
])
def test_an_unsafe_or_invalid_expression_names_its_field(expression: str, says: str) -> None:
    text = edit('  name: "trim(name)"', f'  name: "{expression}"')
    error = error_of(text)
    assert_error(text, line_of="  name:", path="fields.name", says=says)
    assert expression in str(error)  # the expression is quoted, so the reader sees what is meant


def test_an_expression_error_in_a_child_row_names_the_row_field() -> None:
    text = edit('      sku: "sku"', '      sku: "upper(sku"')
    assert_error(text, line_of="sku:", path="fields.lines.fields.sku", says="syntax error")


def test_an_expression_error_in_the_each_list_names_it() -> None:
    text = edit('    each: "items"', '    each: "items[i]"')
    assert_error(text, line_of="each:", path="fields.lines.each", says="an index must be a literal")


def test_an_expression_error_in_a_lookup_names_the_alternative() -> None:
    text = edit('{email: "lower(manager_email)"}', '{email: "lowercase(manager_email)"}')
    assert_error(text, line_of="lowercase", path="lookups.manager.match.0.email",
                 says="unknown function 'lowercase'")


def test_an_expression_error_in_where_names_where() -> None:
    text = edit('where: "has_realization == true"', 'where: "has_realization = true"')
    assert_error(text, line_of="where:", path="where", says="syntax error")


def test_the_column_of_an_expression_error_is_given() -> None:
    text = edit('  name: "trim(name)"', '  name: "trim(name) + name.__dict__"')
    assert "(column 14)" in str(error_of(text))


def test_a_match_field_that_is_not_mapped_is_reported() -> None:
    text = edit("  match: [inn, kpp]", "  match: [inn, kpp, ogrn]")
    assert_error(text, line_of="match: [inn", path="target.match.2", says="match field 'ogrn' is not in fields")


def test_update_only_without_match_is_reported() -> None:
    text = edit("  match: [inn, kpp]\n  mode: upsert", "  mode: update_only")
    assert_error(text, line_of="mode: update_only", path="target.mode", says="needs target.match")


@pytest.mark.parametrize("name", ["Clients-To-1C", "1clients", "clients to onec", "клиенты", "x" * 64])
def test_an_invalid_exchange_name_is_reported(name: str) -> None:
    text = edit("exchange: clients_to_onec", f"exchange: {name}")
    assert_error(text, line_of="exchange:", path="exchange",
                 says="exchange: must be lower-case letters, digits and underscores")


def test_a_cursor_strategy_without_a_cursor_is_reported() -> None:
    text = edit("    cursor: updated_at\n", "")
    assert_error(text, line_of="incremental:", path="source.incremental", says="needs 'cursor: <field>'")


def test_an_exchange_that_never_runs_is_reported() -> None:
    text = edit('schedule: "@hourly"\n', "")
    assert_error(text, line_of="mapping_format:", path="schedule", says="needs a schedule, triggers, or both")


@pytest.mark.parametrize(("text", "says"), [
    ("", "the file is empty"),
    ("- just\n- a list\n", "must be a YAML mapping"),
])
def test_a_file_that_is_not_a_mapping_is_reported_at_line_1(text: str, says: str) -> None:
    error = error_of(text)
    assert str(error).startswith(f"{FILE}:1:")
    assert says in str(error)


def test_validate_file_reports_every_problem_with_the_file_path(tmp_path: Path) -> None:
    path = tmp_path / "clients_to_onec.yaml"
    path.write_text(edit("  mode: upsert", "  mode: merge", edit("exchange: clients_to_onec", "exchange: Bad-Name")),
                    encoding="utf-8")
    problems = validate_file(path)
    assert sorted(problem.path for problem in problems) == ["exchange", "target.mode"]
    assert all(str(problem).startswith(f"{path}:") for problem in problems)


def test_validate_file_of_a_valid_file_finds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert validate_file(path) == []


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "cp1251.yaml"
    path.write_bytes(BASE.encode("utf-8").replace("Контрагенты".encode(), "Контрагенты".encode("cp1251")))
    with pytest.raises(MappingError, match=r"cp1251\.yaml: not UTF-8 text"):
        load_mapping(path)


# -- a mapping file cannot smuggle code in ------------------------------------------------------------

INJECTED_LOOKUP = """\
  "q(rec, ctx, lk=().__class__.__base__.__subclasses__()):\\n    pass\\ndef z":
    entity: managers
    match:
      - {email: "lower(manager_email)"}
    fields: [id]
"""


def test_a_lookup_name_that_is_not_a_name_is_refused() -> None:
    text = edit("lookups:\n", "lookups:\n" + INJECTED_LOOKUP)
    name = "q(rec, ctx, lk=().__class__.__base__.__subclasses__()):\n    pass\ndef z"
    assert_error(text, line_of='"q(rec', path=f"lookups.{name}", says="must be a name such as 'client'")


def test_names_from_the_file_reach_generated_code_only_as_string_literals() -> None:
    # compile_mapping on its own (no loader checks): a crafted lookup name must not become code
    data = load_text(BASE, FILE).located.data
    data["lookups"]["x(): pass\nimport os\ndef y"] = data["lookups"].pop("manager")
    data["fields"]["f'] = 1\nimport os\nx = ['"] = "name"
    compiled = compile_mapping(Mapping.model_validate(data))
    tree = ast.parse(compiled.python_source)
    assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    assert all(re.fullmatch(r"_(map|where|each_\d+|lookup_\d+_\d+)", node.name)
               for node in tree.body if isinstance(node, ast.FunctionDef))
    assert [type(node) for node in tree.body] == [ast.FunctionDef] * len(tree.body)


# -- what a compiled mapping reads ----------------------------------------------------------------------


def compiled_of(text: str) -> Any:
    return load_text(text, FILE).compiled


def test_source_fields_are_exactly_the_fields_the_mapping_reads() -> None:
    compiled = compiled_of(BASE)
    assert compiled.source_fields == {
        "id", "updated_at",  # the source key and the cursor
        "has_realization",  # where
        "manager_email",  # the lookup's match
        "name", "inn", "kpp", "phone", "items",  # fields (manager.id reads the lookup, not the record)
    }
    assert compiled.child_fields == {"lines": frozenset({"sku"})}


def test_settings_constants_and_lookups_read_no_source_field() -> None:
    text = edit('  inn: "inn"', '  inn: "settings.default_inn"\n  fixed: {const: [1, 2]}\n  flag: true')
    text = edit('  kpp: "kpp"', '  kpp: "coalesce(manager.id, 1)"', text).replace("match: [inn, kpp]", "match: [inn]")
    assert compiled_of(text).source_fields == {
        "id", "updated_at", "has_realization", "manager_email", "name", "phone", "items",
    }


def test_record_as_a_whole_value_means_every_field_is_read() -> None:
    text = edit('  inn: "inn"', '  inn: "inn"\n  raw: "record"')
    assert compiled_of(text).source_fields is None


def test_parent_as_a_whole_value_in_a_row_means_every_field_is_read() -> None:
    text = edit('      client: "parent.name"', '      client: "parent"')
    assert compiled_of(text).source_fields is None


def test_record_index_with_spaces_reads_that_field() -> None:
    text = edit('  inn: "inn"', "  inn: \"record['ИНН клиента']\"")
    compiled = compiled_of(text)
    assert "ИНН клиента" in compiled.source_fields
    assert "inn" not in compiled.source_fields
    assert map_one(compiled, {"ИНН клиента": "7701234567"})["inn"] == "7701234567"


# -- running a compiled mapping ------------------------------------------------------------------------


def map_one(compiled: Any, record: dict[str, Any], lookups: dict[str, Any] | None = None,
            ctx: FakeContext | None = None) -> dict[str, Any]:
    return compiled.map_record(record, ctx or FakeContext(), lookups or {})


CLIENT = {
    "id": 1, "name": "  ООО Ромашка ", "inn": "7701234567", "kpp": "770101001", "phone": "8 (916) 123-45-67",
    "has_realization": True, "manager_email": "Boss@Shop.ru",
    "items": [{"sku": "A-1"}, {"sku": "B-2"}],
}


def test_a_record_is_mapped_field_by_field() -> None:
    out = map_one(compiled_of(BASE), CLIENT, {"manager": {"id": 7}})
    assert out == {
        "name": "ООО Ромашка", "inn": "7701234567", "kpp": "770101001", "phone": "+79161234567", "manager_id": 7,
        "lines": [
            {"sku": "A-1", "client": "  ООО Ромашка ", "row": 1},
            {"sku": "B-2", "client": "  ООО Ромашка ", "row": 2},
        ],
    }


def test_only_mapped_fields_cross() -> None:
    out = map_one(compiled_of(BASE), {**CLIENT, "secret": "do not send"})
    assert "secret" not in out
    assert set(out) == {"name", "inn", "kpp", "phone", "manager_id", "lines"}


def test_where_is_a_boolean_and_null_is_false() -> None:
    where = compiled_of(BASE).where
    assert where(CLIENT, FakeContext(), {}) is True
    assert where({**CLIENT, "has_realization": None}, FakeContext(), {}) is False


@pytest.mark.parametrize(("where", "uses_lookups"), [
    ("has_realization == true", False),
    ("manager.id is not null", True),
    ("trim(manager.id) != ''", True),
    ("record.manager == 1", False),  # the record's own field, not the lookup
])
def test_a_where_that_reads_a_lookup_is_known(where: str, uses_lookups: bool) -> None:
    text = edit('where: "has_realization == true"', f'where: "{where}"')
    assert compiled_of(text).where_uses_lookups is uses_lookups


def test_lookup_matchers_compute_the_match_values() -> None:
    matchers = compiled_of(BASE).lookup_matchers["manager"]
    assert len(matchers) == 1
    assert matchers[0](CLIENT, FakeContext(), {}) == {"email": "boss@shop.ru"}


def test_each_turns_scalars_into_value_rows_and_null_into_no_rows() -> None:
    text = edit('      sku: "sku"', '      sku: "upper(value)"')
    compiled = compiled_of(text)
    assert map_one(compiled, {**CLIENT, "items": ["a", "b"]})["lines"] == [
        {"sku": "A", "client": "  ООО Ромашка ", "row": 1}, {"sku": "B", "client": "  ООО Ромашка ", "row": 2},
    ]
    assert map_one(compiled, {**CLIENT, "items": None})["lines"] == []


NESTED = edit('      row: "_index"', '''\
      row: "_index"
      parts:
        each: "parts"
        fields:
          part: "concat(parent.sku, '/', _index)"
          qty: "int(qty)"''')


def test_nested_each_sees_its_own_parent_and_index() -> None:
    compiled = compiled_of(NESTED)
    record = {**CLIENT, "items": [{"sku": "A", "parts": [{"qty": "2"}, {"qty": 3}]}, {"sku": "B", "parts": []}]}
    lines = map_one(compiled, record)["lines"]
    assert [line["parts"] for line in lines] == [
        [{"part": "A/1", "qty": 2}, {"part": "A/2", "qty": 3}],
        [],
    ]
    assert compiled.child_fields["lines[].parts"] == {"qty"}
    assert compiled.child_fields["lines"] == {"sku", "parts"}


def test_a_field_error_names_the_field() -> None:
    text = edit('  kpp: "kpp"', '  kpp: "int(kpp)"')
    with pytest.raises(DataError, match=r"^field 'kpp': not a whole number: '7\.5'$"):
        map_one(compiled_of(text), {**CLIENT, "kpp": "7.5"})


def test_a_field_error_in_a_row_names_the_list_and_the_row_field() -> None:
    with pytest.raises(DataError, match=r"^field 'lines\[\]\.parts\[\]\.qty': not a number: 'x'$"):
        map_one(compiled_of(NESTED), {**CLIENT, "items": [{"sku": "A", "parts": [{"qty": "x"}]}]})


def test_a_field_error_keeps_its_class() -> None:
    text = edit('  kpp: "kpp"', "  kpp: \"lookup('kpp', kpp, 'crm', 'onec')\"")
    with pytest.raises(DependencyMissing, match=r"^field 'kpp': kpp 770101001 from crm is not in onec yet$"):
        map_one(compiled_of(text), CLIENT)


def test_an_unexpected_python_error_becomes_a_data_error_naming_the_field() -> None:
    # a replacement that refers to a group the pattern does not have fails in ``re`` on every record
    text = edit('  kpp: "kpp"', "  kpp: \"regex_replace(kpp, 'x', r'\\\\9')\"")
    with pytest.raises(DataError, match=r"^field 'kpp': error: invalid group reference 9"):
        map_one(compiled_of(text), CLIENT)


def test_literal_fields_are_written_as_is_including_non_finite_numbers() -> None:
    text = edit('  inn: "inn"', '  inn: "inn"\n  rate: .nan\n  limit: .inf\n  count: 3\n  price: 2.5\n  none: null')
    out = map_one(compiled_of(text), CLIENT)
    assert math.isnan(out["rate"]) and out["limit"] == math.inf
    assert (out["count"], out["price"], out["none"]) == (3, 2.5, None)


def test_money_expressions_in_a_mapping_use_decimal() -> None:
    text = edit('  inn: "inn"', '  inn: "inn"\n  total: "round_money(price * qty)"')
    assert map_one(compiled_of(text), {**CLIENT, "price": 0.1, "qty": 3})["total"] == Decimal("0.30")


def test_a_path_without_a_line_of_its_own_takes_its_nearest_ancestors_line() -> None:
    loaded: LoadedMapping = load_text(BASE, FILE)
    assert loaded.line_of("fields", "lines", "fields", "row") == line_with(BASE, 'row: "_index"')
    assert loaded.line_of("fields", "no_such_field") == BASE.splitlines().index("fields:") + 1


def test_a_blank_description_and_a_reserved_trigger_scheme_are_refused(tmp_path) -> None:
    from hub.mapping.loader import validate_file

    base = (
        "exchange: x\ndescription: '   '\nschedule: '@daily'\ntriggers: ['airflow://x']\n"
        "source: {connector: memory, connection: a, stream: s, key: id}\n"
        "target: {connector: memory, connection: b, entity: e, match: [id]}\nfields: {id: id}\n"
    )
    path = tmp_path / "x.yaml"
    path.write_text(base, encoding="utf-8")
    problems = [str(p) for p in validate_file(path)]
    assert any(":2: description:" in p and "must say what the exchange does" in p for p in problems), problems
    assert any(":4: triggers" in p and "reserved by Airflow" in p for p in problems), problems

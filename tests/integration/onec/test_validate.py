"""``hub validate`` checks 1C mappings against the server's ``$metadata`` (and the CRM's tables)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from sandbox.onec.world import MAPPINGS, OneCWorld, connection_values

ONEC_MAPPINGS = sorted(MAPPINGS.glob("*1c*.yaml"))


def test_every_shipped_1c_mapping_is_valid_against_the_server(any_world: OneCWorld) -> None:
    findings = any_world.hub.validate(ONEC_MAPPINGS)

    assert [str(f.error) for f in findings if not f.warning] == []
    assert len(ONEC_MAPPINGS) == 8


def broken_copy(tmp_path: Path, old: str, new: str, name: str = "counterparties_to_1c") -> tuple[Path, int]:
    """A shipped mapping with ``old`` replaced by ``new``; returns the file and the changed line."""
    text = (MAPPINGS / f"{name}.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = next(n for n, content in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if new in content)
    return path, line


@pytest.mark.parametrize(("old", "new", "named"), [
    # 1C names standard fields in English only; the Russian name is a typical mistake
    ("  DeletionMark: false", "  ПометкаУдаления: false", "'ПометкаУдаления'"),
    ("      АдресЭП:", "      АдресЭлПочты:", "'АдресЭлПочты'"),
    ("  entity: Catalog_Контрагенты", "  entity: Catalog_Контрагент", "'Catalog_Контрагент'"),
    # the hub tells its contact rows from the accountant's by values it writes itself
    ("    owns: [Тип, Вид_Key]", "    owns: [Тип, ВидКИ]", "'ВидКИ'"),
])
def test_a_name_missing_from_metadata_is_reported_with_file_and_line(any_world: OneCWorld, tmp_path: Path, old: str,
                                                                     new: str, named: str) -> None:
    path, line = broken_copy(tmp_path, old, new)

    errors = [f.error for f in any_world.hub.validate([path]) if not f.warning]

    assert errors, "the mapping names something 1C does not have"
    assert any(e.file == str(path) and e.line == line and named in str(e) for e in errors), [str(e) for e in errors]


@pytest.mark.parametrize(("name", "old", "new", "path", "named"), [
    # connector options that name fields: 1C answers a misspelled filter with an empty result, not an error
    ("payments_from_1c", "ВидОперации: ОплатаПокупателя}", "ВидОпераций: ОплатаПокупателя}",
     "source.options.where.ВидОпераций", "'ВидОпераций'"),
    ("payments_from_1c", "ВидОперации: ОплатаПокупателя}", "ВидОперации: ОплатаПокупатель}",
     "source.options.where.ВидОперации", "'ОплатаПокупатель'"),
    ("counterparties_to_1c", '"on": {client_id: id}', '"on": {client_idd: id}',
     "source.options.exists.0.on.client_idd", "'client_idd'"),
    ("nomenclature_to_1c", '"on": {id: deal_id}', '"on": {id: deal_no}',
     "source.options.exists.0.exists.0.on.id", "'deal_no'"),
    # values of 1C enumerations, in literals and in the settings fields use
    ("nomenclature_to_1c", "  vat_rate: НДС20", "  vat_rate: НДС25", "settings.vat_rate", "'НДС25'"),
    ("realizations_to_1c", "  vat_rate: НДС20", "  vat_rate: НДС 20%", "settings.vat_rate", "'НДС 20%'"),
    ("contracts_to_1c", "ВидДоговора: \"'СПокупателем'\"", "ВидДоговора: \"'СПокупателями'\"", "fields.ВидДоговора",
     "'СПокупателями'"),
    ("counterparties_to_1c", "else 'ЮридическоеЛицо'", "else 'ЮрЛицо'", "fields.ЮридическоеФизическоеЛицо",
     "'ЮрЛицо'"),
    ("counterparties_to_1c", "      Тип: \"'АдресЭлектроннойПочты'", "      Тип: \"'Email'",
     "fields.КонтактнаяИнформация.fields.Тип", "'Email'"),
])
def test_options_and_enumeration_values_are_checked_against_the_server(
        any_world: OneCWorld, tmp_path: Path, name: str, old: str, new: str, path: str, named: str) -> None:
    broken, line = broken_copy(tmp_path, old, new, name)

    errors = [f.error for f in any_world.hub.validate([broken]) if not f.warning]

    assert [(e.file, e.line, e.path) for e in errors if named in str(e)] == [(str(broken), line, path)], \
        [str(e) for e in errors]


def test_the_cli_exits_non_zero_and_prints_where(world: OneCWorld, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path, line = broken_copy(tmp_path, "      Тип:", "      ТипКонтакта:")
    for name, value in connection_values(world.sim, str(world.crm.engine.url)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUB_HOME", str(tmp_path))

    result = CliRunner().invoke(app, ["validate", str(path)])

    assert result.exit_code == 1
    assert f"{path}:{line}" in result.output and "'ТипКонтакта'" in result.output
    assert world.sim.users["Интеграция"] not in result.output, "no password in the output"


def test_the_cli_names_a_wrong_enumeration_value_and_a_misspelled_filter(
        world: OneCWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items, rate_line = broken_copy(tmp_path, "  vat_rate: НДС20", "  vat_rate: НДС25", "nomenclature_to_1c")
    (tmp_path / "bank").mkdir()
    receipts, where_line = broken_copy(tmp_path / "bank", "ВидОперации: ОплатаПокупателя}",
                                       "ВидОперацыи: ОплатаПокупателя}", "payments_from_1c")
    for name, value in connection_values(world.sim, str(world.crm.engine.url)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HUB_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")

    result = CliRunner().invoke(app, ["validate", str(items), str(receipts)])

    assert result.exit_code == 1
    output = " ".join(result.output.split())  # the console wraps long lines
    assert f"{items}:{rate_line}: settings.vat_rate: 'НДС25' is not a value of 'СтавкаНДС'" in output, output
    assert f"{receipts}:{where_line}: source.options.where.ВидОперацыи:" in output, output


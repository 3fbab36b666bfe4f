"""The ``search:`` section of a mapping: checked like every other part, with the file and line of a mistake,
and published in the JSON Schema; adding it changes what is indexed, not the mapping's version."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.mapping.compiled import mapping_version
from hub.mapping.loader import load_mapping
from hub.mapping.schema import mapping_schema

ROOT = Path(__file__).resolve().parents[3]


def _with_search(tmp_path: Path, section: str) -> Path:
    text = (ROOT / "mappings" / "website_leads.yaml").read_text(encoding="utf-8")
    text = text.split("\nsearch:", 1)[0].rstrip() + "\n" + section + "\n" + "settings:" + \
        text.split("\nsettings:", 1)[1]
    path = tmp_path / "website_leads.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", "--offline", str(path)], env={"HUB_HOME": str(path.parent)})
    return result.exit_code, result.output


@pytest.mark.parametrize(("section", "problem"), [
    ("search:\n  - {field: phone, source: phone, kind: phone}", "name exactly one of 'field'"),
    ("search:\n  - {field: phone}", "say what the value is"),
    ("search:\n  - {field: phone, kind: passport}", "search.0.kind"),
    ("search:\n  - {field: telephone, kind: phone}", "'telephone' is not a field of this mapping"),
])
def test_a_wrong_search_entry_is_one_line_with_file_and_line(tmp_path: Path, section: str, problem: str) -> None:
    path = _with_search(tmp_path, section)
    code, output = _validate(path)
    assert code != 0
    line = next(n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                if text.startswith("search:"))
    assert problem in output, output
    assert f"{path}:{line + 1}" in output.replace("\n", ""), output


def test_the_stock_mappings_search_sections_are_valid_and_in_the_schema() -> None:
    code, output = _validate(ROOT / "mappings" / "website_leads.yaml")
    assert code == 0, output
    schema = mapping_schema()
    assert "search" in schema["properties"]
    kinds = schema["$defs"]["SearchField"]["properties"]["kind"]["anyOf"][0]["enum"]
    assert set(kinds) == {"phone", "email", "inn", "document", "tranid", "call_id", "submission"}


def test_adding_a_search_section_keeps_the_mapping_version(tmp_path: Path) -> None:
    with_search = load_mapping(_with_search(tmp_path, "search:\n  - {field: phone, kind: phone}")).mapping
    without = load_mapping(_with_search(tmp_path, "")).mapping
    assert without.search == []
    assert mapping_version(with_search) == mapping_version(without)

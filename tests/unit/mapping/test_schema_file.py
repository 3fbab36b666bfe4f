"""The committed JSON Schema is the one the model generates, and it accepts the shipped mappings."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from hub.mapping.schema import mapping_schema

ROOT = Path(__file__).resolve().parents[3]


def test_committed_schema_is_current() -> None:
    committed = json.loads((ROOT / "config" / "mapping.schema.json").read_text(encoding="utf-8"))
    assert committed == mapping_schema(), "run `make schema` and commit config/mapping.schema.json"


def test_every_shipped_mapping_satisfies_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(mapping_schema())
    for path in sorted((ROOT / "mappings").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(data)]
        assert not errors, f"{path.name}: {errors}"


def test_schema_rejects_an_unknown_key() -> None:
    validator = jsonschema.Draft202012Validator(mapping_schema())
    bad = {"exchange": "x", "description": "d", "schedule": "@daily", "sourse": {}, "fields": {"a": "b"}}
    messages = [e.message for e in validator.iter_errors(bad)]
    assert any("sourse" in m for m in messages)

"""The JSON Schema of mapping files, generated from the model (the one source of truth)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.mapping.model import Mapping

SCHEMA_ID = "https://integration-hub.local/schemas/mapping.schema.json"


def mapping_schema() -> dict[str, Any]:
    schema = Mapping.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            **schema, "title": "Integration hub mapping"}


def write_schema(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mapping_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

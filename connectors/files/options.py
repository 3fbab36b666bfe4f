"""What a mapping can say about how its files are read (``source.options``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FileFormat = Literal["auto", "csv", "xlsx", "json", "jsonl"]
DecimalMark = Literal["auto", ",", "."]


class FilesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: FileFormat = Field("auto", description="auto: by the file's extension (.csv .txt .xlsx .json .jsonl)")
    encoding: str = Field("auto", description="CSV: auto (UTF-8, UTF-8 with BOM, else cp1251) or a codec name")
    delimiter: str | None = Field(None, min_length=1, max_length=1, description="CSV: default: detected")
    quotechar: str = Field('"', min_length=1, max_length=1)
    sheet: str | int | None = Field(None, description="XLSX: the sheet's name or 0-based number; default: the first")
    header_row: int | None = Field(
        None, ge=1, description="CSV/XLSX: the header's row number (1-based); default: detected, title rows skipped")
    records_path: str | None = Field(
        None, description="JSON: the dotted path to the list of records in the document, e.g. data.items")
    columns: dict[str, str] = Field(
        default_factory=dict, description="header text -> record field name (others keep their header text)")
    numbers: list[str] = Field(
        default_factory=list, description="fields read as decimals: '1 234,50' -> 1234.50; a bad one rejects the row")
    decimal_mark: DecimalMark = Field("auto", description="numbers: the decimal separator (auto: the last , or .)")
    duplicate_keys: Literal["reject", "allow"] = Field(
        "reject", description="a row whose key an earlier row of the read has goes to dead letters naming both rows")

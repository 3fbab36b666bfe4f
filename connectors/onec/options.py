"""What a mapping may say to the 1C connectors (``source.options`` / ``target.options``).

OData source, e.g. bank receipts that are posted and are customer payments::

    options:
      where: {Posted: true, DeletionMark: false, ВидОперации: [ОплатаПокупателя]}

SOAP source, e.g. a web-service operation returning JSON in ``return``::

    options:
      arguments: {ДатаНачала: "2025-01-01T00:00:00", ДатаОкончания: null}
      records: Документы
      fields: {Ссылка: uuid, Дата: datetime, Сумма: decimal}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.connector import FieldKind

Scalar = str | int | float | bool | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ODataSourceOptions(_Strict):
    where: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        description="server-side filter: field -> value (equality) or list of values (any of them); typed by "
        "$metadata, so a misspelled field is an error instead of 1C's silent empty result",
    )
    page_size: int | None = Field(None, ge=1, le=10_000, description="rows per request (default: the batch size)")


class ODataTargetOptions(_Strict):
    posting_mode: Literal["regular", "operational"] = Field(
        "regular", description="documents written with Posted: true are posted in this mode (PostingModeOperational)")
    data_load_mode: bool = Field(
        False, description="write in exchange mode (1C_OData-DataLoadMode: true): 1C skips most business checks")


class SoapSourceOptions(_Strict):
    service: str | None = Field(None, description="web service name (default: the connection's extra.service)")
    arguments: dict[str, Scalar] = Field(
        default_factory=dict,
        description="operation arguments; the text '$cursor' is replaced by the cursor position (strategy cursor)",
    )
    start: str | None = Field(None, description="strategy cursor: the cursor value of the very first run")
    json_result: bool = Field(True, description="the operation returns JSON text in 'return' (the common 1C design)")
    records: str = Field("", description="dot path to the list of records inside the result ('' = the result)")
    fields: dict[str, FieldKind] = Field(
        default_factory=dict, description="record fields and their types, for conversion (others pass as they are)")

"""Read options a mapping may give a ``crm_db`` source (``source.options``). No raw SQL: only these shapes.

Example (exchange 2: only clients that have a realization, with their contacts attached)::

    options:
      exists:
        - {table: deals, on: {client_id: id}, where: {stage: [shipped, invoiced]}}
      children:
        contacts: {table: contacts, foreign_key: client_id, parent_key: id, order_by: [id], fields: [name, phone]}
      where: {legal_form: [ООО, АО]}
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

Scalar = str | int | float | bool | None
#: column -> value (equality; null: IS NULL) or list of values (IN)
Filter = dict[str, Scalar | list[Scalar]]


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChildRows(_Strict):
    """Rows of another table attached to each record as a list field (deal -> its item lines)."""

    table: str
    foreign_key: list[str] = Field(description="column(s) of the child table pointing at the parent")
    parent_key: list[str] = Field(description="column(s) of the stream the foreign key refers to")
    order_by: list[str] = Field(default_factory=list, description="child columns ordering each list")
    fields: list[str] | None = Field(None, description="child columns to include (null: all)")

    _lists = field_validator("foreign_key", "parent_key", "order_by", mode="before")(_as_list)

    @field_validator("parent_key")
    @classmethod
    def _same_length(cls, value: list[str], info: object) -> list[str]:
        foreign = getattr(info, "data", {}).get("foreign_key")
        if foreign is not None and len(foreign) != len(value):
            raise ValueError("foreign_key and parent_key must name the same number of columns")
        return value


class ExistsFilter(_Strict):
    """Keep a record only if ``table`` has a row joined to it by ``on`` that passes ``where`` (and, nested,
    its own ``exists``: a product only if a deal line names it *and* that line's deal was shipped)."""

    table: str
    on: dict[str, str] = Field(min_length=1, description="column of `table` -> column of the stream (or, nested, "
                               "of the table one level up)")
    where: Filter = Field(default_factory=dict)
    exists: list[ExistsFilter] = Field(default_factory=list, description="conditions on `table`'s rows, joined "
                                       "to them the same way")


class CrmDbSourceOptions(_Strict):
    children: dict[str, ChildRows] = Field(default_factory=dict)
    exists: list[ExistsFilter] = Field(default_factory=list)
    where: Filter = Field(default_factory=dict, description="equality / IN filters on the stream's own columns")

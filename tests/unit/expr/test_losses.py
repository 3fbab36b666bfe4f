"""A mapped field whose value a conversion empties or cuts reports it (with the field's name and, for the dead
letter, the value as typed); ``where`` and lookups, whose values cross nowhere, report nothing."""

from __future__ import annotations

from hub.expr.functions import Loss
from hub.mapping.compiled import compile_mapping
from hub.mapping.model import Mapping

from .support import FakeContext, compile_expression, one_field_mapping


def losses(expression: str, **record: object) -> list[Loss]:
    ctx = FakeContext()
    compile_expression(expression).map_record(record, ctx, {})
    return ctx.losses


def test_a_phone_that_is_not_one_is_reported_with_what_was_typed() -> None:
    assert losses("phone(p)", p="12") == [Loss("v", "not a phone number", "'12' is not a phone number")]
    assert losses("default(phone(p), 'none')", p=12) == [Loss("v", "not a phone number", "12 is not a phone number")]


def test_an_address_that_is_not_one_and_a_cut_text_are_reported() -> None:
    assert losses("email(e)", e="nobody") == [Loss("v", "not an e-mail address", "'nobody' is not an e-mail address")]
    assert losses("truncate(t, 3)", t="abcdef") == [Loss("v", "cut from 6 to 3 characters",
                                                         "cut from 6 to 3 characters")]


def test_good_and_empty_values_lose_nothing() -> None:
    assert losses("[phone(p), email(e), truncate(t, 3)]", p="+7 916 123-45-67", e="a@b.ru", t="abc") == []
    assert losses("[phone(p), email(e), truncate(t, 3)]", p="  ", e=None, t=None) == []


def test_where_and_lookups_report_nothing() -> None:
    compiled = compile_expression("1", where="phone(p) is null and email(e) is null")
    ctx = FakeContext()
    assert compiled.where({"p": "12", "e": "x"}, ctx, {}) is True
    matcher = compiled.lookup_matchers["client"][0]
    assert matcher({"a": "12"}, ctx, {}) == {"id": "12"}
    assert ctx.losses == []


def test_a_list_field_reports_under_its_name_and_each_row_field_under_its_own() -> None:
    data = one_field_mapping("1").model_dump(mode="json", by_alias=True, exclude_none=True)
    data["fields"] = {"contacts": {"each": "compact([phone(p), email(e)])",
                                   "fields": {"value": "value", "short": "truncate(value, 2)"}}}
    mapping = Mapping.model_validate(data)
    ctx = FakeContext()
    mapped = compile_mapping(mapping).map_record({"p": "12", "e": "a@b.ru"}, ctx, {})
    assert mapped["contacts"] == [{"value": "a@b.ru", "short": "a@"}]
    assert [(loss.field, loss.problem) for loss in ctx.losses] == [
        ("contacts", "not a phone number"), ("contacts[].short", "cut from 6 to 2 characters")]

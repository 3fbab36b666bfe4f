"""Every allow-listed function, called the way mappings call it: through a compiled expression.

The language tests at the end check that each construct outside the language is refused with a message
that says what is wrong and where (the column, 1-based in the text, 0-based in ``ExpressionError.column``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.errors import DataError, DependencyMissing, MappingError
from hub.expr import functions
from hub.expr.language import MAX_LENGTH, ExpressionError, parse

from .support import FakeContext, compile_expression, evaluator

MOSCOW = ZoneInfo("Europe/Moscow")
UTC = dt.UTC

def value(expression: str, ctx: FakeContext | None = None, lookups: dict[str, Any] | None = None,
          **record: Any) -> Any:
    return evaluator(expression)(record, ctx, lookups)


def fails(expression: str, ctx: FakeContext | None = None, **record: Any) -> pytest.ExceptionInfo[DataError]:
    with pytest.raises(DataError) as info:
        value(expression, ctx, **record)
    return info


def invalid(expression: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse(expression)
    return info.value


# -- phone ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "8 (916) 123-45-67",
    "89161234567",
    "+7 916 123 45 67",
    "+7(916)123-45-67",
    "7 916 123 45 67",
    "9161234567",
    "  8-916-123-45-67  ",
    "tel:+7 916 123 45 67",
    89161234567,
])
def test_phone_normalises_russian_formats_to_e164(raw: Any) -> None:
    assert value("phone(p)", p=raw) == "+79161234567"


def test_phone_reads_a_moscow_landline_without_the_trunk_prefix() -> None:
    assert value("phone(p)", p="(495) 123-45-67") == "+74951234567"


def test_phone_keeps_a_foreign_number_written_with_its_country_code() -> None:
    assert value("phone(p)", p="+49 30 123456") == "+4930123456"
    assert value("phone(p)", p="+1 650 253 0000") == "+16502530000"


def test_phone_reads_a_national_number_in_the_region_given() -> None:
    assert value("phone(p, 'DE')", p="030 123456") == "+4930123456"
    assert value("phone(p, region='US')", p="(650) 253-0000") == "+16502530000"


def test_phone_uses_the_default_region_of_the_run() -> None:
    assert value("phone(p)", FakeContext(default_region="US"), p="(650) 253-0000") == "+16502530000"


def test_phone_reads_the_8_prefix_as_plus_7_only_in_russia() -> None:
    assert value("phone(p)", p="8 916 123 45 67") == "+79161234567"
    assert value("phone(p, 'DE')", p="8 916 123 45 67") != "+79161234567"


@pytest.mark.parametrize("raw", ["", "   ", None, "abc", "123", "+7 916 123", "+8 916 123 45 67", "not a phone 42"])
def test_phone_gives_null_for_empty_or_garbage_input(raw: Any) -> None:
    assert value("phone(p)", p=raw) is None


def test_phone_region_must_be_a_known_region_code() -> None:
    assert "unknown phone region 'XX'" in str(invalid("phone(p, 'XX')"))
    assert "unknown phone region 5" in str(invalid("phone(p, region=5)"))


# -- email ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    (" Ivan.Petrov@Example.COM ", "ivan.petrov@example.com"),
    ("MAILTO:Sales@Shop.ru", "sales@shop.ru"),
    ("иван@почта.рф", "иван@почта.рф"),
    ("", None),
    (None, None),
    ("not an email", None),
    ("a@b", None),
    ("a@@b.ru", None),
    ("a b@c.ru", None),
    ("x@" + "a" * 250 + ".ru", None),
])
def test_email_is_trimmed_and_lower_cased_or_null(raw: Any, expected: str | None) -> None:
    assert value("email(e)", e=raw) == expected


# -- text ----------------------------------------------------------------------------------------------


def test_trim_lower_upper() -> None:
    assert value("trim(s)", s="  Иван Петров \t") == "Иван Петров"
    assert value("lower(s)", s="ИВАН Ivan") == "иван ivan"
    assert value("upper(s)", s="иван ivan") == "ИВАН IVAN"


def test_text_functions_turn_values_into_text_and_keep_null() -> None:
    assert value("trim(n)", n=42) == "42"
    assert value("upper(b)", b=b"ab") == "AB"
    assert value("trim(s)", s=None) is None
    assert value("lower(s)", s=None) is None
    assert value("upper(s)", s=None) is None


def test_concat_skips_empty_parts_and_uses_the_separator() -> None:
    assert value("concat(last, first, middle, sep=' ')", last="Петров", first="Иван", middle="") == "Петров Иван"
    assert value("concat(a, b)", a="x", b=None) == "x"
    assert value("concat(a, 1, 2.5)", a="n") == "n12.5"
    assert value("concat(a, b, sep=', ')", a=None, b="  ") is None


def test_coalesce_takes_the_first_non_empty_value() -> None:
    assert value("coalesce(mobile, work, 'none')", mobile="", work="123") == "123"
    assert value("coalesce(mobile, work)", mobile=None, work=None) is None
    assert value("coalesce(n, 5)", n=0) == 0  # zero is a value, not an empty one


def test_default_replaces_only_an_empty_value() -> None:
    assert value("default(s, 'n/a')", s="  ") == "n/a"
    assert value("default(s, 'n/a')", s=None) == "n/a"
    assert value("default(s, 'n/a')", s="x") == "x"
    assert value("default(b, true)", b=False) is False


def test_require_passes_a_value_and_rejects_an_empty_one_with_its_reason() -> None:
    assert value("require(inn)", inn="7701234567") == "7701234567"
    assert "required value is empty" in str(fails("require(inn)", inn=" ").value)
    assert "the client has no INN" in str(fails("require(inn, 'the client has no INN')", inn=None).value)


def test_require_reason_must_be_a_literal() -> None:
    assert "argument 2 must be a literal" in str(invalid("require(inn, reason_field)"))


def test_truncate_cuts_text_to_a_literal_length() -> None:
    assert value("truncate(s, 3)", s="Петров") == "Пет"
    assert value("truncate(s, 10)", s="abc") == "abc"
    assert value("truncate(s, 0)", s="abc") == ""
    assert value("truncate(s, 3)", s=None) is None
    assert "must be a literal" in str(invalid("truncate(s, n)"))
    assert "expected a whole number >= 0" in str(invalid("truncate(s, -1)"))
    assert "expected a whole number >= 0" in str(invalid("truncate(s, 'a')"))


def test_length_counts_characters_or_items() -> None:
    assert value("length(s)", s="Пётр") == 4
    assert value("length(items)", items=[1, 2, 3]) == 3
    assert value("length(n)", n=12345) == 5
    assert value("length(s)", s=None) == 0


def test_text_formats_decimals_and_dates_exactly() -> None:
    assert value("text(x)", x=Decimal("1E+2")) == "100"
    assert value("text(x)", x=Decimal("10.50")) == "10.50"
    assert value("text(x)", x=dt.date(2024, 3, 1)) == "2024-03-01"
    assert value("text(x)", x=dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)) == "2024-03-01T10:00:00+00:00"
    assert value("text(x)", x=5) == "5"
    assert value("text(x)", x=None) is None


# -- lists of child rows ------------------------------------------------------------------------------

PAYMENTS = [
    {"amount": "10.50", "paid_on": "2024-03-02", "status": "paid"},
    {"amount": 5, "paid_on": "2024-03-09", "status": "paid"},
    {"amount": None, "paid_on": None, "status": "draft"},
    {"other": 1},
    "not a row",
]


def test_sum_of_adds_a_field_over_the_rows_as_decimal() -> None:
    assert value("sum_of(payments, 'amount')", payments=PAYMENTS) == Decimal("15.50")
    assert value("sum_of(amounts)", amounts=[1, "2,5", None, ""]) == Decimal("3.5")
    assert value("sum_of(payments, 'amount')", payments=[]) == Decimal(0)
    assert value("sum_of(payments, 'amount')", payments=None) == Decimal(0)


def test_sum_of_rejects_what_is_not_a_list_of_numbers() -> None:
    assert "not a list" in str(fails("sum_of(payments, 'amount')", payments="10").value)
    assert "not a number" in str(fails("sum_of(amounts)", amounts=["ten"]).value)
    assert "the field name must be text" in str(invalid("sum_of(payments, 5)"))
    assert "must be a literal" in str(invalid("sum_of(payments, field_name)"))


def test_first_of_takes_the_first_non_empty_value_of_a_field() -> None:
    rows = [{"doc": None}, {"doc": ""}, {"doc": "b"}, {"doc": "a"}]
    assert value("first_of(rows, 'doc')", rows=rows) == "b"
    assert value("first_of(rows_with(rows, 'doc', 'a'), 'doc')", rows=rows) == "a"
    assert value("first_of(rows, 'doc')", rows=[]) is None


def test_max_of_takes_the_largest_value_of_a_field() -> None:
    assert value("max_of(payments, 'paid_on')", payments=PAYMENTS) == "2024-03-09"
    assert value("datetime(max_of(payments, 'paid_on'))", payments=PAYMENTS) == dt.datetime(2024, 3, 9, tzinfo=MOSCOW)
    assert value("max_of(prices)", prices=[3, Decimal("7.5"), 1.0]) == Decimal("7.5")
    assert value("max_of(prices)", prices=[]) is None
    assert "cannot compare" in str(fails("max_of(prices)", prices=[1, "a"]).value)


def test_rows_with_keeps_the_rows_whose_field_equals_the_value() -> None:
    paid = value("rows_with(payments, 'status', 'paid')", payments=PAYMENTS)
    assert paid == PAYMENTS[:2]
    assert value("sum_of(rows_with(payments, 'status', 'paid'), 'amount')", payments=PAYMENTS) == Decimal("15.50")
    assert value("rows_with(payments, 'status', wanted)", payments=PAYMENTS, wanted="draft") == [PAYMENTS[2]]
    assert value("rows_with(payments, 'status', 'paid')", payments=None) == []
    assert "not a list" in str(fails("rows_with(payments, 'status', 'paid')", payments={"status": "paid"}).value)


def test_compact_drops_empty_elements() -> None:
    assert value("compact([phone(p), email(e), trim(s)])", p="garbage", e="A@B.ru", s="  ") == ["a@b.ru"]
    assert value("compact(items)", items=[0, None, "", "x", False]) == [0, "x", False]
    assert value("compact(items)", items=None) == []


def test_pick_chooses_by_round_robin_for_numbers_and_stably_for_text() -> None:
    managers = [11, 12, 13]
    assert [value("pick(m, k)", m=managers, k=k) for k in (0, 1, 2, 3, 4)] == [11, 12, 13, 11, 12]
    first = value("pick(m, k)", m=managers, k="lead-42")
    assert first in managers
    assert all(value("pick(m, k)", m=managers, k="lead-42") == first for _ in range(3))
    assert {value("pick(m, k)", m=managers, k=f"lead-{n}") for n in range(30)} == set(managers)
    assert value("pick(m, k)", m=managers, k=None) is None
    assert value("pick(m, k)", m=[], k=1) is None
    assert value("pick(settings.managers, k)", k=1) is None  # the test mapping's settings have no 'managers'


# -- regular expressions -------------------------------------------------------------------------------


def test_regex_replace_substitutes_every_match_including_groups() -> None:
    # expression strings are Python literals: regexes are written as raw strings, r'...'
    assert value(r"regex_replace(inn, r'\D', '')", inn="77-01 234 567") == "7701234567"
    assert value(r"regex_replace(s, r'(\w+) (\w+)', r'\2 \1')", s="Иван Петров") == "Петров Иван"
    assert value(r"regex_replace(s, r'\D', '')", s=None) is None


def test_regex_match_searches_anywhere_in_the_text() -> None:
    assert value(r"regex_match(s, r'^\d{10}$')", s="7701234567") is True
    assert value(r"regex_match(s, 'OOO')", s="Рога и копыта OOO") is True
    assert value(r"regex_match(s, r'^\d+$')", s="12a") is False
    assert value(r"regex_match(s, '.')", s=None) is False


def test_regex_pattern_is_compiled_once_when_the_mapping_is_compiled() -> None:
    compiled_patterns = [v for v in _compiled_globals(r"regex_match(s, r'^\d+$')").values()
                         if hasattr(v, "pattern") and hasattr(v, "search")]
    assert [p.pattern for p in compiled_patterns] == [r"^\d+$"]


def test_invalid_regex_is_rejected_at_validation_with_its_column() -> None:
    error = invalid("regex_replace(s, '(', '')")
    assert "invalid regular expression" in error.message
    assert error.column == len("regex_replace(s, ")


def test_regex_pattern_must_be_a_literal() -> None:
    assert "argument 2 must be a literal" in str(invalid("regex_match(s, pattern_field)"))
    assert "the pattern must be a text literal" in str(invalid("regex_match(s, 5)"))


def _compiled_globals(expression: str) -> dict[str, Any]:
    return compile_expression(expression).map_record.__globals__


# -- numbers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [
    ("12.50", Decimal("12.50")),
    ("1 234,56", Decimal("1234.56")),
    ("1\u00a0234,56", Decimal("1234.56")),
    (" -7 ", Decimal("-7")),
    (3, Decimal(3)),
    (0.1, Decimal("0.1")),
    (Decimal("2.5"), Decimal("2.5")),
    ("", None),
    (None, None),
])
def test_decimal_reads_numbers_written_the_russian_way(raw: Any, expected: Decimal | None) -> None:
    result = value("decimal(x)", x=raw)
    assert result == expected
    assert result is None or isinstance(result, Decimal)


@pytest.mark.parametrize("raw", ["abc", "1.2.3", "NaN", "Infinity", "-inf", "sNaN", float("nan"), float("inf"), True])
def test_decimal_rejects_what_is_not_a_finite_number(raw: Any) -> None:
    assert "not a number" in str(fails("decimal(x)", x=raw).value)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2.675", Decimal("2.68")),  # HALF_UP, not banker's rounding
    ("2.665", Decimal("2.67")),
    ("-2.675", Decimal("-2.68")),
    (2.675, Decimal("2.68")),  # the float's shortest repr, not its binary expansion 2.67499999...
    (Decimal("0.005"), Decimal("0.01")),
    ("10", Decimal("10.00")),
    (None, None),
])
def test_round_money_rounds_half_up_to_cents(raw: Any, expected: Decimal | None) -> None:
    assert value("round_money(x)", x=raw) == expected


def test_round_money_to_other_places() -> None:
    assert value("round_money(x, 0)", x="2.5") == Decimal("3")
    assert value("round_money(x, 3)", x="1.23456") == Decimal("1.235")
    assert str(value("round_money(x, 2)", x="1")) == "1.00"


def test_round_money_places_must_be_a_whole_number_literal() -> None:
    assert "must be a literal" in str(invalid("round_money(x, places)"))
    assert "decimal places" in str(invalid("round_money(x, 2.5)"))


def test_round_money_of_a_number_too_large_for_the_decimal_context_is_a_data_error() -> None:
    assert "too large" in str(fails("round_money(x)", x="1e30").value)


def test_money_arithmetic_mixes_decimal_and_float_as_decimal() -> None:
    assert value("round_money(price) * qty", price="10.10", qty=3) == Decimal("30.30")
    assert value("decimal(a) + b", a="0.1", b=0.2) == Decimal("0.3")
    assert value("round_money(a) == 10.1", a="10.10") is True
    assert value("decimal(a) >= 0.1", a="0.1") is True


@pytest.mark.parametrize(("raw", "expected"), [
    ("42", 42), (" 1 000 ", 1000), ("7.0", 7), (Decimal("5"), 5), (3.0, 3), (True, 1), ("", None), (None, None),
])
def test_int_reads_whole_numbers(raw: Any, expected: int | None) -> None:
    result = value("int(x)", x=raw)
    assert result == expected
    assert result is None or type(result) is int


@pytest.mark.parametrize("raw", ["7.5", "abc", float("inf"), "NaN"])
def test_int_rejects_what_is_not_a_whole_number(raw: Any) -> None:
    fails("int(x)", x=raw)


def test_int_refuses_a_huge_exponent_instead_of_computing_it() -> None:
    # '1e1000000' used to take ~25 s to turn into an int; one hostile form field could stall a run
    assert "too large" in str(fails("int(x)", x="1e999999999").value)
    assert value("int(x)", x="1e20") == 10**20


@pytest.mark.parametrize(("raw", "expected"), [
    ("да", True), ("Нет", False), ("yes", True), ("0", False), (" TRUE ", True), ("истина", True),
    (1, True), (0, False), (True, True), (False, False), ("", None), (None, None),
])
def test_bool_reads_yes_no_values_in_russian_and_english(raw: Any, expected: bool | None) -> None:
    assert value("bool(x)", x=raw) is expected


def test_bool_rejects_anything_else() -> None:
    assert "not a yes/no value" in str(fails("bool(x)", x="maybe").value)


# -- dates and times -----------------------------------------------------------------------------------


def test_datetime_gives_naive_input_the_time_zone_of_the_run() -> None:
    assert value("datetime(t)", t="2024-03-01 10:00") == dt.datetime(2024, 3, 1, 10, 0, tzinfo=MOSCOW)
    assert value("datetime(t)", FakeContext(timezone="Asia/Yekaterinburg"), t="2024-03-01T10:00:00").tzinfo \
        == ZoneInfo("Asia/Yekaterinburg")


def test_datetime_keeps_an_explicit_offset() -> None:
    parsed = value("datetime(t)", t="2024-03-01T10:00:00+05:00")
    assert parsed.utcoffset() == dt.timedelta(hours=5)
    assert value("datetime(t)", t="2024-03-01T07:00:00Z") == dt.datetime(2024, 3, 1, 7, 0, tzinfo=UTC)


def test_datetime_reads_a_format_and_an_explicit_zone() -> None:
    assert value("datetime(t, '%d.%m.%Y %H:%M')", t="01.03.2024 10:30") \
        == dt.datetime(2024, 3, 1, 10, 30, tzinfo=MOSCOW)
    assert value("datetime(t, tz='UTC')", t="2024-03-01 10:00") == dt.datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert value("datetime(t, '%d.%m.%Y', 'Asia/Vladivostok')", t="01.03.2024").tzinfo \
        == ZoneInfo("Asia/Vladivostok")


def test_datetime_reads_dates_and_unix_timestamps() -> None:
    assert value("datetime(t)", t=dt.date(2024, 3, 1)) == dt.datetime(2024, 3, 1, tzinfo=MOSCOW)
    assert value("datetime(t)", t=1_700_000_000) == dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert value("datetime(t)", t=None) is None


def test_datetime_rejects_text_that_is_not_a_date_time() -> None:
    assert "not a date-time" in str(fails("datetime(t)", t="yesterday").value)
    assert "in format %d.%m.%Y" in str(fails("datetime(t, '%d.%m.%Y')", t="2024-03-01").value)
    assert "not a timestamp" in str(fails("datetime(t)", t=10**20).value)


def test_datetime_zone_and_format_are_checked_at_validation() -> None:
    error = invalid("datetime(t, tz='Mars/Olympus')")
    assert "unknown time zone 'Mars/Olympus'" in error.message
    assert error.column == len("datetime(t, tz=")
    assert "the format must be text" in str(invalid("datetime(t, 5)"))


def test_date_reads_iso_text_formats_and_datetimes() -> None:
    assert value("date(d)", d="2024-03-01") == dt.date(2024, 3, 1)
    assert value("date(d)", d="2024-03-01T23:30:00+03:00") == dt.date(2024, 3, 1)
    assert value("date(d, '%d.%m.%Y')", d="01.03.2024") == dt.date(2024, 3, 1)
    assert value("date(d, fmt='%d/%m/%y')", d="01/03/24") == dt.date(2024, 3, 1)
    assert value("date(d)", d=dt.datetime(2024, 3, 1, 5, 0)) == dt.date(2024, 3, 1)
    assert value("date(d)", d="") is None
    assert "not a date" in str(fails("date(d)", d="01.03.2024").value)


def test_to_timezone_and_naive_local_convert_between_zones() -> None:
    assert value("to_timezone(t, 'UTC')", t="2024-03-01T10:00:00+03:00") == dt.datetime(2024, 3, 1, 7, tzinfo=UTC)
    moscow = value("to_timezone(t)", t="2024-03-01T07:00:00Z")
    assert (moscow.hour, moscow.tzinfo) == (10, MOSCOW)
    assert value("naive_local(t)", t="2024-03-01T07:00:00Z") == dt.datetime(2024, 3, 1, 10, 0)
    assert value("naive_local(t, 'Asia/Yekaterinburg')", t="2024-03-01T07:00:00Z") == dt.datetime(2024, 3, 1, 12)
    assert value("to_timezone(t)", t=None) is None
    assert "out of range" in str(fails("to_timezone(t, 'UTC')", t="0001-01-01T00:00:00+03:00").value)


def test_format_datetime_formats_in_the_run_zone_or_the_zone_given() -> None:
    assert value("format_datetime(t, '%d.%m.%Y %H:%M')", t="2024-03-01T07:00:00Z") == "01.03.2024 10:00"
    assert value("format_datetime(t, '%H:%M', 'UTC')", t="2024-03-01 10:00") == "07:00"
    assert value("format_datetime(t, fmt='%Y')", t=None) is None
    assert "the format must be text" in str(invalid("format_datetime(t, null)"))


def test_format_date_formats_a_date() -> None:
    assert value("format_date(d, '%d.%m.%Y')", d="2024-03-01") == "01.03.2024"
    assert value("format_date(d, '%d.%m.%Y')", d=None) is None


def test_add_minutes_moves_a_date_time_and_keeps_null() -> None:
    assert value("add_minutes(t, 90)", t="2024-03-01 10:00") == dt.datetime(2024, 3, 1, 11, 30, tzinfo=MOSCOW)
    assert value("add_minutes(t, m)", t="2024-03-01 10:00", m="-15") == dt.datetime(2024, 3, 1, 9, 45, tzinfo=MOSCOW)
    assert value("add_minutes(t, m)", t="2024-03-01 10:00", m=None) is None
    assert value("add_minutes(t, 5)", t=None) is None
    assert "cannot add" in str(fails("add_minutes(t, m)", t="2024-03-01 10:00", m="soon").value)


# -- the key map ---------------------------------------------------------------------------------------


def test_lookup_asks_the_key_map_of_the_run() -> None:
    ctx = FakeContext(keys={("client", "42", "crm", "onec"): "a1b2-guid"})
    assert value("lookup('client', client_id, 'crm', 'onec')", ctx, client_id=42) == "a1b2-guid"
    assert ctx.calls == [("client", 42, "crm", "onec")]


def test_lookup_of_a_missing_object_is_a_dependency_to_wait_for() -> None:
    with pytest.raises(DependencyMissing, match="client 42 from crm is not in onec yet"):
        value("lookup('client', client_id, 'crm', 'onec')", client_id=42)


def test_lookup_not_required_gives_null_and_empty_input_asks_nothing() -> None:
    assert value("lookup('client', client_id, 'crm', 'onec', required=false)", client_id=42) is None
    ctx = FakeContext()
    assert value("lookup('client', client_id, 'crm', 'onec')", ctx, client_id=None) is None
    assert ctx.calls == []


def test_lookup_names_its_entity_and_systems_with_literals() -> None:
    assert "argument 1 must be a literal" in str(invalid("lookup(entity, x, 'crm', 'onec')"))
    assert "lookup() takes 4..5 argument(s), got 3" in str(invalid("lookup('client', x, 'crm')"))


# -- null in, null out ---------------------------------------------------------------------------------

NULL_SAFE = {
    "trim(x)": None, "lower(x)": None, "upper(x)": None, "concat(x)": None, "coalesce(x)": None,
    "default(x, 1)": 1, "truncate(x, 2)": None, "length(x)": 0, "regex_replace(x, 'a', 'b')": None,
    "regex_match(x, 'a')": False, "phone(x)": None, "email(x)": None, "decimal(x)": None,
    "round_money(x)": None, "int(x)": None, "text(x)": None, "bool(x)": None, "datetime(x)": None,
    "date(x)": None, "to_timezone(x)": None, "naive_local(x)": None, "format_datetime(x, '%Y')": None,
    "format_date(x, '%Y')": None, "add_minutes(x, 1)": None, "lookup('client', x, 'a', 'b')": None,
    "sum_of(x)": Decimal(0), "max_of(x)": None, "rows_with(x, 'f', 1)": [], "compact(x)": [], "pick(x, 1)": None,
    "first_of(x)": None,
}


@pytest.mark.parametrize(("expression", "expected"), NULL_SAFE.items())
def test_every_function_gives_an_empty_result_for_null(expression: str, expected: Any) -> None:
    assert value(expression, x=None) == expected


def test_require_is_the_one_function_that_fails_on_null() -> None:
    fails("require(x)", x=None)


def test_the_null_table_covers_every_built_in_function() -> None:
    """A new built-in function must say what it does with null (connectors test their own functions)."""
    covered = {expression.split("(")[0] for expression in NULL_SAFE} | {"require"}
    assert covered == set(functions._specs())


# -- the language: what is refused and where -----------------------------------------------------------


@pytest.mark.parametrize(("text", "message", "column"), [
    ("lambda: 1", "a lambda is not allowed", 0),
    ("trim([x for x in items])", "a comprehension is not allowed", 5),
    ("{k: 1 for k in items}", "a comprehension is not allowed", 0),
    ("sum(x for x in items)", "unknown function 'sum'", 0),
    ("(x for x in items)", "a generator is not allowed", 0),
    ("f'{name}'", "an f-string is not allowed", 0),
    ("(y := 1)", "':=' is not allowed", 1),
    ("trim(*items)", "*args is not allowed", 5),
    ("trim(**opts)", "**kwargs is not allowed", 7),
    ("name.__class__", "field name '__class__' may not start with '_'", 0),
    ("settings._secret", "field name '_secret' may not start with '_'", 0),
    ("__builtins__", "name '__builtins__' is not allowed", 0),
    ("__import__('os')", "unknown function '__import__'", 0),
    ("trim(name).upper()", "only the mapping functions can be called", 0),
    ("record.get('a')", "only the mapping functions can be called", 0),
    ("name[1:2]", "an index must be a literal text or whole number", 0),
    ("items[i]", "an index must be a literal text or whole number", 0),
    ("items[True]", "an index must be a literal text or whole number", 0),
    ("(1).real", "a field path must start with a name", 0),
    ("trim(x)[0]", "only a field can be indexed", 0),
    ("x in {1, 2}", "a set literal is not allowed", 5),
    ("{'a': 1}", "a dict literal is not allowed", 0),
    ("x ** 2", "operator Pow is not allowed", 0),
    ("x << 2", "operator LShift is not allowed", 0),
    ("x @ y", "operator MatMult is not allowed", 0),
    ("~x", "operator Invert is not allowed", 0),
    ("x is 1", "'is' / 'is not' may only compare with null", 0),
    ("b'x'", "literal b'x' is not allowed", 0),
    ("1j", "literal 1j is not allowed", 0),
    ("...", "literal Ellipsis is not allowed", 0),
    ("await x", "await is not allowed", 0),
    ("(yield x)", "yield is not allowed", 1),
    ("nosuch(x)", "unknown function 'nosuch'", 0),
    ("lower(x) + upper(x, 1)", "upper() takes 1 argument(s), got 2", 11),
    ("trim()", "trim() takes 1 argument(s), got 0", 0),
    ("concat(x, separator='-')", "concat() has no argument 'separator'", 20),
    ("concat(a, sep=sep_field)", "keyword arguments must be literals", 14),
    ("phone(x, 'RU', region='DE')", "argument 'region' given twice", 22),
    ("truncate(x, n)", "truncate(): argument 2 must be a literal", 12),
    ("a = 1", "syntax error", 2),
    ("x if y", "syntax error: expected 'else'", 0),
])
def test_disallowed_construct_is_refused_with_a_clear_message_and_column(text: str, message: str,
                                                                          column: int) -> None:
    error = invalid(text)
    assert message in error.message
    assert error.column == column
    assert f"(at column {column + 1})" in str(error)


@pytest.mark.parametrize(("text", "message"), [
    ("", "expression is empty"),
    ("   ", "expression is empty"),
    ("x" * (MAX_LENGTH + 1), f"longer than {MAX_LENGTH} characters"),
    ("-" * 60 + "x", "nested deeper than"),
    ("[" + ", ".join(["x"] * 401) + "]", "more than 400 parts"),
    ("a\x00b", "null bytes"),
    ("(" * 300 + "x" + ")" * 300, "syntax error"),
])
def test_oversized_or_empty_expressions_are_refused(text: str, message: str) -> None:
    assert message in invalid(text).message


def test_a_non_text_expression_is_refused() -> None:
    with pytest.raises(ExpressionError, match="must be text"):
        parse(5)  # type: ignore[arg-type]


def test_field_names_that_match_function_names_are_fields() -> None:
    assert value("phone(phone)", phone="8 916 123 45 67") == "+79161234567"
    assert value("trim(text)", text=" a ") == "a"


def test_validation_error_in_a_mapping_names_the_column_too() -> None:
    with pytest.raises(MappingError, match=r"fields\.v: unknown function 'strip' in 'strip\(x\)' \(column 1\)"):
        evaluator("strip(x)")

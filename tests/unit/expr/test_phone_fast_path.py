"""phone() takes two shortcuts (plain Russian numbers, precompiled validity); it must give exactly what
phonenumbers' own parser and validator give, for every input and every region."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from hub.expr.phones import is_valid, to_e164

REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
COUNTRY_CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)


def by_the_library(text: str, region: str) -> str | None:
    digits = "".join(c for c in text if c.isdigit())
    if region == "RU" and len(digits) == 11 and digits[0] == "8" and not text.strip().startswith("+"):
        text = "+7" + digits[1:]  # the Russian trunk prefix, which phone() documents
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


digit_runs = st.text(alphabet="0123456789", min_size=1, max_size=4)
separators = st.sampled_from(["", " ", "-", "(", ") ", ".", "\u00a0", " - "])
phone_like = st.builds(
    lambda prefix, parts, seps: prefix + "".join(p + s for p, s in zip(parts, seps, strict=False)),
    st.sampled_from(["", "+", "+7", "8", "+7 ", "8 ", "7", " +", "+ 7", "8-", "(", "+(7) ", "+-", "8 (0", "+1 ",
                     "+49 ", "+44 "]),
    st.lists(digit_runs, min_size=1, max_size=5),
    st.lists(separators, min_size=5, max_size=5),
)
russian_ten_digits = st.from_regex(r"[1-9][0-9]{9}", fullmatch=True)


@settings(max_examples=3000, deadline=None)
@given(text=phone_like, region=st.sampled_from(["RU", "KZ", "DE", "US", "GB", "BY", "UA"]))
def test_phone_shaped_text_gets_the_library_answer(text: str, region: str) -> None:
    if text.strip():
        assert to_e164.__wrapped__(text, region) == by_the_library(text, region)


@settings(max_examples=3000, deadline=None)
@given(national=russian_ten_digits, prefix=st.sampled_from(["+7", "8", "", "+7 (", "8 ("]),
       region=st.sampled_from(["RU", "KZ", "DE"]))
def test_russian_numbers_of_every_range_get_the_library_answer(national: str, prefix: str, region: str) -> None:
    # every 10-digit national number, not just the plausible ones: the validity matcher must agree on the
    # unassigned ranges too, and on which of Russia and Kazakhstan a +7 number belongs to
    text = f"{prefix}{national[:3]}) {national[3:]}" if prefix.endswith("(") else prefix + national
    assert to_e164.__wrapped__(text, region) == by_the_library(text, region)


@settings(max_examples=5000, deadline=None)
@given(country_code=st.sampled_from(COUNTRY_CODES), national=st.text(alphabet="0123456789", min_size=1, max_size=17))
def test_validity_matches_the_library_for_every_country_code(country_code: int, national: str) -> None:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(national))
    if national.startswith("0"):  # how the parser keeps leading zeros (Italy, Côte d'Ivoire, ...)
        number.italian_leading_zero = True
        number.number_of_leading_zeros = len(national) - len(national.lstrip("0")) or len(national)
    expected = phonenumbers.is_valid_number(number)
    assert is_valid(country_code, phonenumbers.national_significant_number(number)) == expected


@pytest.mark.parametrize("region", REGIONS)
def test_every_regions_example_numbers_are_valid_and_formatted_like_the_library(region: str) -> None:
    for number_type in phonenumbers.PhoneNumberType.values():
        example = phonenumbers.example_number_for_type(region, number_type)
        if example is None:
            continue
        national = phonenumbers.national_significant_number(example)
        assert is_valid(example.country_code, national) == phonenumbers.is_valid_number(example)
        text = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        assert to_e164.__wrapped__(text, region) == by_the_library(text, region)


def test_known_russian_and_kazakh_numbers() -> None:
    assert to_e164("8 (916) 123-45-67", "RU") == "+79161234567"
    assert to_e164("+7 (495) 123-45-67", "RU") == "+74951234567"
    assert to_e164("+7 701 123 4567", "RU") == "+77011234567"  # Kazakhstan shares +7
    assert to_e164("8 (000) 000-00-00", "RU") is None
    assert to_e164("9161234567", "DE") == "+499161234567"  # ten digits are Russian only under Russian rules
    assert to_e164("+7 916 123 45 67 доб. 12", "RU") == "+79161234567"  # extensions go through the parser

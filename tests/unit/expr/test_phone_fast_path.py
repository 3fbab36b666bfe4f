"""phone() takes a shortcut for plain Russian numbers; it must give exactly what phonenumbers' own parser
and validator give, for every input."""

from __future__ import annotations

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.expr.functions import _e164


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
separators = st.sampled_from(["", " ", "-", "(", ") ", "."])
phone_like = st.builds(
    lambda prefix, parts, seps: prefix + "".join(p + s for p, s in zip(parts, seps, strict=False)),
    st.sampled_from(["", "+", "+7", "8", "+7 ", "8 ", "7", " +"]),
    st.lists(digit_runs, min_size=1, max_size=5),
    st.lists(separators, min_size=5, max_size=5),
)


@settings(max_examples=2000, deadline=None)
@given(text=phone_like, region=st.sampled_from(["RU", "KZ", "DE", "US"]))
def test_the_shortcut_agrees_with_the_library(text: str, region: str) -> None:
    if text.strip():
        assert _e164(text, region) == by_the_library(text, region)


def test_known_russian_and_kazakh_numbers() -> None:
    assert _e164("8 (916) 123-45-67", "RU") == "+79161234567"
    assert _e164("+7 (495) 123-45-67", "RU") == "+74951234567"
    assert _e164("+7 701 123 4567", "RU") == "+77011234567"  # Kazakhstan shares +7
    assert _e164("8 (000) 000-00-00", "RU") is None

"""Phone numbers to E.164, with exactly phonenumbers' answers at a fraction of its cost.

``phone()`` runs for every record of most exchanges, and phonenumbers' general parser and validator cost about
40 µs a number, more than all other fields of a typical mapping together. Two shortcuts keep its answers and drop
most of the cost:

- **plain Russian numbers** (``8 (916) 123-45-67``, ``+7 916 1234567``, ``9161234567``), the bulk of a Russian
  CRM, are split into country code and national number by one regex instead of the general parser;
- **validity** is decided by one precompiled regex per region and number length, built from phonenumbers' own
  metadata (general pattern AND any number-type pattern, each with its possible lengths), instead of the
  library's number-type walk, which compiles nothing ahead and tries up to ten patterns one by one.

Everything else (other countries' formats, extensions, letters) goes through ``phonenumbers.parse``. A
property test (``tests/unit/expr/test_phone_fast_path.py``) checks both shortcuts against the library on
random input for every region the library knows.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TypeGuard

import phonenumbers
from phonenumbers import REGION_CODE_FOR_NON_GEO_ENTITY, PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# digits in common separators, with at most a leading "+"
_PLAIN_NUMBER = re.compile(r"\s*(\+?)[\s().\-0-9]*")
_DIGIT_RUNS = re.compile(r"[0-9]+")


@functools.lru_cache(maxsize=65_536)  # the same numbers recur (a client's calls, forms, contacts)
def to_e164(text: str, region: str) -> str | None:
    """``text`` as an E.164 number (``+74951234567``) read with ``region``'s conventions, or ``None`` if the
    library would not call it a valid number. ``8`` then ten digits is read as Russia's trunk prefix."""
    national = _plain_russian(text, region)
    if national is not None:
        country_code = 7
    else:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            return None
        if number.country_code is None:  # parse() always sets it; the type allows None
            return None
        country_code, national = number.country_code, phonenumbers.national_significant_number(number)
    # E.164 is "+", the country code and the national significant number; phonenumbers.format_number(E164)
    # builds exactly this
    return f"+{country_code}{national}" if is_valid(country_code, national) else None


def _plain_russian(text: str, region: str) -> str | None:
    """The national number of a plain Russian phone (``+7`` or ``8`` and ten digits, or ten digits with a
    ``RU`` default region), or ``None`` for anything else.

    A national number starting with 0 is left to the parser too: the library keeps such a 0 as an "Italian
    leading zero", which this shortcut does not model.
    """
    match = _PLAIN_NUMBER.fullmatch(text)
    if match is None:
        return None
    digits = "".join(_DIGIT_RUNS.findall(text))
    if match.group(1):  # "+": the country code is written out
        national = digits[1:] if len(digits) == 11 and digits[0] == "7" else None
    elif region != "RU":  # without +7 only Russia's own conventions say it is Russian
        national = None
    elif len(digits) == 11 and digits[0] == "8":  # the Russian trunk prefix
        national = digits[1:]
    else:
        national = digits if len(digits) == 10 else None
    return None if national is None or national[0] == "0" else national


def is_valid(country_code: int, national: str) -> bool:
    """What ``phonenumbers.is_valid_number`` answers for the number ``+<country_code><national>``."""
    for leading_digits, matches in _regions_of(country_code):
        if leading_digits is None:
            if matches(national):
                return True
        elif leading_digits.match(national):
            return matches(national)
    return False


@functools.cache
def _regions_of(country_code: int) -> tuple[tuple[re.Pattern[str] | None, Callable[[str], bool]], ...]:
    """How the library finds a number's region, as data: per region of the country code, in the library's
    order, its leading-digits pattern (if it declares one) and its validity matcher.

    The library takes the only region of a country code as is. Where regions share a code (+7 is Russia and
    Kazakhstan, +1 is NANPA) it takes the first whose leading digits match or, if it declares none, the first
    where the number is valid; the number is then checked against that region only.
    """
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    if len(regions) == 1:
        return ((None, _matcher(country_code, regions[0])),)
    plan = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is not None:
            leading = None if metadata.leading_digits is None else re.compile(metadata.leading_digits)
            plan.append((leading, _matcher(country_code, region)))
    return tuple(plan)


@functools.cache
def _matcher(country_code: int, region: str) -> Callable[[str], bool]:
    """Whether a national number is valid in ``region``: one compiled regex per possible length."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return _never
    if region != REGION_CODE_FOR_NON_GEO_ENTITY and phonenumbers.country_code_for_valid_region(region) != country_code:
        return _never
    general = metadata.general_desc
    if not _has_pattern(general):
        return _never
    by_length = {length: _regex_for_length(metadata, length) for length in range(1, 18)}

    def matches(national: str) -> bool:
        regex = by_length.get(len(national))
        return regex is not None and regex.fullmatch(national) is not None

    return matches


def _never(national: str) -> bool:
    return False


def _regex_for_length(metadata: PhoneMetadata, length: int) -> re.Pattern[str] | None:
    """The general pattern as a lookahead, then any number type's pattern that allows ``length`` digits.

    The number types are the ones ``phonenumbers``' number-type walk tries; like it, mobile counts only where
    its pattern differs from the fixed-line one (where they are the same the library tries fixed line alone).
    """
    general = metadata.general_desc
    if general is None or not _allows(general, length):
        return None
    types = [metadata.premium_rate, metadata.toll_free, metadata.shared_cost, metadata.voip,
             metadata.personal_number, metadata.pager, metadata.uan, metadata.voicemail, metadata.fixed_line]
    if not metadata.same_mobile_and_fixed_line_pattern:
        types.append(metadata.mobile)
    patterns = [desc.national_number_pattern for desc in types if _has_pattern(desc) and _allows(desc, length)]
    if not patterns:
        return None
    alternatives = "|".join(f"(?:{pattern})" for pattern in patterns)
    return re.compile(f"(?=(?:{general.national_number_pattern})\\Z)(?:{alternatives})")


def _has_pattern(desc: phonenumbers.PhoneNumberDesc | None) -> TypeGuard[phonenumbers.PhoneNumberDesc]:
    return desc is not None and bool(desc.national_number_pattern)


def _allows(desc: phonenumbers.PhoneNumberDesc, length: int) -> bool:
    # no possible lengths declared means "whatever the general description allows", checked separately
    return not desc.possible_length or length in desc.possible_length

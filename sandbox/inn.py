"""ИНН (Russian taxpayer number) check digits: generate valid numbers for demo data, validate given ones.

A legal entity's ИНН has 10 digits, the last a check digit; an individual's (ИП) has 12, the last two check
digits. Each check digit is ``(sum of digit * weight) mod 11 mod 10`` over the digits before it.
"""

from __future__ import annotations

import random

_WEIGHTS_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_WEIGHTS_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_WEIGHTS_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)

#: regions common in the demo data (Moscow, Moscow oblast, St Petersburg, Sverdlovsk, Tatarstan, ...)
REGIONS = ("77", "50", "78", "66", "16", "52", "54", "23")


def _check_digit(digits: str, weights: tuple[int, ...]) -> str:
    return str(sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10)


def complete_inn(prefix: str) -> str:
    """The ИНН for a 9-digit (legal entity) or 10-digit (individual) prefix, with its check digits."""
    if not prefix.isdigit() or len(prefix) not in (9, 10):
        raise ValueError("an ИНН prefix has 9 (legal entity) or 10 (individual) digits")
    if len(prefix) == 9:
        return prefix + _check_digit(prefix, _WEIGHTS_10)
    eleven = prefix + _check_digit(prefix, _WEIGHTS_11)
    return eleven + _check_digit(eleven, _WEIGHTS_12)


def is_valid_inn(inn: str) -> bool:
    """True for a 10- or 12-digit ИНН whose check digits are right."""
    if not isinstance(inn, str) or not inn.isdigit() or len(inn) not in (10, 12):
        return False
    return complete_inn(inn[:9] if len(inn) == 10 else inn[:10]) == inn


def make_inn(rng: random.Random, individual: bool = False, region: str | None = None) -> str:
    """A random valid ИНН: region code, tax office, serial number, check digit(s)."""
    region = region or rng.choice(REGIONS)
    office = f"{rng.randint(1, 51):02d}"
    serial = "".join(str(rng.randint(0, 9)) for _ in range(6 if individual else 5))
    return complete_inn(region + office + serial)


def make_kpp(inn: str, rng: random.Random) -> str:
    """A КПП for a legal entity: its tax office (first 4 digits of the ИНН), reason code, serial."""
    reason = rng.choice(("01", "01", "01", "43"))  # 01: registered at its address; 43: a branch
    return f"{inn[:4]}{reason}{rng.randint(1, 9):03d}"

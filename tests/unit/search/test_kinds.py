"""What is stored is what is looked up: a value typed any usual way reads as the stored normal form."""

from __future__ import annotations

import pytest

from hub.search.kinds import normalize, readings


@pytest.mark.parametrize("typed", ["8 (495) 123-45-67", "+7 495 123 45 67", "84951234567", "(495) 1234567",
                                   "+7-495-123-45-67"])
def test_a_phone_typed_any_usual_way_reads_as_e164(typed: str) -> None:
    assert ("phone", "+74951234567") in readings(typed, "RU")


def test_an_email_is_trimmed_and_lower_case() -> None:
    assert normalize("email", "  S.Vasiliev@Example.ORG ", "RU") == "s.vasiliev@example.org"
    assert normalize("email", "mailto:Info@Romashka.ru", "RU") == "info@romashka.ru"
    assert normalize("email", "not an address", "RU") is None


@pytest.mark.parametrize("typed", ["7701234560", "ИНН 7701234560", "инн: 7701 234 560", "INN 7701234560"])
def test_an_inn_is_its_digits(typed: str) -> None:
    assert normalize("inn", typed, "RU") == "7701234560"


def test_an_inn_has_10_or_12_digits() -> None:
    assert normalize("inn", "770123456", "RU") is None
    assert normalize("inn", "770199999992", "RU") == "770199999992"
    assert normalize("inn", 7701234560, "RU") == "7701234560"  # a number column


def test_a_document_number_is_trimmed_and_upper_case() -> None:
    assert normalize("document", "  0000-000001 ", "RU") == "0000-000001"
    assert normalize("document", "crm-17", "RU") == "CRM-17"
    assert normalize("document", "сч-2025  00017", "RU") == "СЧ-2025 00017"


def test_ids_are_kept_as_sent_only_trimmed() -> None:
    assert normalize("tranid", " 4561237:8400012345 ", "RU") == "4561237:8400012345"
    assert normalize("call_id", "1733130000.17", "RU") == "1733130000.17"


def test_empty_and_structured_values_are_not_indexed() -> None:
    assert normalize("phone", "", "RU") is None
    assert normalize("tranid", "   ", "RU") is None
    assert normalize("document", {"a": 1}, "RU") is None
    assert normalize("phone", "12", "RU") is None  # too short to be anyone's number


def test_a_query_is_read_every_way_it_can_be() -> None:
    kinds = {kind for kind, _ in readings("ivan@mail.ru", "RU")}
    assert "email" in kinds and "phone" not in kinds and "inn" not in kinds

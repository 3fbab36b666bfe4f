"""OData v3 literals and filters as 1C parses them, and 1C's errors as hub errors."""

from __future__ import annotations

import base64
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from connectors.onec.metadata import parse_metadata
from connectors.onec.query import any_of, entity_url, literal, where_filter
from connectors.onec.transport import NotFound, OneCError, basic_auth_header, error_for, session_for
from hub.connections import parse_airflow_value
from hub.errors import AuthError, BusinessError, ConfigError, DataError, FatalError, RetriableError
from sandbox.onec.edmx import metadata_xml

MOSCOW = ZoneInfo("Europe/Moscow")
METADATA = parse_metadata(metadata_xml().encode())
BANK = METADATA.sets["Document_ПоступлениеНаРасчетныйСчет"]


def test_literals_by_edm_type() -> None:
    props = BANK.props
    assert literal(props["Контрагент_Key"], "8B9660F6-6332-11EC-AD72-000C29B45B09", MOSCOW, "t") == \
        "guid'8b9660f6-6332-11ec-ad72-000c29b45b09'"
    assert literal(props["Контрагент_Key"], None, MOSCOW, "t") == "guid'00000000-0000-0000-0000-000000000000'"
    assert literal(props["Date"], dt.datetime(2025, 3, 3, 6, 0, tzinfo=dt.UTC), MOSCOW, "t") == \
        "datetime'2025-03-03T09:00:00'"
    assert literal(props["НазначениеПлатежа"], "ООО 'Ромашка'", MOSCOW, "t") == "'ООО ''Ромашка'''"
    assert literal(props["Posted"], True, MOSCOW, "t") == "true"
    assert literal(props["СуммаДокумента"], "1500.50", MOSCOW, "t") == "1500.50"


def test_in_becomes_an_or_chain_and_options_where_is_typed() -> None:
    assert any_of(BANK, ["Number", "Posted"], [("1", True), ("2", False)], MOSCOW, "t") == \
        "(Number eq '1' and Posted eq true) or (Number eq '2' and Posted eq false)"
    assert where_filter(BANK, {"Posted": True, "ВидОперации": ["ОплатаПокупателя", "Прочее"]}, MOSCOW) == \
        "Posted eq true and (ВидОперации eq 'ОплатаПокупателя' or ВидОперации eq 'Прочее')"


def test_a_composite_attribute_is_never_compared_with_a_bare_value() -> None:
    cash = METADATA.sets["Document_ПриходныйКассовыйОрдер"]
    with pytest.raises(ConfigError, match="composite"):
        where_filter(cash, {"Контрагент": "8b9660f6-6332-11ec-ad72-000c29b45b09"}, MOSCOW)


def test_cyrillic_names_are_percent_encoded_in_urls() -> None:
    url = entity_url("http://h/buh/odata/standard.odata/", "Catalog_Контрагенты", "a-b", "Post")
    assert url == "http://h/buh/odata/standard.odata/Catalog_%D0%9A%D0%BE%D0%BD%D1%82%D1%80%D0%B0%D0%B3%D0%B5%D0%BD%D1%82%D1%8B(guid'a-b')/Post"


def test_basic_auth_is_utf8() -> None:
    header = basic_auth_header("Интеграция", "Пароль:1")
    assert base64.b64decode(header.removeprefix("Basic ")).decode("utf-8") == "Интеграция:Пароль:1"


@pytest.mark.parametrize(("query", "verify"), [("", True), ("?verify=false", False), ("?verify=true", True),
                                               ("?verify=/etc/ssl/1c-ca.pem", "/etc/ssl/1c-ca.pem")])
def test_tls_verification_is_read_from_a_uri_connection_as_airflow_writes_it(query: str, verify: object) -> None:
    connection = parse_airflow_value("onec", f"hub-onec-odata://%D0%98:p@srv-1c/buh{query}")  # extras are text

    with session_for(connection) as session:
        assert session.verify == verify


@pytest.mark.parametrize(("status", "code", "expected"), [
    (500, "-1", BusinessError), (400, "4", DataError), (400, "15", DataError), (404, "9", NotFound),
    (401, "20", AuthError), (403, "20", AuthError), (400, "14", ConfigError), (404, "8", ConfigError),
    (400, "21", ConfigError), (500, "18", FatalError),
])
def test_1c_error_codes_map_to_what_the_hub_does_about_them(status: int, code: str, expected: type) -> None:
    error = error_for(status, OneCError(code, "Текст ошибки 1С"), "onec", "write X")
    assert type(error) is expected and "Текст ошибки 1С" in str(error)


def test_an_error_without_an_odata_body_is_not_taken_for_a_business_error() -> None:
    assert type(error_for(500, None, "onec", "read")) is RetriableError  # a plain 500 is transient (issue 10)
    assert type(error_for(404, None, "onec", "read")) is ConfigError

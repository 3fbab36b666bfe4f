"""The SOAP connector against the simulator's 1C web service over real HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.onec import SoapConnector
from connectors.onec.options import SoapSourceOptions
from hub.connections import from_mapping
from hub.connector import ReadRequest
from hub.errors import AuthError, ConfigError, DataError, FatalError
from hub.mapping.model import Incremental
from hub.settings import HubSettings, RetryPolicy
from sandbox.onec import OneCSimulator
from sandbox.onec.seed import Accountant
from sandbox.onec.soap import INTERNAL_ADDRESS

OPERATION = "ПолучитьПриходныеКассовыеОрдера"


def connector(sim: OneCSimulator, tmp_path: Path, **overrides: object) -> SoapConnector:
    settings = HubSettings(home=tmp_path, retry=RetryPolicy(attempts=3, initial_wait=0, max_wait=0))
    return SoapConnector(from_mapping("onec_soap", {**sim.connection("soap"), **overrides}), settings)


def read(onec: SoapConnector, strategy: str = "hash", checkpoint: object = None, **arguments: object) -> list[dict]:
    incremental = Incremental(strategy="cursor", cursor="Дата", lookback=3600) if strategy == "cursor" \
        else Incremental(strategy="hash")
    options = SoapSourceOptions(arguments=arguments or {"ДатаНачала": "2025-01-01T00:00:00", "ДатаОкончания": None},
                                records="Документы", fields={"Ссылка": "uuid", "Дата": "datetime", "Сумма": "decimal"},
                                start="2025-01-01T00:00:00")
    request = ReadRequest(stream=OPERATION, key=("Ссылка",), fields=None, incremental=incremental,
                          checkpoint=checkpoint, batch_size=100, options=options)
    return [r for batch in onec.read(request) for r in batch.records]


def receipts(sim: OneCSimulator) -> list[dict]:
    accountant = Accountant(sim.store)
    payer = accountant.counterparty(Description="Вектор ООО", ИНН="7701234560", КПП="770101001")
    return [accountant.cash_receipt(payer["Ref_Key"], 100 * day, f"Оплата {day}", dt.datetime(2025, 3, day, 12, 0))
            for day in (3, 4, 5)]


def test_records_come_from_the_json_in_return_with_declared_types(sim: OneCSimulator, tmp_path: Path) -> None:
    made = receipts(sim)
    onec = connector(sim, tmp_path)

    records = read(onec)

    assert [r["Ссылка"] for r in records] == [m["Ref_Key"] for m in made]
    assert records[0]["Дата"] == dt.datetime(2025, 3, 3, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    assert records[0]["Сумма"] == Decimal(300) and records[0]["КонтрагентИНН"] == "7701234560"
    posts = [path for method, path in sim.log if method == "POST"]
    assert posts and all(p == "/buh/ws/CRMExchange.1cws" for p in posts), \
        f"called at the connection's address, not the WSDL's {INTERNAL_ADDRESS}"
    assert onec.describe(OPERATION) is not None and onec.describe("НетТакойОперации") is None


def test_the_cursor_argument_starts_at_the_checkpoint_minus_the_lookback(sim: OneCSimulator, tmp_path: Path) -> None:
    receipts(sim)
    onec = connector(sim, tmp_path)
    checkpoint = {"cursor": dt.datetime(2025, 3, 5, 12, 30, tzinfo=ZoneInfo("Europe/Moscow")).isoformat()}

    records = read(onec, "cursor", checkpoint, ДатаНачала="$cursor", ДатаОкончания=None)

    assert [r["Дата"].day for r in records] == [5], "from 11:30 on the 5th: one receipt"


def test_a_fault_from_the_module_is_an_error_with_1cs_message(sim: OneCSimulator, tmp_path: Path) -> None:
    onec = connector(sim, tmp_path)

    with pytest.raises(FatalError, match=r"Дата начала периода больше даты окончания"):
        read(onec, ДатаНачала="2025-03-05T00:00:00", ДатаОкончания="2025-03-01T00:00:00")


def test_a_lock_conflict_is_retried(sim: OneCSimulator, tmp_path: Path) -> None:
    receipts(sim)
    sim.soap.pending_faults.append("Конфликт блокировок при выполнении транзакции")

    assert len(read(connector(sim, tmp_path))) == 3
    assert sim.soap.pending_faults == []


def test_proxy_errors_and_html_pages_are_retried(sim: OneCSimulator, tmp_path: Path) -> None:
    receipts(sim)
    onec = connector(sim, tmp_path)
    onec.describe(OPERATION)  # the WSDL is loaded
    sim.faults.kinds, sim.faults.fail_next = ("503", "html200"), 2

    assert len(read(onec)) == 3
    assert sim.faults.counts == {"503": 1, "html200": 1}


def test_a_value_that_does_not_fit_its_declared_type_names_the_field_not_the_value(sim: OneCSimulator,
                                                                                  tmp_path: Path) -> None:
    [made, *_] = receipts(sim)
    options = SoapSourceOptions(arguments={"ДатаНачала": "2025-01-01T00:00:00"}, records="Документы",
                                fields={"Ссылка": "datetime"})
    request = ReadRequest(stream=OPERATION, key=("Ссылка",), fields=None, incremental=Incremental(strategy="hash"),
                          checkpoint=None, batch_size=100, options=options)

    with pytest.raises(DataError, match=r"fields\.Ссылка: a value from 1C is not a datetime") as caught:
        list(connector(sim, tmp_path).read(request))
    assert made["Ref_Key"] not in str(caught.value)


def test_wrong_credentials_and_wrong_arguments_are_explained(sim: OneCSimulator, tmp_path: Path) -> None:
    with pytest.raises(AuthError):
        connector(sim, tmp_path, password="нет").describe(OPERATION)
    with pytest.raises(ConfigError, match="wrong arguments"):
        read(connector(sim, tmp_path), ДатаНачаласьНеТак="2025-01-01T00:00:00")

"""The 1C connectors against the hub's standard connector tests, over real HTTP to the simulator
(sandbox/onec): OData (a catalog read by hash and by version, a document read by cursor; the same catalog
as a target) and SOAP (the cash receipts web service, by hash and by cursor)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.onec import ODataConnector, SoapConnector
from connectors.onec.options import ODataSourceOptions, ODataTargetOptions, SoapSourceOptions
from hub.connections import from_mapping
from hub.connector import Connector
from hub.mapping.model import Incremental
from hub.settings import HubSettings, RetryPolicy
from hub.testing.connector_kit import (
    ChangesKit,
    ErrorKit,
    LookupKit,
    SourceKit,
    StreamCase,
    StreamChange,
    TargetCase,
    TargetKit,
    UpdateKit,
)
from hub.testing.network import free_port
from sandbox.onec import OneCSimulator, seed_counterparties
from sandbox.onec.seed import Accountant

PARTNERS = "Catalog_Контрагенты"
RECEIPTS = "Document_ПриходныйКассовыйОрдер"
OPERATION = "ПолучитьПриходныеКассовыеОрдера"


def settings(tmp_path: Path) -> HubSettings:
    return HubSettings(home=tmp_path, retry=RetryPolicy(attempts=2, initial_wait=0, max_wait=0))


def odata_factory(sim: OneCSimulator, tmp_path: Path, **overrides: Any) -> Callable[[], Connector]:
    return lambda: ODataConnector(from_mapping("onec", {**sim.connection("odata"), **overrides}), settings(tmp_path))


def soap_factory(sim: OneCSimulator, tmp_path: Path, **overrides: Any) -> Callable[[], Connector]:
    return lambda: SoapConnector(from_mapping("onec_soap", {**sim.connection("soap"), **overrides}),
                                 settings(tmp_path))


class _OData:
    @pytest.fixture
    def partners(self, sim: OneCSimulator) -> list[dict[str, Any]]:
        return [dict(p) for p in seed_counterparties(sim.store, 7, contracts=False)]

    @pytest.fixture
    def connector_factory(self, sim: OneCSimulator, tmp_path: Path) -> Callable[[], Connector]:
        return odata_factory(sim, tmp_path)

    @pytest.fixture
    def unreachable_factory(self, sim: OneCSimulator, tmp_path: Path) -> Callable[[], Connector]:
        return odata_factory(sim, tmp_path, port=free_port())

    @pytest.fixture
    def stream_change(self, sim: OneCSimulator, partners: list[dict[str, Any]]) -> StreamChange:
        ref = partners[3]["Ref_Key"]

        def rename() -> list[dict[str, Any]]:
            Accountant(sim.store).edit(PARTNERS, ref, Description="Переименован ООО")
            return [{"Ref_Key": ref, "Description": "Переименован ООО"}]

        return rename


class TestODataCatalogByHash(_OData, SourceKit, ChangesKit, ErrorKit):
    @pytest.fixture
    def stream_case(self, partners: list[dict[str, Any]]) -> StreamCase:
        return StreamCase(PARTNERS, ("Ref_Key",), [{k: p[k] for k in ("Ref_Key", "Description", "ИНН")}
                                                   for p in partners],
                          Incremental(strategy="hash"), ODataSourceOptions(), select=frozenset({"Description"}))


class TestODataCatalogByVersion(_OData, SourceKit, ChangesKit):
    @pytest.fixture
    def stream_case(self, partners: list[dict[str, Any]]) -> StreamCase:
        return StreamCase(PARTNERS, ("Ref_Key",), [{"Ref_Key": p["Ref_Key"], "Description": p["Description"]}
                                                   for p in partners],
                          Incremental(strategy="version", version_field="DataVersion"), ODataSourceOptions())


class TestODataDocumentsByCursor(_OData, SourceKit, ChangesKit):
    @pytest.fixture
    def receipts(self, sim: OneCSimulator) -> list[dict[str, Any]]:
        accountant = Accountant(sim.store)
        payer = accountant.counterparty(Description="Вектор ООО", ИНН="7701234560", КПП="770101001")
        self.payer = payer["Ref_Key"]
        return [dict(accountant.cash_receipt(payer["Ref_Key"], 100 + day, f"Оплата {day}",
                                             dt.datetime(2025, 3, day, 12, 0))) for day in range(1, 8)]

    @pytest.fixture
    def stream_case(self, receipts: list[dict[str, Any]]) -> StreamCase:
        return StreamCase(RECEIPTS, ("Ref_Key",), [{"Ref_Key": r["Ref_Key"], "Основание": r["Основание"]}
                                                   for r in receipts],
                          Incremental(strategy="cursor", cursor="Date"), ODataSourceOptions(), cursor_inclusive=True)

    @pytest.fixture
    def stream_change(self, sim: OneCSimulator, receipts: list[dict[str, Any]]) -> StreamChange:
        def add() -> list[dict[str, Any]]:
            made = Accountant(sim.store).cash_receipt(self.payer, 999, "Оплата позже", dt.datetime(2025, 3, 20, 12))
            return [{"Ref_Key": made["Ref_Key"], "Основание": "Оплата позже"}]

        return add


class TestODataTarget(_OData, TargetKit, LookupKit, UpdateKit):
    @pytest.fixture
    def target_case(self, partners: list[dict[str, Any]]) -> TargetCase:
        return TargetCase(PARTNERS, match=("ИНН",),
                          make_record=lambda n: {"Description": f"Комплект {n} ООО", "ИНН": f"77{n:08d}"[-10:]},
                          update_field="Description", update_value=lambda n: f"Комплект {n} АО",
                          options=ODataTargetOptions())


class _Soap:
    @pytest.fixture
    def receipts(self, sim: OneCSimulator) -> list[dict[str, Any]]:
        accountant = Accountant(sim.store)
        payer = accountant.counterparty(Description="Вектор ООО", ИНН="7701234560", КПП="770101001")
        self.payer = payer["Ref_Key"]
        return [dict(accountant.cash_receipt(payer["Ref_Key"], 100 + day, f"Оплата {day}",
                                             dt.datetime(2025, 3, day, 12, 0))) for day in range(1, 8)]

    @pytest.fixture
    def connector_factory(self, sim: OneCSimulator, tmp_path: Path) -> Callable[[], Connector]:
        return soap_factory(sim, tmp_path)

    @pytest.fixture
    def unreachable_factory(self, sim: OneCSimulator, tmp_path: Path) -> Callable[[], Connector]:
        return soap_factory(sim, tmp_path, port=free_port())

    @staticmethod
    def options(cursor: bool) -> SoapSourceOptions:
        return SoapSourceOptions(arguments={"ДатаНачала": "$cursor" if cursor else "2025-01-01T00:00:00",
                                            "ДатаОкончания": None},
                                 records="Документы", fields={"Ссылка": "uuid", "Дата": "datetime", "Сумма": "decimal"},
                                 start="2025-01-01T00:00:00")


class TestSoapByHash(_Soap, SourceKit, ErrorKit):
    @pytest.fixture
    def stream_case(self, receipts: list[dict[str, Any]]) -> StreamCase:
        return StreamCase(OPERATION, ("Ссылка",), [{"Ссылка": r["Ref_Key"]} for r in receipts],
                          Incremental(strategy="hash"), self.options(cursor=False), select=frozenset({"Сумма"}))


class TestSoapByCursor(_Soap, SourceKit, ChangesKit):
    @pytest.fixture
    def stream_case(self, receipts: list[dict[str, Any]]) -> StreamCase:
        return StreamCase(OPERATION, ("Ссылка",), [{"Ссылка": r["Ref_Key"]} for r in receipts],
                          Incremental(strategy="cursor", cursor="Дата"), self.options(cursor=True),
                          select=frozenset({"Сумма"}), cursor_inclusive=True)

    @pytest.fixture
    def stream_change(self, sim: OneCSimulator, receipts: list[dict[str, Any]]) -> StreamChange:
        def add() -> list[dict[str, Any]]:
            made = Accountant(sim.store).cash_receipt(self.payer, 999, "Оплата позже", dt.datetime(2025, 3, 20, 12))
            return [{"Ссылка": made["Ref_Key"]}]

        return add

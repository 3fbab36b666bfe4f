"""The 1C simulator behaves as 1C does on the wire (reference §8), seen through plain HTTP requests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from connectors.onec.transport import basic_auth_header
from sandbox.inn import is_valid_inn
from sandbox.onec import OneCSimulator, seed_counterparties, seed_demo

PARTNERS = "Catalog_Контрагенты"
SALE = "Document_РеализацияТоваровУслуг"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[OneCSimulator]:
    simulator = OneCSimulator(tmp_path / "onec.db")
    seed_demo(simulator.store)
    with simulator.start():
        yield simulator


@pytest.fixture
def http(sim: OneCSimulator) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = basic_auth_header("Интеграция", sim.users["Интеграция"])
    return session


def url(sim: OneCSimulator, path: str) -> str:
    return f"{sim.url}/odata/standard.odata/{quote(path, safe='()/$=,')}"


def test_json_only_when_asked_no_server_paging_and_int64_as_text(sim: OneCSimulator, http: requests.Session) -> None:
    atom = http.get(url(sim, PARTNERS), timeout=5)
    assert atom.headers["Content-Type"].startswith("application/atom+xml"), "Atom unless $format=json"

    body = http.get(url(sim, PARTNERS), params={"$format": "json"}, timeout=5).json()

    assert body["odata.metadata"].endswith(f"$metadata#{PARTNERS}") and "odata.nextLink" not in body
    assert len(body["value"]) == 25, "everything at once: 1C does not page"
    row = body["value"][0]
    assert row["КонтактнаяИнформация"][0]["LineNumber"] == "1"
    assert row["Parent_Key"] == "00000000-0000-0000-0000-000000000000"
    assert all(is_valid_inn(r["ИНН"]) for r in body["value"])
    assert f"{PARTNERS}(guid'{row['Ref_Key']}')/Parent" == row["Parent@navigationLinkUrl"]


def test_inlinecount_ignores_top_and_count_is_plain_text(sim: OneCSimulator, http: requests.Session) -> None:
    counted = http.get(url(sim, PARTNERS), params={"$format": "json", "$top": "2", "$inlinecount": "allpages"},
                       timeout=5).json()
    assert counted["odata.count"] == "25" and len(counted["value"]) == 25
    count = http.get(url(sim, f"{PARTNERS}/$count"), params={"$filter": "КПП eq ''"}, timeout=5)
    assert count.text == str(sum(1 for o in sim.store.all(PARTNERS) if o["КПП"] == ""))


def test_writes_return_the_entity_and_tabular_sections_are_replaced_whole(sim: OneCSimulator,
                                                                          http: requests.Session) -> None:
    created = http.post(url(sim, PARTNERS) + "?$format=json", json={
        "Description": "Новый ООО", "ИНН": "7707083893", "Неизвестное": "1C ignores it",
        "КонтактнаяИнформация": [{"LineNumber": "1", "Тип": "Телефон"}, {"LineNumber": "2", "Тип": "Адрес"}]},
        timeout=5)
    assert created.status_code == 201 and created.headers["Location"].endswith(f"(guid'{created.json()['Ref_Key']}')")
    ref, version = created.json()["Ref_Key"], created.json()["DataVersion"]

    email_only = {"КонтактнаяИнформация": [{"LineNumber": "1", "Тип": "АдресЭлектроннойПочты"}]}
    patched = http.patch(url(sim, f"{PARTNERS}(guid'{ref}')") + "?$format=json", json=email_only, timeout=5)

    assert [r["Тип"] for r in patched.json()["КонтактнаяИнформация"]] == ["АдресЭлектроннойПочты"]
    assert patched.json()["DataVersion"] != version and patched.json()["Description"] == "Новый ООО"
    no_line = http.patch(url(sim, f"{PARTNERS}(guid'{ref}')") + "?$format=json",
                         json={"КонтактнаяИнформация": [{"Тип": "Телефон"}]}, timeout=5)
    assert no_line.status_code == 500 and no_line.json()["odata.error"]["code"] == "-1"
    direct = http.post(url(sim, f"{PARTNERS}_КонтактнаяИнформация") + "?$format=json", json={}, timeout=5)
    assert direct.json()["odata.error"]["code"] == "13"
    assert http.delete(url(sim, f"{PARTNERS}(guid'{ref}')"), timeout=5).status_code == 204
    gone = http.get(url(sim, f"{PARTNERS}(guid'{ref}')") + "?$format=json", timeout=5)
    assert (gone.status_code, gone.json()["odata.error"]["code"]) == (404, "9")


def test_posting_runs_1cs_checks(sim: OneCSimulator, http: requests.Session) -> None:
    sale = http.post(url(sim, SALE) + "?$format=json", json={"Date": "2025-03-03T00:00:00"}, timeout=5).json()
    assert sale["Posted"] is False and sale["Number"].startswith("0000-")

    posted = http.post(url(sim, f"{SALE}(guid'{sale['Ref_Key']}')/Post()"), params={"$format": "json"}, timeout=5)

    assert posted.status_code == 500
    error = posted.json()["odata.error"]
    assert error["code"] == "-1" and 'Поле "Контрагент" не заполнено' in error["message"]["value"]


def test_credentials_and_wrong_paths(sim: OneCSimulator, http: requests.Session) -> None:
    wrong = requests.get(url(sim, PARTNERS), headers={"Authorization": basic_auth_header("Интеграция", "x")},
                         timeout=5)
    assert wrong.status_code == 401 and "Basic" in wrong.headers["WWW-Authenticate"]
    unknown = http.get(url(sim, "Catalog_Нет"), params={"$format": "json"}, timeout=5)
    assert (unknown.status_code, unknown.json()["odata.error"]["code"]) == (404, "8")
    assert http.get(url(sim, "$metadata"), params={"$format": "json"}, timeout=5).status_code == 406
    wsdl = http.get(f"{sim.url}/ws/CRMExchange.1cws?wsdl", timeout=5)
    assert wsdl.status_code == 200 and "ПолучитьПриходныеКассовыеОрдера" in wsdl.text


def test_the_infobase_survives_a_restart(tmp_path: Path) -> None:
    first = OneCSimulator(tmp_path / "kept.db")
    made = seed_counterparties(first.store, 3)
    first.stop()

    second = OneCSimulator(tmp_path / "kept.db")

    assert {o["Ref_Key"]: o["DataVersion"] for o in second.store.all(PARTNERS)} == \
        {o["Ref_Key"]: o["DataVersion"] for o in made}
    assert second.store.next_version() not in {o["DataVersion"] for o in made}, "versions keep counting up"
    second.stop()


def test_if_match_is_ignored_as_live_servers_do_or_enforced_as_documented(sim: OneCSimulator,
                                                                          http: requests.Session) -> None:
    partner = next(iter(sim.store.all(PARTNERS)))
    target = url(sim, f"{PARTNERS}(guid'{partner['Ref_Key']}')")
    stale = {"If-Match": "AAAAAAAAAAE="}

    ignored = http.patch(target, params={"$format": "json"}, json={"Комментарий": "1"}, headers=stale, timeout=5)
    sim.odata.if_match = "enforce"
    refused = http.patch(target, params={"$format": "json"}, json={"Комментарий": "2"}, headers=stale, timeout=5)
    current = {"If-Match": sim.store.get(PARTNERS, partner["Ref_Key"])["DataVersion"]}
    accepted = http.patch(target, params={"$format": "json"}, json={"Комментарий": "3"}, headers=current, timeout=5)

    assert (ignored.status_code, refused.status_code, accepted.status_code) == (200, 412, 200)
    assert sim.store.get(PARTNERS, partner["Ref_Key"])["Комментарий"] == "3"


def test_an_accountants_save_happens_between_a_clients_read_and_write_when_a_test_says_so(
        sim: OneCSimulator, http: requests.Session) -> None:
    partner = next(iter(sim.store.all(PARTNERS)))
    target = url(sim, f"{PARTNERS}(guid'{partner['Ref_Key']}')")
    saved: list[str] = []
    sim.odata.interleave(PARTNERS, partner["Ref_Key"], lambda: saved.append("saved"))

    read = http.get(target, params={"$format": "json", "$select": "DataVersion"}, timeout=5).json()
    again = http.get(target, params={"$format": "json", "$select": "DataVersion"}, timeout=5).json()

    assert saved == ["saved"] and sim.odata.interleaved == [], "once, right after the first read"
    assert read["DataVersion"] == again["DataVersion"] == partner["DataVersion"]


def test_a_plain_500_is_an_html_error_page_without_an_odata_error(sim: OneCSimulator, http: requests.Session) -> None:
    sim.faults.kinds, sim.faults.fail_next = ("500",), 1

    answer = http.get(url(sim, PARTNERS), params={"$format": "json"}, timeout=5)

    assert answer.status_code == 500 and answer.headers["Content-Type"].startswith("text/html")
    assert "odata.error" not in answer.text


def test_a_deletion_mark_written_over_odata_can_leave_a_posted_document_posted(sim: OneCSimulator,
                                                                                http: requests.Session) -> None:
    receipt = next(iter(sim.store.all("Document_ПоступлениеНаРасчетныйСчет")))
    assert receipt["Posted"] is True
    sim.business.marking_keeps_posting = True  # as a live BP 3.0 publication was seen doing

    http.patch(url(sim, f"Document_ПоступлениеНаРасчетныйСчет(guid'{receipt['Ref_Key']}')"),
               params={"$format": "json"}, json={"DeletionMark": True}, timeout=5).raise_for_status()

    marked = sim.store.get("Document_ПоступлениеНаРасчетныйСчет", receipt["Ref_Key"])
    assert (marked["DeletionMark"], marked["Posted"]) == (True, True)

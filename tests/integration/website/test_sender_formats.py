"""A recorded request of every sender format, replayed through the real intake endpoint, becomes the right
CRM lead: normalized phone and e-mail, its source, form and UTM tags, matched to the existing client (by
the client's own phone or e-mail, or through one of its contacts), the client's manager or else the
round-robin one, and a "call back" task for that manager."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from .conftest import LEAD_MANAGERS, Site

ROUND_ROBIN = None  # no client matched: the manager comes from the round robin

CASES: dict[str, dict[str, Any]] = {
    # fixture: what the lead must hold; "client": the known client it must be matched to
    "tilda_urlencoded": dict(source="tilda", name="Сергей Васильев", phone="+74951234567",
                             email="s.vasiliev@example.org", form="form571920841", utm_source="yandex",
                             utm_medium="cpc", utm_campaign="cartridges_march", comment="Нужен счёт на 20 картриджей",
                             client="romashka"),  # the client's own phone, typed differently
    "tilda_json": dict(source="tilda", name="Ольга", phone=None, email="olga.smirnova@romashka-test.ru",
                       form="Запрос КП", utm_source="google", utm_campaign="kp", comment="Пришлите КП",
                       client="petrov"),  # a contact's e-mail: the contact's client
    "cf7": dict(source="cf7", name="Ольга Смирнова", phone="+79165554433", email=None, form="1043",
                comment="Сколько стоит доставка в Химки?", client="petrov"),  # a contact's phone
    "elementor_advanced": dict(source="elementor", name="Андрей", phone=None, email="info@romashka-test.ru",
                               form="Обратный звонок", comment="Когда будет поставка?", client="romashka"),
    "elementor_simple": dict(source="elementor", name="Виктор Зайцев", phone="+79263102030",
                             email="v.zaytsev@mail.ru", form="Обратный звонок", client=ROUND_ROBIN),
    "gravity_forms": dict(source="gravity", name="Дмитрий Соколов", phone="+74951234567",
                          email="d.sokolov@example.org", form="2", comment="Хотим стать дилером", client="romashka"),
    "wpforms": dict(source="wpforms", name="Ксения Белова", phone="+79012345678", email="k.belova@example.net",
                    form="Заявка на сервис", comment="Сломался принтер", client=ROUND_ROBIN),
    "bitrix_cp1251": dict(source="bitrix", name="Ольга Смирнова", phone="+79165554433", email=None, form="1",
                          comment="Прошу перезвонить насчёт счёта № 17", client="petrov"),
    "yandex_forms": dict(source="yandex_forms", name="Роман Киселёв", phone="+79117654321", email="roman.k@yandex.ru",
                         form="Заявка на расчёт", comment="Нужен расчёт на 3 объекта", client=ROUND_ROBIN),
    "marquiz": dict(source="marquiz", name="Пётр Петров", phone="+79031110000", email=None,
                    form="Подбор оборудования", utm_source="vk", utm_medium="social", utm_campaign="quiz_march",
                    comment="Монтаж нужен в выходные", client="petrov"),  # the answer to the question "Комментарий"
    "google_forms": dict(source="google_forms", name="Наталья Орлова", phone=None, email="n.orlova@gmail.com",
                         form="Заявка на вебинар", comment="Интересует запись", client=ROUND_ROBIN),
    "plain_multipart": dict(source="landing", name="Алексей Гусев", phone="+79774005060", email="gusev@example.com",
                            utm_source="google", utm_campaign="brand", comment="Хочу демо", client=ROUND_ROBIN),
}
#: what a sender sends that must never be stored (cookies, anti-spam tokens, session ids, the API key)
NOISE = {"tilda_urlencoded": ["_ym_uid", "tildauid"], "cf7": ["03AFcWeA5x3", "_wpcf7_unit_tag"],
         "marquiz": ["GA1.2.1234567890"], "bitrix_cp1251": ["5f1c6e0b8a0d3e1f9b7c2a4d6e8f0a1b"],
         "tilda_json": ["test-secret-tilda"]}


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_recorded_submission_becomes_a_lead_with_client_manager_and_task(site: Site, fixture: str) -> None:
    expected = CASES[fixture]
    response = site.send_fixture(fixture)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "accepted"
    site.run()

    lead = site.row("leads", source_ref=answer["key"])
    assert lead is not None, f"no lead for {answer['key']}"
    for name in ("source", "name", "phone", "email", "form", "comment", "utm_source", "utm_medium", "utm_campaign"):
        if name in expected or name in ("phone", "email"):
            assert lead[name] == expected.get(name), name
    assert lead["status"] == "new"
    client = expected["client"]
    if client is ROUND_ROBIN:
        assert lead["client_id"] is None
        assert lead["manager_id"] == LEAD_MANAGERS[answer["id"] % len(LEAD_MANAGERS)]
    else:
        client_row = site.row("clients", id=site.clients[client])
        assert lead["client_id"] == client_row["id"]
        assert lead["manager_id"] == client_row["manager_id"]

    task = site.row("tasks", kind="callback", source_ref=f"lead:{lead['id']}")
    assert task is not None
    assert (task["lead_id"], task["manager_id"], task["client_id"], task["status"]) == \
        (lead["id"], lead["manager_id"], lead["client_id"], "open")
    assert _time(task["due_at"]) - _time(lead["created_at"]) == dt.timedelta(minutes=15)
    assert expected["name"] in task["title"]

    stored = site.inbox_payload(answer["key"])
    for noise in NOISE.get(fixture, []):
        assert noise not in stored, f"{noise!r} must not be stored"


def test_each_format_resent_is_a_duplicate_and_makes_no_second_lead(site: Site) -> None:
    for fixture in ("tilda_urlencoded", "gravity_forms", "plain_multipart", "elementor_simple"):
        first = site.send_fixture(fixture).json()
        again = site.send_fixture(fixture)
        assert again.status_code == 200
        assert again.json() == {**first, "status": "duplicate"}
    leads_before = len(site.rows("leads"))
    site.run("website_leads")
    assert len(site.rows("leads")) == leads_before


def _time(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))

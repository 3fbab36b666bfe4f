"""Every sender's payload, as the simulator puts it on the wire, normalizes to the same submission shape;
what a sender sends that is not the visitor's data is not kept."""

from __future__ import annotations

import typing

import pytest

from connectors.website.body import decode_body
from connectors.website.config import FormSource, Limits, SenderFormatName, TokenAuth
from connectors.website.formats import FORMATS
from connectors.website.formats.base import WrongType
from sandbox.website import BUILDERS, Person

PERSON = Person("Анна Кузнецова", "+7 (916) 204-11-87", "anna@example.ru", "Перезвоните")
FORMAT_OF = {"tilda": "tilda", "tilda_json": "tilda", "cf7": "cf7", "elementor": "elementor",
             "gravity_forms": "gravity_forms", "wpforms": "wpforms", "bitrix": "bitrix",
             "yandex_forms": "yandex_forms", "marquiz": "marquiz", "google_forms": "google_forms", "plain": "plain"}
#: normalized fields each sender fills besides name/phone/email/comment (value or True: any non-empty)
EXTRA: dict[str, dict[str, object]] = {
    "tilda": {"submission_id": "4561237:8400000003", "form_id": "form571920841", "utm_source": "yandex",
              "utm_campaign": "spring_sale", "form_name": "Заявка на консультацию"},
    "cf7": {"form_id": "1043", "page_url": "https://blog.example.ru/kontakty/", "sender_ip": "95.31.18.119",
            "submitted_at": "03.03.2025 10:03"},
    "elementor": {"form_id": "4a7c2e1", "form_name": "Обратный звонок", "sender_ip": "178.176.72.14",
                  "page_url": "https://www.example.ru/uslugi/montazh/", "submitted_at": "March 3, 2025 10:03 am"},
    "gravity_forms": {"submission_id": "3103", "form_id": "2", "page_url": "https://dealers.example.ru/become-a-dealer/"},
    "wpforms": {"submission_id": "515", "form_name": "Заявка на сервис"},
    "bitrix": {"submission_id": "703", "form_id": "1"},
    "yandex_forms": {"form_name": "Заявка на расчёт", "submission_id": True},
    "marquiz": {"form_name": "Подбор оборудования", "utm_source": "vk", "utm_campaign": "quiz_march",
                "page_url": "https://www.example.ru/quiz/", "submitted_at": "2025-03-03T07:03:00.000Z"},
    "google_forms": {"submission_id": "ACYDBNj000003demo", "form_name": "Заявка на вебинар"},
    "plain": {"submission_id": True, "utm_source": "google", "page_url": "https://promo.example.ru/"},
}
NOISE = ("_ym_uid", "sessid", "5f1c6e0b8a0d", "_wpcf7_unit_tag", "wpcf7-f1043", "GA1.2", "Powered by", "Elementor")


def normalize(builder: str, person: Person = PERSON, number: int = 3, **config: object):
    post = BUILDERS[builder](person, number)
    data = decode_body(post.content_type, None, post.body, Limits()).data
    fmt = FORMATS[FORMAT_OF[builder]]
    return fmt.normalize(post.source, FormSource(format=fmt.name, connection="c", **config), data)


def test_every_format_in_the_config_vocabulary_has_a_parser() -> None:
    assert set(FORMATS) == set(typing.get_args(SenderFormatName))


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_each_sender_normalizes_to_the_visitors_data(builder: str) -> None:
    submission = normalize(builder)
    values = submission.values
    assert values["name"] == PERSON.name
    assert values["phone"] == PERSON.phone
    assert values["email"] == PERSON.email
    if builder not in ("marquiz", "google_forms"):  # no free-text comment field in these forms
        assert values["comment"] == PERSON.comment
    for name, expected in EXTRA[FORMAT_OF[builder]].items():
        assert values.get(name) if expected is True else values.get(name) == expected, name
    stored = repr(submission.payload())
    for noise in NOISE:
        assert noise not in stored, noise


def test_answers_keep_the_visitors_other_fields_as_question_and_answer() -> None:
    assert dict(normalize("marquiz").answers) == {
        "Для какого помещения?": "Склад", "Площадь, м²": "от 500 до 1000", "Что важно?": "Цена, Сроки монтажа",
        "Результат квиза": "Комплект «Склад-1000»"}
    assert dict(normalize("gravity_forms").answers) == {"5": "Оптовые закупки"}
    assert dict(normalize("google_forms").answers) == {"Какие темы интересны?": "CRM, Телефония"}
    assert dict(normalize("cf7").answers) == {"your-subject": "Вопрос по поставке"}
    assert normalize("marquiz", keep_answers=False).answers == ()
    payload = normalize("tilda").payload()
    assert all(set(answer) == {"question", "answer"} for answer in payload["answers"])


def test_a_sources_fields_replace_the_defaults_and_patterns_match_keys() -> None:
    submission = normalize("bitrix", fields={"name": ["form_text_2"], "phone": ["form_text_1"],
                                             "comment": ["FORM_TEXTAREA_*"]})
    assert (submission.get("name"), submission.get("phone")) == (PERSON.phone, PERSON.name)
    assert submission.get("comment") == PERSON.comment  # case-insensitive pattern
    dropped = normalize("cf7", drop=["your-subject"])
    assert dict(dropped.answers) == {}


def test_elementor_advanced_data_takes_phone_and_email_by_field_type() -> None:
    data = {"fields": {"f1": {"type": "tel", "title": "Куда звонить", "value": "+7 999 111-22-33"},
                       "f2": {"type": "email", "title": "Почта для КП", "value": "kp@example.ru"},
                       "f3": {"type": "text", "title": "Компания", "value": "Ромашка"}},
            "form": {"id": "x1", "name": "КП"}}
    submission = FORMATS["elementor"].normalize("el", FormSource(format="elementor", connection="c"), data)
    assert (submission.get("phone"), submission.get("email")) == ("+7 999 111-22-33", "kp@example.ru")
    assert dict(submission.answers) == {"Компания": "Ромашка"}


def test_tilda_utm_from_its_cookie_and_test_requests() -> None:
    tilda = FORMATS["tilda"]
    source = FormSource(format="tilda", connection="c")
    data = {"Name": "A", "COOKIES": "a=1; TILDAUTM=utm_source%3Dvk%7C%7C%7Cutm_term%3Dcrm%7C%7C%7Cjunk%3D1; b=2"}
    assert {k: v for k, v in tilda.normalize("t", source, data).values.items() if k.startswith("utm")} == \
        {"utm_source": "vk", "utm_term": "crm"}
    assert tilda.is_test_ping({"test": "test"})
    assert not tilda.is_test_ping({"test": "test", "tranid": "1:2"})
    assert not FORMATS["plain"].is_test_ping({"test": "test"})


def test_defaults_authentication_per_sender() -> None:
    assert FORMATS["wpforms"].default_auth.method == "hmac"
    assert FORMATS["tilda"].default_auth == TokenAuth(header="X-API-Key", query="token", field="X-API-Key")
    # the token sent in a body field is never stored
    source = FormSource(format="tilda", connection="c")
    submission = FORMATS["tilda"].normalize("t", source, {"Name": "A", "X-API-Key": "secret-value", "Город": "Тверь"})
    assert "secret-value" not in repr(submission.payload())


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_a_field_path_selects_a_list_item_by_a_property_in_every_format(name: str) -> None:
    data = {"quiz": [{"q": "Телефон для связи", "a": "+7 916 204-11-87"}, {"q": "Что важно?", "a": ["Цена"]},
                     {"q": "Комментарий / вопрос", "a": "Позвоните после обеда"}]}
    fields = {"comment": ["quiz/[q=комментарий / вопрос]/a"],  # '/' inside the selector, any case
              "phone": ["quiz/[q=Телефон*]/a"], "name": ["quiz/[q=Имя]/a", "quiz/[q=nobody]/a"]}
    source = FormSource(format=name, connection="c", fields=fields)
    submission = FORMATS[name].normalize("s", source, data)
    assert (submission.get("comment"), submission.get("phone"), submission.get("name")) == \
        ("Позвоните после обеда", "+7 916 204-11-87", None)


@pytest.mark.parametrize(("data", "key", "problem"), [
    ({"Name": ["Анна", "Кузнецова"], "Phone": "+79162041187"}, "Name", "(name) must be text, not a list"),
    ({"Name": "Анна", "Phone": 79162041187}, "Phone", "(phone) must be text, not a number"),
    ({"Name": {"first": "Анна"}}, "Name", "(name) must be text, not an object"),
    ({"Name": True}, "Name", "(name) must be text, not true/false"),
    ({"Name": "Анна", "tranid": 1.5}, "tranid", "(submission_id) must be text or an integer, not a number"),
])
def test_a_value_of_the_wrong_json_type_is_refused_naming_the_field(data: dict, key: str, problem: str) -> None:
    with pytest.raises(WrongType) as refused:
        FORMATS["tilda"].normalize("tilda", FormSource(format="tilda", connection="c"), data)
    assert refused.value.key == key and problem in str(refused.value)


def test_ids_may_be_integers_and_objects_give_their_value() -> None:
    data = {"Name": {"value": " Анна "}, "tranid": 42, "formid": 7}
    submission = FORMATS["tilda"].normalize("tilda", FormSource(format="tilda", connection="c"), data)
    assert submission.values == {"name": "Анна", "submission_id": "42", "form_id": "7"}

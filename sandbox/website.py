"""A website that sends form submissions the way real site builders and form plugins do.

Each builder returns a :class:`Post`: the exact bytes, content type and headers that sender puts on the
wire (Tilda's urlencoded fields with ``tranid`` and a ``COOKIES`` field holding ``TILDAUTM``, Elementor's
PHP-bracket "advanced data", WPForms' signed JSON, a windows-1251 1C-Bitrix form, ...). The
:class:`WebsiteSimulator` authenticates each post as its sender would and sends it to the intake over
real HTTP. The demo, the tests and the benchmark use it; ``SCENARIO`` is the demo's deterministic set:
one valid submission of each format, duplicates, and hostile requests that must be refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import quote, urlencode, urlsplit

import httpx

Auth = Literal["query", "header", "wpforms"]


@dataclass(frozen=True)
class Person:
    name: str
    phone: str | None
    email: str | None
    comment: str | None = None


@dataclass(frozen=True)
class Post:
    source: str  # the intake's form source (endpoint /forms/<source>)
    label: str  # what this is, for people
    content_type: str
    body: bytes
    auth: Auth = "query"
    headers: dict[str, str] = field(default_factory=dict)
    expect: int = 200  # the status the intake must answer
    token: str | None = None  # send this instead of the source's secret ('' sends none)


# -- the senders ----------------------------------------------------------------------------------------

def _php_query(data: dict[str, object], prefix: str = "") -> list[tuple[str, str]]:
    """PHP's http_build_query: nested arrays as ``a[b][c]`` keys (what WordPress's wp_remote_post sends)."""
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += _php_query(value, name)
        else:
            pairs.append((name, "" if value is None else str(value)))
    return pairs


def tilda(person: Person, number: int, *, as_json: bool = False, source: str = "tilda") -> Post:
    fields = {"Name": person.name, "Phone": person.phone or "", "Email": person.email or "",
              "Comments": person.comment or "", "tranid": f"4561237:{8400000000 + number}", "formid": "form571920841",
              "formname": "Заявка на консультацию",
              "COOKIES": "_ym_uid=1741000000123456789; _ym_d=1741000000; tildauid=1741000000000.123456; "
                         "TILDAUTM=" + quote("utm_source=yandex|||utm_medium=cpc|||utm_campaign=spring_sale", safe="")}
    if as_json:
        return Post(source, "Tilda, JSON", "application/json", json.dumps(fields, ensure_ascii=False).encode())
    return Post(source, "Tilda, urlencoded", "application/x-www-form-urlencoded", urlencode(fields).encode())


def cf7(person: Person, number: int, *, source: str = "cf7") -> Post:
    data = {"your-name": person.name, "your-email": person.email or "", "tel-245": person.phone or "",
            "your-subject": "Вопрос по поставке", "your-message": person.comment or "",
            "_url": "https://blog.example.ru/kontakty/", "_date": "03.03.2025", "_time": f"10:{number % 60:02d}",
            "_remote_ip": "95.31.18.119", "_wpcf7": "1043", "_wpcf7_version": "5.9.8", "_wpcf7_locale": "ru_RU",
            "_wpcf7_unit_tag": "wpcf7-f1043-p17-o1"}
    return Post(source, "Contact Form 7 via CF7 to Webhook", "application/json",
                json.dumps(data, ensure_ascii=False).encode(), auth="header")


def elementor(person: Person, number: int, *, source: str = "elementor") -> Post:
    data = {
        "form": {"id": "4a7c2e1", "name": "Обратный звонок"},
        "fields": {
            "name": {"id": "name", "type": "text", "title": "Имя", "value": person.name, "raw_value": person.name,
                     "required": "1"},
            "field_7f3a": {"id": "field_7f3a", "type": "tel", "title": "Телефон", "value": person.phone or "",
                           "raw_value": person.phone or "", "required": "1"},
            "email": {"id": "email", "type": "email", "title": "Email", "value": person.email or "",
                      "raw_value": person.email or "", "required": "0"},
            "message": {"id": "message", "type": "textarea", "title": "Сообщение", "value": person.comment or "",
                        "raw_value": person.comment or "", "required": "0"},
        },
        "meta": {"date": {"title": "Date", "value": "March 3, 2025"},
                 "time": {"title": "Time", "value": f"10:{number % 60:02d} am"},
                 "page_url": {"title": "Page URL", "value": "https://www.example.ru/uslugi/montazh/"},
                 "user_agent": {"title": "User Agent", "value": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"},
                 "remote_ip": {"title": "Remote IP", "value": "178.176.72.14"},
                 "credit": {"title": "Powered by", "value": "Elementor"}},
    }
    return Post(source, "Elementor Pro, advanced data", "application/x-www-form-urlencoded",
                urlencode(_php_query(data)).encode(), auth="header")


def gravity_forms(person: Person, number: int, *, source: str = "gravity") -> Post:
    first, _, last = person.name.partition(" ")
    entry = {"id": str(3100 + number), "status": "active", "form_id": "2", "ip": "46.188.121.7",
             "source_url": "https://dealers.example.ru/become-a-dealer/", "currency": "RUB", "post_id": None,
             "date_created": f"2025-03-03 07:{number % 60:02d}:41", "date_updated": "2025-03-03 07:00:41",
             "is_starred": 0, "is_read": 0, "user_agent": "Mozilla/5.0 (X11; Linux x86_64)", "payment_status": None,
             "payment_date": None, "payment_amount": None, "payment_method": "", "transaction_id": None,
             "is_fulfilled": None, "created_by": "0", "transaction_type": None, "source_id": "88",
             "1.3": first, "1.6": last, "2": person.email or "", "3": person.phone or "", "4": person.comment or "",
             "5": "Оптовые закупки"}
    return Post(source, "Gravity Forms Webhooks Add-On", "application/json",
                json.dumps(entry, ensure_ascii=False).encode(), auth="header")


def wpforms(person: Person, number: int, *, source: str = "wpforms") -> Post:
    body = {"name": person.name, "email": person.email or "", "phone": person.phone or "",
            "message": person.comment or "", "entry_id": str(512 + number), "form_id": "77",
            "form_name": "Заявка на сервис", "page_url": "https://service.example.ru/zayavka/"}
    return Post(source, "WPForms Webhooks addon, signed JSON", "application/json; charset=utf-8",
                json.dumps(body, ensure_ascii=False).encode(), auth="wpforms",
                headers={"X-WPForms-Webhook-Id": "1", "User-Agent": "wpforms-webhooks/1.4.0"})


def bitrix(person: Person, number: int, *, source: str = "bitrix") -> Post:
    fields = [("sessid", "5f1c6e0b8a0d3e1f9b7c2a4d6e8f0a1b"), ("WEB_FORM_ID", "1"), ("RESULT_ID", str(700 + number)),
              ("form_text_1", person.name), ("form_text_2", person.phone or ""), ("form_email_3", person.email or ""),
              ("form_textarea_4", person.comment or ""), ("web_form_submit", "Отправить")]
    return Post(source, "1C-Bitrix web form, windows-1251", "application/x-www-form-urlencoded; charset=windows-1251",
                urlencode(fields, encoding="cp1251").encode("ascii"))


def yandex_forms(person: Person, number: int, *, source: str = "yandex_forms") -> Post:
    rpc = {"jsonrpc": "2.0", "method": "lead.create", "id": f"{uuid.UUID(int=0x5EED0000 + number)}",
           "params": {"name": person.name, "phone": person.phone or "", "email": person.email or "",
                      "comment": person.comment or "", "survey_id": "67c5a1b2e010ab0012f3c4d5",
                      "survey_name": "Заявка на расчёт"}}
    return Post(source, "Yandex Forms, JSON-RPC POST", "application/json",
                json.dumps(rpc, ensure_ascii=False).encode(), auth="header")


def marquiz(person: Person, number: int, *, source: str = "marquiz") -> Post:
    data = {"contacts": {"name": person.name, "phone": person.phone or "", "email": person.email or ""},
            "quiz": {"id": "65f0a1b2c3d4e5f6a7b8c9d0", "name": "Подбор оборудования"},
            "created": f"2025-03-03T07:{number % 60:02d}:00.000Z",
            "answers": [{"q": "Для какого помещения?", "a": "Склад"}, {"q": "Площадь, м²", "a": "от 500 до 1000"},
                        {"q": "Что важно?", "a": ["Цена", "Сроки монтажа"]}],
            "raw": [{"q": {"id": 1}, "a": [2]}], "result": {"title": "Комплект «Склад-1000»"},
            "extra": {"utm": {"source": "vk", "medium": "social", "name": "quiz_march"},
                      "href": "https://www.example.ru/quiz/", "referrer": "https://vk.com/", "ip": "5.18.99.200",
                      "cookies": {"_ga": "GA1.2.1234567890.1741000000", "_ym_uid": "1741000000987654321"}}}
    return Post(source, "Marquiz quiz", "application/json", json.dumps(data, ensure_ascii=False).encode())


def google_forms(person: Person, number: int, *, source: str = "google_forms") -> Post:
    data = {"formId": "1FAIpQLSe_demo_form_id", "formTitle": "Заявка на вебинар",
            "responseId": f"ACYDBNj{number:06d}demo", "timestamp": f"2025-03-03T07:{number % 60:02d}:12.000Z",
            "respondentEmail": person.email or "",
            "answers": {"Имя": person.name, "Телефон": person.phone or "", "Комментарий": person.comment or "",
                        "Какие темы интересны?": ["CRM", "Телефония"]}}
    return Post(source, "Google Forms via Apps Script", "application/json",
                json.dumps(data, ensure_ascii=False).encode(), auth="header")


def plain(person: Person, number: int, *, source: str = "landing") -> Post:
    boundary = f"----WebKitFormBoundary{hashlib.md5(str(number).encode()).hexdigest()[:16]}"
    fields = {"name": person.name, "phone": person.phone or "", "email": person.email or "",
              "message": person.comment or "", "submission_id": str(uuid.UUID(int=0xF0F0_0000 + number)),
              "page_url": "https://promo.example.ru/", "utm_source": "google", "utm_medium": "cpc",
              "utm_campaign": "brand"}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return Post(source, "plain HTML form, multipart", f"multipart/form-data; boundary={boundary}", body)


Builder = Callable[[Person, int], Post]
BUILDERS: dict[str, Builder] = {
    "tilda": tilda, "tilda_json": lambda p, n: tilda(p, n, as_json=True), "cf7": cf7, "elementor": elementor,
    "gravity_forms": gravity_forms, "wpforms": wpforms, "bitrix": bitrix, "yandex_forms": yandex_forms,
    "marquiz": marquiz, "google_forms": google_forms, "plain": plain,
}


# -- sending --------------------------------------------------------------------------------------------

class WebsiteSimulator:
    """Sends posts to an intake, authenticated as each sender does (``secrets``: source -> token/secret)."""

    def __init__(self, base_url: str, secrets: dict[str, str], timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.secrets = secrets
        self.client = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> WebsiteSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, post: Post) -> tuple[str, dict[str, str]]:
        """(URL, headers) for a post, with the sender's credentials."""
        secret = self.secrets.get(post.source, "") if post.token is None else post.token
        url = f"{self.base_url}/forms/{post.source}"
        headers = {"Content-Type": post.content_type, **post.headers}
        if not secret:  # a post sent without credentials
            return url, headers
        if post.auth == "query":
            url += "?token=" + quote(secret, safe="")
        elif post.auth == "header":
            headers["X-Hub-Token"] = secret
        else:
            headers["X-WPForms-Webhook-Signature"] = wpforms_signature(secret, post.body)
        return url, headers

    def send(self, post: Post) -> httpx.Response:
        url, headers = self.request(post)
        return self.client.post(url, content=post.body, headers=headers)


def wpforms_signature(secret: str, body: bytes, at: int | None = None) -> str:
    stamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v={digest}"


def raw_http(url: str, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes as they are (requests no HTTP client library would build) and return the raw answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while not _complete(answer):
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
    return answer


def _complete(answer: bytes) -> bool:
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


# -- the demo scenario ----------------------------------------------------------------------------------

PEOPLE = (
    Person("Анна Кузнецова", "+7 (916) 204-11-87", "anna.kuznetsova@mail.ru", "Нужна консультация по поставке"),
    Person("Олег Смирнов", "8 903 555 12 34", "o.smirnov@yandex.ru", "Перезвоните после 14:00"),
    Person("Мария Волкова", "8(925)777-00-11", None, "Хочу узнать цены"),
    Person("Игорь Лебедев", None, "igor.lebedev@bk.ru", "Пришлите прайс на e-mail"),
    Person("Светлана Егорова", "+79857001122", "s.egorova@gmail.com", None),
    Person("Павел Морозов", "89991234567", "pavel@morozov.pro", "Интересует монтаж"),
    Person("Елена Новикова", "+7 962 111 22 33", "elena.novikova@mail.ru", "Нужен счёт"),
    Person("Дмитрий Соколов", "8 (495) 000-12-12", "sokolov@romashka.ru", "Вопрос по договору"),
    Person("Юлия Павлова", "+7 (812) 345-67-89", "yulia.p@yandex.ru", "Подбор оборудования"),
    Person("Артём Фёдоров", "+7 (999) 880-77-66", None, "Запишите на вебинар"),
    Person("Татьяна Козлова", "8-916-333-44-55", "t.kozlova@mail.ru", "Заказ обратного звонка"),
)
#: the form sources the scenario posts to (mappings/website_leads.yaml names them)
SCENARIO_SOURCES = ("tilda", "cf7", "elementor", "gravity", "wpforms", "bitrix", "yandex_forms", "marquiz",
                    "google_forms", "landing")
FORMATS_IN_ORDER = ("tilda", "tilda_json", "cf7", "elementor", "gravity_forms", "wpforms", "bitrix", "yandex_forms",
                    "marquiz", "google_forms", "plain")


def scenario() -> Iterator[Post]:
    """The demo's submissions: the same on every run, so a second run finds nothing new."""
    posts = [BUILDERS[name](person, number) for number, (name, person) in
             enumerate(zip(FORMATS_IN_ORDER, PEOPLE, strict=True), 1)]
    yield from posts
    yield from posts[:3]  # resubmissions: answered 200, stored once
    yield tilda(Person("Без контактов", None, None, "Просто посмотреть"), 99)  # no contact: a dead letter
    yield plain(Person("Robert'); DROP TABLE leads;--", "+7 916 000-00-01", "x@example.com",
                       "<script>alert('xss')</script> <b>жирный</b>"), 100)  # kept literally, harmlessly
    yield from hostile()


def hostile() -> Iterator[Post]:
    """Requests the intake must refuse with the right 4xx, storing nothing."""
    yield Post("tilda", "invalid JSON", "application/json", b'{"Name": "x", "Phone": ', expect=400)
    yield Post("tilda", "wrong content type", "text/xml", b"<Name>x</Name>", expect=415)
    yield Post("tilda", "10 MB body", "application/x-www-form-urlencoded", b"Name=" + b"a" * 10_485_760, expect=413)
    yield Post("tilda", "10,000-level nesting", "application/json", b'{"a":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
               expect=422)
    yield Post("tilda", "invalid UTF-8", "application/x-www-form-urlencoded", b"Name=\xff\xfe\xfd&Phone=1",
               expect=400)
    yield Post("tilda", "NUL byte", "application/json", b'{"Name": "a\\u0000b", "Phone": "+79160000000"}',
               expect=400)
    yield Post("tilda", "100,000-character name", "application/json",
               json.dumps({"Name": "Я" * 100_000, "Phone": "+79160000000"}).encode(), expect=422)
    yield replace(tilda(PEOPLE[0], 1), label="wrong token", token="not-the-token", expect=403)
    yield replace(tilda(PEOPLE[0], 1), label="no token", token="", expect=401)
    # a key of 340,000 [x] segments once took 18 s to parse, before the token (Tilda may send it in the body)
    yield Post("tilda", "340,000 [x] segments in one key, no token", "application/x-www-form-urlencoded",
               b"a" + b"[x]" * 340_000 + b"=1", token="", expect=422)
    yield Post("tilda", "300 [x] segments in one key", "application/x-www-form-urlencoded",
               b"Name" + b"[x]" * 300 + b"=1&Phone=%2B79160000000", expect=422)
    yield Post("tilda", "a list where the name belongs", "application/json",
               json.dumps({"Name": ["a", "b"], "Phone": "+79160000000", "tranid": "1:hostile-list"}).encode(),
               expect=422)
    yield Post("tilda", "a number as the phone", "application/json",
               json.dumps({"Name": "Число", "Phone": 79160000000, "tranid": "1:hostile-number"}).encode(), expect=422)
    yield Post("tilda", "the name sent twice", "application/x-www-form-urlencoded",
               b"Name=a&Name=b&Phone=%2B79160000000&tranid=1%3Ahostile-twice", expect=422)

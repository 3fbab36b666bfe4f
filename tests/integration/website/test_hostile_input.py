"""Hostile and broken requests get the right 4xx and store nothing; odd but valid content is stored and
reaches the CRM literally; nothing any client sends produces a 5xx."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import pytest

from sandbox.website import Person, WebsiteSimulator, hostile, plain, raw_http, tilda

from .conftest import Site, secret

TILDA = "/forms/tilda?token=" + secret("tilda")


@pytest.mark.parametrize("post", list(hostile()), ids=lambda post: post.label)
def test_hostile_request_is_refused_with_its_4xx_and_nothing_is_stored(site: Site, post) -> None:
    before = site.inbox_count()
    with WebsiteSimulator(site.url, {"tilda": secret("tilda")}) as simulator:
        response = simulator.send(post)
    assert response.status_code == post.expect, response.text
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert site.inbox_count() == before


@pytest.mark.parametrize(("content_type", "body", "status", "code"), [
    ("application/json; charset=x-unknown", b"{}", 415, "unsupported_charset"),
    ("application/json; charset=base64", b"{}", 415, "unsupported_charset"),
    ("application/json", b"[1, 2]", 400, "malformed_body"),
    ("application/json", b'{"Name": NaN}', 400, "malformed_body"),
    ("application/json", b'{"Name": "\\ud800"}', 400, "invalid_encoding"),
    ("application/json", b'{"n": ' + b"9" * 5000 + b"}", 400, "malformed_body"),
    ("application/json", b"", 400, "empty_body"),
    ("application/x-www-form-urlencoded", "&".join(f"f{i}=v" for i in range(10_000)).encode(), 422,
     "too_many_fields"),
    ("application/x-www-form-urlencoded", b"a" + b"[x]" * 100 + b"=1", 422, "too_deep"),
    ("application/x-www-form-urlencoded; charset=windows-1251", b"Name=\x98", 400, "invalid_encoding"),
    ("multipart/form-data", b"--x\r\n\r\n", 400, "malformed_body"),
    ("multipart/form-data; boundary=zz", b"--zz\r\nContent-Disposition: form-data\r\n\r\nv\r\n--zz--\r\n", 400,
     "malformed_body"),
    ("application/octet-stream", b"\x00\x01\x02", 415, "unsupported_content_type"),
])
def test_broken_bodies_get_a_clear_error(site: Site, content_type: str, body: bytes, status: int, code: str) -> None:
    before = site.inbox_count()
    response = site.post(TILDA, body, {"Content-Type": content_type})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert site.inbox_count() == before


def test_compressed_and_streamed_oversized_bodies_are_refused(site: Site) -> None:
    gzipped = site.post(TILDA, b"\x1f\x8b\x08\x00", {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert gzipped.status_code == 415
    chunks = (b"Name=" + b"a" * 65536 for _ in range(40))  # no Content-Length: cut off while streaming
    streamed = site.http.post(site.url + TILDA, content=chunks,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (streamed.status_code, streamed.json()["error"]["code"]) == (413, "body_too_large")


def test_unknown_source_and_wrong_method(site: Site) -> None:
    assert site.post("/forms/nosuch", b"a=1", {"Content-Type": "application/json"}).json()["error"]["code"] == \
        "unknown_source"
    assert site.http.get(site.url + "/forms/tilda").status_code == 405


def test_sql_and_html_are_stored_and_written_literally(site: Site) -> None:
    name = "Robert'); DROP TABLE leads;--"
    comment = "<script>alert('x')</script><img src=x onerror=alert(1)> ' OR 1=1 --"
    post = plain(Person(name, "+7 916 000-00-07", "bobby@example.com", comment), 7)
    response = site.post("/forms/landing", post.body, {"Content-Type": post.content_type,
                                                       "X-Hub-Token": secret("landing")})
    assert response.status_code == 200
    site.run("website_leads")
    lead = site.row("leads", source_ref=response.json()["key"])
    assert (lead["name"], lead["comment"]) == (name, comment)
    assert len(site.rows("leads")) > 1  # the table is still there, with everything in it


def test_header_injection_attempts(site: Site) -> None:
    # a folded header line and a CR inside a header value are refused by the HTTP server itself
    folded = raw_http(site.url, b"POST /forms/tilda HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Set-Cookie: evil=1\r\n"
                                b"Content-Length: 0\r\n\r\n")
    assert folded.startswith(b"HTTP/1.1 400")
    bare_cr = raw_http(site.url, b"POST /forms/tilda HTTP/1.1\r\nHost: x\r\nX-A: 1\rSet-Cookie: evil=1\r\n"
                                 b"Content-Length: 0\r\n\r\n")
    assert bare_cr.startswith(b"HTTP/1.1 400")
    # CR/LF inside a field value is content: stored as sent, never echoed into a response header
    response = site.post(TILDA, json.dumps({"Name": "Иван\r\nSet-Cookie: evil=1", "Phone": "+79160000008",
                                            "tranid": "4561237:1"}).encode(),
                         {"Content-Type": "application/json"})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "Иван\\r\\nSet-Cookie: evil=1" in site.inbox_payload(response.json()["key"])


def test_tilda_test_request_is_answered_and_stores_nothing(site: Site) -> None:
    before = site.inbox_count()
    response = site.post(TILDA, b"test=test", {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.json() == {"status": "ok", "id": None, "key": None}
    assert site.inbox_count() == before
    unauthenticated = site.post("/forms/tilda", b"test=test", {"Content-Type": "application/x-www-form-urlencoded"})
    assert unauthenticated.status_code == 401


def test_token_ways_and_hmac(site: Site) -> None:
    body = tilda(Person("Токен Тестов", "+7 916 000-00-09", None), 9).body
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert site.post("/forms/tilda", body, {**form, "X-API-Key": secret("tilda")}).status_code == 200
    assert site.post("/forms/tilda", body + b"&X-API-Key=" + secret("tilda").encode(), form).status_code == 200
    assert site.post("/forms/tilda", body + b"&X-API-Key=wrong", form).status_code == 403
    assert site.post("/forms/cf7", b"{}", {"Content-Type": "application/json",
                                           "Authorization": f"Bearer {secret('cf7')}"}).status_code == 200
    signed = json.dumps({"name": "Подпись", "phone": "+79160000010", "entry_id": "9"}).encode()
    stale = "t=1000000000,v=" + "0" * 64
    assert site.post("/forms/wpforms", signed, {"Content-Type": "application/json",
                                                "X-WPForms-Webhook-Signature": stale}).status_code == 403
    assert site.post("/forms/wpforms", signed, {"Content-Type": "application/json"}).status_code == 401


def test_a_flood_from_one_address_is_rate_limited(site: Site) -> None:
    answers = []
    while not answers or (answers[-1].status_code != 429 and len(answers) < 2000):  # burst 60, then 10/s
        answers.append(site.post("/forms/yandex_forms", b"{}", {"Content-Type": "application/json",
                                                                "X-Hub-Token": secret("yandex_forms")}))
    limited = answers[-1]
    assert limited.status_code == 429 and limited.headers["retry-after"]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert {a.status_code for a in answers} == {200, 429}


@pytest.mark.parametrize("stamp", ["²".encode("latin-1"), "²".encode(), "١٢٣".encode(), b"9" * 5000, b"-1", b""])
def test_a_signature_time_that_is_not_ascii_digits_is_403(site: Site, stamp: bytes) -> None:
    # '²' passes str.isdigit() and then fails int(): once a 400 with a traceback in the log
    body = b'{"name": "x", "phone": "+79160000011", "entry_id": "77"}'
    answer = raw_http(site.url, b"POST /forms/wpforms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                b"X-WPForms-Webhook-Signature: t=" + stamp + b",v=" + b"0" * 64 + b"\r\n"
                                b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    assert answer.startswith(b"HTTP/1.1 403"), answer[:300]
    assert b'"bad_credentials"' in answer


def test_health_answers_while_hostile_bodies_are_in_flight(site: Site) -> None:
    """Parsing runs off the event loop and in linear time: the worst bodies a client can send do not hold up
    /health or anyone else, neither while they arrive nor while they are parsed."""
    worst = [b"a" + b"[x]" * 349_000 + b"=1", b"&".join(b"Name[x]" + b"[y]" * 16 + b"=1" for _ in range(9000))]
    held = []
    for body in worst * 2:  # sent but for the last byte: in flight
        sock = socket.create_connection(site.intake.socket.getsockname()[:2], timeout=60)
        sock.sendall(b"POST /forms/tilda HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body[:-1])
        held.append((sock, body[-1:]))
    assert site.http.get(site.url + "/health").status_code == 200
    answers: list[int] = []

    def post_worst() -> None:
        with httpx.Client(timeout=60) as client:
            for body in worst:
                answers.append(client.post(site.url + "/forms/tilda", content=body, headers={
                    "Content-Type": "application/x-www-form-urlencoded"}).status_code)

    senders = [threading.Thread(target=post_worst) for _ in range(3)]
    for sender in senders:
        sender.start()
    healthy = 0
    while any(sender.is_alive() for sender in senders):  # /health keeps answering while they are parsed
        assert site.http.get(site.url + "/health").status_code == 200
        healthy += 1
    for sender in senders:
        sender.join()
    for sock, last in held:
        sock.sendall(last)
        with sock:
            assert sock.recv(65536).startswith(b"HTTP/1.1 422")
    assert answers == [422] * 6 and healthy >= 1

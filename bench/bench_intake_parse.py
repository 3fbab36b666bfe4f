"""Benchmark: the worst a client can make the intake's parser do with one maximum-size body.

Every body here is the maximum size a form source accepts (``limits.max_body_bytes``, 1 MiB by default) and
goes through what the intake runs for a request off its event loop: :func:`connectors.website.receive.accept`
(credentials, decoding, PHP bracket keys, limits, the sender format, the submission key) for a Tilda
source, the sender that may carry its token in the body, so an anonymous body is parsed before it can be
refused.

The baseline, measured in the same run: a typical body of the same size (a Tilda form with 500 fields of
ordinary text, within every limit, accepted). Each hostile shape is timed (median of ``--repeat`` runs) and
divided by the baseline. A parser that is linear in the body size keeps every ratio small; the one this
replaced took 18 s (about 2,000 times the baseline) for one key of 340,000 ``[x]`` segments. Target: the
worst ratio <= 10.

Run: ``python bench/bench_intake_parse.py [--repeat N]``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from connectors.website import receive  # noqa: E402
from connectors.website.config import FormSource  # noqa: E402
from connectors.website.errors import Refused  # noqa: E402
from connectors.website.formats import FORMATS  # noqa: E402
from connectors.website.sources import ServedSource  # noqa: E402

TARGET_RATIO = 10.0
SIZE = FormSource(format="tilda", connection="c").limits.max_body_bytes
FORM, JSON_, MULTIPART = ("application/x-www-form-urlencoded", "application/json",
                          "multipart/form-data; boundary=b0undary")
SECRET = "bench-token"


def fill(head: bytes, unit: bytes, tail: bytes = b"") -> bytes:
    """``head + unit * n + tail`` as close to the maximum size as whole units allow."""
    return head + unit * ((SIZE - len(head) - len(tail)) // len(unit)) + tail


def typical() -> bytes:
    """A Tilda form at the maximum size: 500 fields of ordinary Russian text (2,000 bytes each)."""
    fields = {"Name": "Анна Кузнецова", "Phone": "+7 (916) 204-11-87", "Email": "anna@example.ru",
              "tranid": "4561237:8400000003", "formid": "form571920841"}
    size = len(urlencode(fields).encode())
    number = 0
    while size < SIZE - 2200 and len(fields) < 500:
        value = ("Перезвоните, пожалуйста, после обеда " * 20)[:400 - number % 7]
        fields[f"Вопрос_{number}"] = value
        size += len(urlencode({f"Вопрос_{number}": value}).encode()) + 1
        number += 1
    return urlencode(fields).encode()


def hostile() -> dict[str, tuple[str, bytes]]:
    """Shapes a client can send, each at the maximum size: (content type, body) by name."""
    long_key = b"k" * 999  # the longest field name allowed
    return {
        "one key of [x] segments": (FORM, fill(b"a", b"[x]", b"=1")),
        "many too-deep keys": (FORM, fill(b"", b"a" + b"[x]" * 17 + b"=1&")),
        "deep keys at the limit": (FORM, fill(b"", b"a" + b"[x]" * 15 + b"=1&")),
        "1,000-character keys": (FORM, fill(b"", long_key + b"=1&")),
        "one %-escaped value": (FORM, fill(b"Name=", b"%D0%AF")),
        "empty fields": (FORM, fill(b"", b"&")),
        "repeated key": (FORM, fill(b"", b"a=1&")),
        "JSON nesting": (JSON_, fill(b"", b"[")),
        "JSON object nesting": (JSON_, fill(b"", b'{"a":')),
        "JSON many keys": (JSON_, b"{" + b",".join(b'"k%06d":1' % n for n in range(SIZE // 12 - 1)) + b"}"),
        "JSON 499 long keys + token": (JSON_, b'{"X-API-Key":"%s",' % SECRET.encode() + b",".join(
            b'"%s%06d":"%s"' % (b"token" * 198, n, b"v" * 1080) for n in range(499)) + b"}"),
        "JSON escapes": (JSON_, fill(b'{"Name":"', b"\\u0416", b'"}')),
        "multipart tiny parts": (MULTIPART, fill(b"", b'--b0undary\r\nContent-Disposition: form-data; name="a"\r\n\r\n'
                                                     b"1\r\n", b"--b0undary--\r\n")),
        "multipart long header": (MULTIPART, fill(b"--b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\nX: ",
                                                  b"x", b"\r\n\r\n1\r\n--b0undary--\r\n")),
    }


def tilda_source() -> ServedSource:
    fmt = FORMATS["tilda"]
    return ServedSource(name="tilda", exchange="website_leads", stream="website",
                        config=FormSource(format="tilda", connection="c"), format=fmt, auth=fmt.default_auth,
                        secret=SecretStr(SECRET))


def timed(source: ServedSource, content_type: str, body: bytes, query: dict[str, str],
          repeat: int) -> tuple[float, str]:
    """(median seconds, outcome) of receive.accept on this body."""
    request = receive.Request(headers={"content-type": content_type}, query=query, body=body, client="127.0.0.1",
                              received=dt.datetime.now(dt.UTC))
    runs: list[float] = []
    outcome = ""
    for _ in range(repeat):
        started = time.perf_counter()
        outcome = _outcome(lambda: receive.accept(source, request))
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), outcome


def _outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except Refused as refused:
        return f"{refused.status} {refused.code}"
    return "accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    source = tilda_source()
    body = typical()
    baseline, outcome = timed(source, FORM, body, {"token": SECRET}, args.repeat)
    assert outcome == "accepted", outcome
    rows = []
    for name, (content_type, hostile_body) in hostile().items():
        seconds, result = timed(source, content_type, hostile_body, {}, args.repeat)  # no token: the worst case
        rows.append({"body": name, "bytes": len(hostile_body), "ms": round(seconds * 1000, 2), "outcome": result,
                     "ratio": round(seconds / baseline, 2)})
    worst = max(rows, key=lambda row: row["ratio"])
    print(f"intake parsing, one maximum-size body ({SIZE} bytes) through receive.accept (Tilda source, no token), "
          f"median of {args.repeat}")
    print(f"baseline: a typical {len(body)}-byte Tilda form with {body.count(b'&') + 1} fields, accepted: "
          f"{baseline * 1000:.2f} ms")
    print(f"{'hostile body':30} {'bytes':>8} {'ms':>8} {'x typical':>9}  outcome")
    for row in rows:
        print(f"{row['body']:30} {row['bytes']:8} {row['ms']:8.2f} {row['ratio']:9.2f}  {row['outcome']}")
    met = worst["ratio"] <= TARGET_RATIO
    print(f"worst: {worst['body']} at {worst['ratio']:.2f}x the typical body; target <= {TARGET_RATIO:.0f}x: "
          f"{'met' if met else 'NOT met'}")
    print(json.dumps({"benchmark": "intake_parse", "max_body_bytes": SIZE, "baseline_ms": round(baseline * 1000, 3),
                      "results": rows, "worst_ratio": worst["ratio"], "target_ratio": TARGET_RATIO,
                      "target_met": met}, ensure_ascii=False))


if __name__ == "__main__":
    main()

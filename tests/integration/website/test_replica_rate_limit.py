"""Two real intake replicas over one hub database: with Redis (``--redis-url``) they share one token bucket
per source and client, so together they let through the configured rate; without it each replica has its
own, twice the rate, and both replicas say so in ``/health``. Redis is the machine's (127.0.0.1:6379); the
buckets of one hub are kept apart from any other by a digest of its database address."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from hub.testing.network import free_port

from .conftest import secret
from .processes import intake_env, intake_process

REDIS_URL = "redis://127.0.0.1:6379/0"
BURST, PER_MINUTE = 10, 1  # a burst of 10, then one request a minute: the count is exact within the test


@pytest.fixture
def replicas(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    env = intake_env(tmp_path, landing={"rate_limit": {"per_minute": PER_MINUTE, "burst": BURST}})
    options = {"shared": ("--redis-url", REDIS_URL), "per_replica": (),
               "redis_down": ("--redis-url", f"redis://127.0.0.1:{free_port()}/0")}[request.param]
    with ExitStack() as stack:
        yield [stack.enter_context(intake_process(env, *options)) for _ in range(2)]


def send_alternately(urls: list[str], count: int) -> tuple[int, float]:
    """(requests let through, seconds taken) of ``count`` submissions from one address, alternating."""
    let_through = 0
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for number in range(count):
            body = json.dumps({"name": f"Клиент {number}", "phone": "+7 916 000-00-00",
                               "submission_id": f"rate-{number}-{time.time_ns()}"}, ensure_ascii=False)
            answer = client.post(f"{urls[number % 2]}/forms/landing?token={secret('landing')}",
                                 content=body.encode(), headers={"Content-Type": "application/json"})
            assert answer.status_code in (200, 429), answer.text
            let_through += answer.status_code == 200
    return let_through, time.monotonic() - started


def refilled(seconds: float) -> int:
    return int(seconds * PER_MINUTE / 60)


@pytest.mark.parametrize("replicas", ["shared"], indirect=True)
def test_two_replicas_with_redis_let_through_the_configured_rate_together(replicas: list[str]) -> None:
    let_through, seconds = send_alternately(replicas, 4 * BURST)
    assert let_through == BURST + refilled(seconds)
    for url in replicas:
        health = httpx.get(url + "/health").json()["rate_limit"]
        assert health["shared"] is True
        assert health["sources"]["landing"] == {"per_minute": PER_MINUTE, "burst": BURST, "per": "client address",
                                                "scope": "all replicas"}


@pytest.mark.parametrize("replicas", ["per_replica", "redis_down"], indirect=True)
def test_without_redis_each_replica_limits_alone_and_says_so(replicas: list[str]) -> None:
    # no Redis configured, or Redis not answering (the documented fallback): each replica keeps its own buckets
    let_through, seconds = send_alternately(replicas, 4 * BURST)
    assert let_through == 2 * (BURST + refilled(seconds))
    for url in replicas:
        health = httpx.get(url + "/health").json()["rate_limit"]
        assert health["shared"] is False and health["sources"]["landing"]["scope"] == "replica"

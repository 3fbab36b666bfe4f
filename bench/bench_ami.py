"""AMI listener benchmark, from ONE run: how many AMI events a second the listener turns into calls committed
durably to the inbox with zero loss, and the delay from an event's arrival to its call's commit.

The PBX is the AMI simulator in its own process (a real PBX is another machine), playing the recorded call
scenarios (~117 events per call, CEL included). Three measurements on the same stream:

1. baseline: a raw socket reader that only counts messages (the stream's own ceiling on this machine);
2. throughput: the calls played 50x faster than real time (a sustained overload): events/s from the first
   event read to the last call committed, and every call must be in the inbox (target >= 5,000 events/s);
3. latency: calls at a steady ~5,000 events/s, real-time playback: p50/p99 from the arrival of the event
   that completes a call to the end of the inbox transaction holding it, over every call of the run; the
   rate printed is the one once the run has all its concurrent calls (target p99 < 50 ms).

Prints the numbers, the ratio to the baseline, and one JSON line.
Usage: python bench/bench_ami.py [--calls 2000] [--latency-seconds 20] [--rate-events 5000]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from connectors.telephony.config import pbx_config  # noqa: E402
from connectors.telephony.listener import AmiListener  # noqa: E402
from hub.connections import Connection  # noqa: E402
from hub.settings import HubSettings  # noqa: E402
from hub.state.store import StateStore  # noqa: E402
from sandbox.ami.plan import mixed_plan  # noqa: E402
from sandbox.ami.server import SimulatorProcess  # noqa: E402

SPEED = 50.0  # playback speed of the throughput run
RAMP = 6.0  # seconds until a steady run has its full load of concurrent calls (a call lasts up to 5 s)
UNLIMITED = 1 << 40  # the simulator never drops the session: a slow listener shows as a low rate, not a loss


def raw_read_rate(calls: int) -> tuple[float, int]:
    """Events/s a bare socket reader gets from the same stream (log in, count message ends)."""
    with SimulatorProcess(speed=SPEED, max_buffer=UNLIMITED) as sim:
        sock = socket.create_connection(("127.0.0.1", sim.port))
        sock.sendall(b"Action: Login\r\nActionID: 1\r\nUsername: hub\r\nSecret: hubsecret\r\n\r\n")
        buffer = b""
        while buffer.count(b"\r\n\r\n") < 2:  # the login answer and FullyBooted
            buffer += sock.recv(65536)
        expected = _events_of(calls)
        sim.play(mixed_plan(calls, seed=3))
        seen, tail, first = 0, b"", None
        while seen < expected:
            chunk = sock.recv(1 << 20)
            if first is None:
                first = time.perf_counter()
            data = tail + chunk
            seen += data.count(b"\r\n\r\n")
            tail = data[-3:]
        elapsed = time.perf_counter() - (first or time.perf_counter())
        sock.close()
    return seen / elapsed, seen


def _events_of(calls: int) -> int:
    """Messages the plan sends (rendered once with the simulator's own templates)."""
    from zoneinfo import ZoneInfo

    from sandbox.ami.templates import RECORDED_PARTIES, Substitutions, build_template, render

    templates: dict[str, object] = {}
    total = 0
    for spec in mixed_plan(calls, seed=3):
        template = templates.setdefault(spec.kind, build_template(spec.kind))
        caller, callee, agent = RECORDED_PARTIES[spec.kind]
        subs = Substitutions(caller, callee, agent or "", "t", 0.0, ZoneInfo("UTC"),
                             [f"1.{i}" for i in range(template.uids)],  # type: ignore[attr-defined]
                             ["0" * 8] * template.seqs, ["b"] * template.bridges)  # type: ignore[attr-defined]
        total += len(render(template, subs, recording=spec.recording))  # type: ignore[arg-type]
    return total


def run_listener(home: Path, calls: int, *, speed: float, rate: float | None) -> dict[str, float]:
    store = StateStore(f"sqlite:///{home / 'hub.db'}")
    with SimulatorProcess(speed=speed, max_buffer=UNLIMITED) as sim:
        connection = Connection(conn_id="pbx", host="127.0.0.1", port=sim.port, login="hub",
                                password=SecretStr("hubsecret"), extra={"cdr_timezone": "UTC"})
        listener = AmiListener(pbx_config(connection, HubSettings()), store)
        arrivals: list[float] = []
        forward = listener._on_event

        def on_event(event: dict[str, str], wall: float, perf: float) -> None:
            arrivals.append(perf)
            forward(event, wall, perf)

        listener._on_event = on_event  # type: ignore[method-assign]
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,), daemon=True)
        thread.start()
        if not listener.connected.wait(10):
            raise SystemExit("the listener did not connect to the simulator")
        linkedids = sim.play(mixed_plan(calls, seed=3), rate=rate)
        deadline = time.monotonic() + 600
        while listener.stats.calls < calls and time.monotonic() < deadline:
            time.sleep(0.005)
        done = time.perf_counter()
        stats = sim.stats()
        stop.set()
        thread.join(30)
    committed = {payload["call_id"] for _, payload, _, _ in store.inbox_read("calls", 0, 10_000_000)}
    store.close()
    latencies = sorted(listener.stats.latencies)
    start = arrivals[0]
    plateau = [t for t in arrivals if start + RAMP <= t <= start + (calls / rate if rate else 0)]
    return {
        "events": listener.stats.events,
        "events_sent": stats["events_sent"],
        "seconds": done - start,
        "plateau_rate": len(plateau) / max(1e-9, calls / rate - RAMP) if rate else 0.0,
        "lost": len(set(linkedids) - committed),
        "duplicates": listener.stats.duplicates + max(0, len(committed) - len(set(linkedids))),
        "sessions_dropped": stats["sessions_dropped"],
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls in the throughput run")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the steady-rate run")
    parser.add_argument("--rate-events", type=float, default=5000.0, help="events a second in the steady run")
    args = parser.parse_args()

    baseline, events = raw_read_rate(args.calls)
    per_call = events / args.calls
    with tempfile.TemporaryDirectory(prefix="bench-ami-") as tmp:
        burst = run_listener(Path(tmp) / "burst", args.calls, speed=SPEED, rate=None)
        steady_calls = int(args.rate_events / per_call * args.latency_seconds)
        steady = run_listener(Path(tmp) / "steady", steady_calls, speed=1.0, rate=args.rate_events / per_call)
    throughput = burst["events"] / burst["seconds"]
    steady_rate = steady["plateau_rate"]
    print(f"stream: {args.calls} calls, {events} AMI events ({per_call:.0f} per call)")
    print(f"baseline, raw socket read of the same stream: {baseline:,.0f} events/s")
    print(f"listener -> durable inbox (overload, {SPEED:.0f}x playback): {throughput:,.0f} events/s = "
          f"{throughput / baseline:.2f} x baseline; lost {burst['lost']}, duplicates {burst['duplicates']} "
          f"(target >= 5,000 events/s, zero loss)")
    print(f"steady {steady_rate:,.0f} events/s ({steady_calls} calls): event -> commit p50 {steady['p50_ms']:.1f} ms, "
          f"p99 {steady['p99_ms']:.1f} ms; lost {steady['lost']} (target p99 < 50 ms)")
    print(json.dumps({
        "bench": "ami", "calls": args.calls, "events": events, "baseline_events_per_s": round(baseline),
        "listener_events_per_s": round(throughput), "ratio": round(throughput / baseline, 3),
        "lost": burst["lost"] + steady["lost"], "duplicates": burst["duplicates"] + steady["duplicates"],
        "steady_events_per_s": round(steady_rate), "p50_ms": round(steady["p50_ms"], 2),
        "p99_ms": round(steady["p99_ms"], 2),
    }))


if __name__ == "__main__":
    main()

"""Run the AMI simulator on its own: ``python -m sandbox.ami --port 15038 --cdr var/ami/Master.csv``.

With ``--play N`` it plays N calls of the mixed plan at ``--rate`` calls a second, starting when the first
client logs in with events on (``--on-login``) or at once. It prints ``ready <port>`` when listening and
``played <events>`` when the plan is done; it stops on SIGTERM/SIGINT or end of stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from sandbox.ami.plan import mixed_plan
from sandbox.ami.server import AmiSimulator


async def main(args: argparse.Namespace) -> None:
    sim = AmiSimulator(host=args.host, port=args.port, username=args.username, secret=args.secret,
                       cdr_path=Path(args.cdr) if args.cdr else None, zone=args.zone,
                       max_buffer=args.max_buffer)
    await sim.start()
    print(f"ready {sim.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    loop.add_reader(sys.stdin, lambda: None if sys.stdin.readline() else stop.set())
    if args.play:
        if args.on_login:
            while not sim.listeners():
                await asyncio.sleep(0.01)
        sim.play(mixed_plan(args.play, seed=args.seed), rate=args.rate or None)
        while sim.pending() and not stop.is_set():
            await asyncio.sleep(0.05)
        print(f"played {sim.events_sent}", flush=True)
    await stop.wait()
    await sim.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.ami", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=15038)
    parser.add_argument("--username", default="hub")
    parser.add_argument("--secret", default="hubsecret")
    parser.add_argument("--cdr", help="write Master.csv here")
    parser.add_argument("--zone", default="UTC", help="the PBX's time zone (CDR times)")
    parser.add_argument("--play", type=int, default=0, help="play this many calls of the mixed plan")
    parser.add_argument("--rate", type=float, default=0, help="calls a second (0: all at once)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--on-login", action="store_true", help="start playing when a client logs in")
    parser.add_argument("--max-buffer", type=int, default=8 * 1024 * 1024,
                        help="drop a session with more unsent bytes (Asterisk drops slow readers)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))

"""Run the 1C simulator on its own: ``python -m sandbox.onec --port 18081 --data var/onec.db``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sandbox.onec import Faults, OneCSimulator, seed_demo
from sandbox.onec.config import CONFIGURATIONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18081)
    parser.add_argument("--data", type=Path, default=Path("var/onec.db"), help="SQLite file holding the infobase")
    parser.add_argument("--chaos", type=float, default=0.0, help="share of requests failing or slow, e.g. 0.2")
    parser.add_argument("--config", choices=sorted(CONFIGURATIONS), default="bp30",
                        help="the configuration to play: bp30 (1C:Бухгалтерия 3.0) or trimmed (a smaller base)")
    args = parser.parse_args()
    sim = OneCSimulator(args.data, faults=Faults.chaos(args.chaos) if args.chaos else None,
                        config=CONFIGURATIONS[args.config])
    seed_demo(sim.store)
    with sim.start(args.host, args.port):
        login = next(iter(sim.users))
        print(f"1C simulator at {sim.url}/odata/standard.odata/ and {sim.url}/ws/CRMExchange.1cws?wsdl "
              f"(user {login!r}); Ctrl+C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()

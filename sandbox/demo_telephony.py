"""``hub demo`` part: the PBX. The AMI simulator on 127.0.0.1:15038 plays a fixed set of calls, and the AMI
listener (the same code as ``hub listen ami``) commits each finished call to the demo's hub inbox.

The scenario: calls from the first clients of the demo CRM (answered, missed, busy, through the queues),
one from an unknown number, and a manager calling back the client who missed: the call log, one
callback task left open, one closed. It also places the CRM's new click-to-call requests (exchange
``click_to_call``) so their outcomes are in the inbox for ``click_to_call_outcome``.

The PBX clock starts at a fixed moment, so every run has the same Linkedids: a second ``hub demo`` finds
every call in the inbox already and writes nothing new.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from connectors.crm_db.engine import engine_url
from connectors.telephony.config import pbx_config
from connectors.telephony.listener import AmiListener
from connectors.telephony.record import NumberPlan
from connectors.telephony.recovery import CsvCdrSource
from hub.connections import parse_airflow_value
from hub.demo import DemoEnv, demo_port
from hub.state.store import StateStore
from hub.wakeup import waker_from_env
from sandbox.ami.server import CallSpec, SimulatorThread

AMI_PORT = 15038
ZONE = "Europe/Moscow"
PBX_START = 1740981600.0  # 2025-03-03 09:00 Moscow, the demo CRM's "now"
DEMO_SECRET = "demo-ami-secret"  # demo credentials only; real ones live in Airflow Connections
UNKNOWN_NUMBER = "+74957770011"
FALLBACK_NUMBERS = ("+79161110001", "+79161110002", "+79161110003", "+79161110004")


@dataclass
class TelephonyPart:
    name: str = "telephony"
    order: int = 60  # after the CRM: the calls are from its clients
    _sim: SimulatorThread | None = None
    _listener: AmiListener | None = None
    _linkedids: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def start(self, env: DemoEnv) -> Iterator[None]:
        cdr = env.home / "ami" / "Master.csv"
        cdr.unlink(missing_ok=True)  # a fresh PBX every run
        with SimulatorThread(port=demo_port(AMI_PORT), secret=DEMO_SECRET, cdr_path=cdr, zone=ZONE,
                             clock_start=PBX_START) as sim:
            env.connections["pbx"] = json.dumps({
                "conn_type": "hub_asterisk_ami", "host": "127.0.0.1", "port": sim.port, "login": "hub",
                "password": DEMO_SECRET, "extra": {"cdr_csv": str(cdr), "cdr_timezone": ZONE}})
            config = pbx_config(parse_airflow_value("pbx", env.connections["pbx"]), env.settings)
            store = StateStore(env.settings.state_url)
            # under `hub airflow` the waker wakes the calls DAG after each commit; under `hub demo` it does nothing
            listener = AmiListener(config, store, waker=waker_from_env(), cdr_source=CsvCdrSource(cdr, config.zone))
            stop = threading.Event()
            thread = threading.Thread(target=listener.run, args=(stop,), name="demo-ami-listener", daemon=True)
            thread.start()
            self._sim, self._listener = sim, listener
            try:
                if not listener.connected.wait(10):
                    raise RuntimeError(f"telephony demo: the AMI listener did not connect to {config.where}")
                env.notes.append(f"PBX: AMI simulator on 127.0.0.1:{sim.port} (user hub), CDR in {cdr}")
                yield
            finally:
                stop.set()
                thread.join(30)
                store.close()
                self._sim = self._listener = None

    def produce(self, env: DemoEnv) -> None:
        assert self._sim is not None and self._listener is not None, "start() first"
        first, second, third, fourth = _client_numbers(env)
        calls = [
            CallSpec("answered", caller=first, callee="101", recording=True),
            CallSpec("missed", caller=second, callee="102"),
            CallSpec("busy", caller=UNKNOWN_NUMBER, callee="103"),
            CallSpec("queue-answered", caller=third, agent="104"),
            CallSpec("queue-missed", caller=fourth, agent="105"),
        ]
        self._linkedids = self._sim.play(calls, rate=10, start=PBX_START + 1)
        # the manager calls back the client who missed, after that call ended
        self._linkedids += self._sim.play([CallSpec("outbound", caller="102", callee=second)], start=PBX_START + 6.5)
        placed = _click_to_call(env)
        self._wait(env, placed)
        env.notes.append(f"PBX: {len(self._linkedids)} calls played and in the inbox (stream calls); "
                         f"{placed} click-to-call request(s) dialed")

    def _wait(self, env: DemoEnv, placed: int, timeout: float = 60.0) -> None:
        store = StateStore(env.settings.state_url)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                calls = {payload["call_id"] for _, payload, _, _ in store.inbox_read("calls", 0, 100_000)}
                outcomes = len(store.inbox_read("originate_results", 0, 100_000))
                if set(self._linkedids) <= calls and outcomes >= placed:
                    return
                time.sleep(0.2)
            raise RuntimeError("telephony demo: the calls did not reach the inbox in time")
        finally:
            store.close()


def _client_numbers(env: DemoEnv) -> tuple[str, str, str, str]:
    """Outside numbers of the first demo CRM clients (so the calls attach to them), or fixed ones."""
    if "crm" not in env.connections:
        return FALLBACK_NUMBERS
    engine = sa.create_engine(engine_url(parse_airflow_value("crm", env.connections["crm"])))
    plan = NumberPlan(env.settings.default_region, r"^\d{2,6}$")
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT phone FROM clients WHERE phone IS NOT NULL ORDER BY id LIMIT 20"))
            numbers = [n for (phone,) in rows if (n := plan.normalize(phone)) and n.startswith("+")]
    except sa.exc.SQLAlchemyError:
        return FALLBACK_NUMBERS
    finally:
        engine.dispose()
    found = list(dict.fromkeys(numbers))[:4]
    return (*found, *FALLBACK_NUMBERS)[:4]  # type: ignore[return-value]


def _click_to_call(env: DemoEnv) -> int:
    """Place the CRM's new call requests now, so the listener sees their outcomes during the demo."""
    hub = env.hub()
    try:
        if "click_to_call" not in hub.mappings or "crm" not in env.connections:
            return 0
        return hub.run("click_to_call", triggered_by="demo").counts.created
    finally:
        hub.close()


PART = TelephonyPart()

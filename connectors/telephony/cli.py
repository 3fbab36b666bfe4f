"""``hub listen ami``: the long-running AMI listener (registered through the ``hub.listen`` entry point)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated, Any

import typer

from hub.app import Hub
from hub.logs import configure


def listen_ami(
    connection: Annotated[str, typer.Option(help="connection id of the PBX (type hub_asterisk_ami)")] = "pbx",
    stream: Annotated[str, typer.Option(help="inbox stream for finished calls")] = "calls",
    originate_stream: Annotated[str, typer.Option(
        help="inbox stream for the outcomes of the hub's click-to-call Originates")] = "originate_results",
    json_logs: Annotated[bool, typer.Option("--json-logs", help="log JSON lines")] = False,
    metrics_port: Annotated[int | None, typer.Option(
        envvar="HUB_LISTENER_METRICS_PORT", help="serve Prometheus metrics at http://<host>:<port>/metrics "
                                                  "(off unless given)")] = None,
    metrics_host: Annotated[str, typer.Option(envvar="HUB_LISTENER_METRICS_HOST",
                                              help="address the metrics server binds")] = "127.0.0.1",
) -> None:
    """Listen to Asterisk: every finished call goes to the inbox durably; gaps are recovered from the CDR."""
    from connectors.telephony.config import pbx_config  # here: keeps `hub --help` fast
    from connectors.telephony.lease import LeasedListener
    from connectors.telephony.listener import AmiListener
    from connectors.telephony.recovery import cdr_source
    from hub.wakeup import waker_from_env

    configure(json=json_logs)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)  # a daemon thread: /metrics, nothing else
        typer.echo(f"metrics: http://{metrics_host}:{metrics_port}/metrics", err=True)
    hub = Hub()
    try:
        config = pbx_config(hub.resolver.get(connection), hub.settings)
        waker, cdr = waker_from_env(), cdr_source(config, hub.resolver)

        def make_listener(**lease: Any) -> AmiListener:
            return AmiListener(config, hub.store, stream=stream, originate_stream=originate_stream, waker=waker,
                               cdr_source=cdr, **lease)

        leased = LeasedListener(config, hub.store, make_listener)
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        typer.echo(f"listener {leased.holder} for {config.where}; calls -> inbox {stream!r}; listening while it "
                   f"holds the lease {leased.name!r}, standing by otherwise", err=True)
        leased.run(stop)
    finally:
        hub.close()

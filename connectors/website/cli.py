"""``hub serve intake``: the website form intake service (declared in the package's manifest)."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.app import Hub
from hub.logs import configure


def serve_intake(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on (0: any free port; the URL is printed)")] = 8080,
    exchange: Annotated[list[str] | None, typer.Option(
        help="serve only the form sources of this exchange (repeatable; default: every website exchange)")] = None,
    forwarded_allow_ips: Annotated[str | None, typer.Option(
        help="trust X-Forwarded-For from these proxy addresses (comma-separated) for client addresses")] = None,
    max_group: Annotated[int, typer.Option(
        min=1, help="submissions committed together at most (group commit); 1: a commit per request")] = 512,
    header_timeout: Annotated[float, typer.Option(
        min=0.1, help="seconds a sender has for its request line and headers (then 408)")] = 10.0,
    body_timeout: Annotated[float, typer.Option(min=0.1, help="seconds a sender has for its body (then 408)")] = 30.0,
    redis_url: Annotated[str | None, typer.Option(
        envvar="HUB_REDIS_URL", help="Redis for rate limits shared by every intake replica (default: per replica)",
        show_default=False)] = None,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="log JSON lines")] = False,
) -> None:
    """Receive website form submissions: commit each to the hub inbox, then acknowledge it."""
    from connectors.website.server import IntakeService  # here: keeps `hub --help` fast

    configure(json=json_logs)
    hub = Hub()
    try:
        service = IntakeService(hub, exchange, host=host, port=port, forwarded_allow_ips=forwarded_allow_ips,
                                max_group=max_group, header_timeout=header_timeout, body_timeout=body_timeout,
                                redis_url=redis_url)
        typer.echo(f"intake listening on {service.url} (docs: {service.url}/docs)", err=False)
        typer.echo(f"  rate limits: {'shared through Redis' if redis_url else 'per replica'}")
        for source in service.sources:
            typer.echo(f"  POST {service.url}{source.path}  {source.format.label}  -> inbox {source.stream!r}")
        service.run()
    finally:
        hub.close()

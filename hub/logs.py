"""Structured logs (structlog) for the long-running services, with secrets redacted on the way out.

Connectors and services log events with key-value context; any key that looks like a credential is
replaced by ``***`` whatever the caller passed, so a careless ``log.info(..., password=...)`` cannot leak.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_SECRET_KEY = re.compile(r"pass(word)?|secret|token|authorization|api[_-]?key|cookie|signature", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(?<=://)([^/@:\s]+):([^/@\s]+)@")


def redact(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if _SECRET_KEY.search(key):
            event[key] = "***"
        elif isinstance(value, str) and "://" in value:
            event[key] = _URL_CREDENTIALS.sub(r"\1:***@", value)
    return event


def configure(json: bool = False, level: str = "INFO") -> None:
    # Tracebacks are printed plain: rich's default formatter would print every frame's local variables,
    # which may hold a token or a password.
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            *([structlog.processors.format_exc_info] if json else []),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_to_current_stderr,
        cache_logger_on_first_use=False,
    )


def _to_current_stderr(*_args: Any) -> structlog.PrintLogger:
    # sys.stderr as it is when the line is written, not when the logs were configured: a test runner (pytest,
    # click's CliRunner) swaps it, and a stream it closed must not break every later log line
    return structlog.PrintLogger(sys.stderr)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)

"""An exception a connector was not meant to raise, as one line that says whose it is.

Connectors raise hub errors (:mod:`hub.errors`); anything else is a bug or an answer nobody foresaw. The
runner calls connectors inside :func:`blamed`, which turns such an exception into a
:class:`~hub.errors.ConnectorFailure` naming the connector, what it was doing and the record(s), e.g.
``connector 'prices' failed reading stream 'lists' after record 'A-17': ValueError: bad header``. The
traceback goes to the log at DEBUG (``hub --debug`` shows it) and stays on the failure as its ``__cause__``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from hub.errors import ConnectorFailure, HubError
from hub.logs import get_logger

log = get_logger("hub.runner")

#: how many record keys a message names before "and N more"
NAMED_RECORDS = 3


@contextmanager
def blamed(connector: str, doing: str, records: Sequence[str] = (), *, after: bool = False) -> Iterator[None]:
    """Run a connector call; a non-hub exception becomes a :class:`ConnectorFailure`. ``records``: the source
    keys the call was about (``after``: the call came after them, as a read does after its last record)."""
    try:
        yield
    except HubError:
        raise
    except Exception as exc:
        raise failure(connector, doing, records, exc, after=after) from exc


def failure(connector: str, doing: str, records: Sequence[str], exc: Exception, *,
            after: bool = False) -> ConnectorFailure:
    """The one-line failure for ``exc`` (raise it ``from exc``); logs the traceback at DEBUG. For a per-record
    hot path, where a ``with`` block per record would cost more than the call itself."""
    log.debug("connector failure", connector=connector, doing=doing, exc_info=exc)
    message = f"connector {connector!r} failed {doing}{_records(records, after)}: {_what(exc)}"
    return ConnectorFailure(message, connector=connector, records=tuple(records))


def _records(keys: Sequence[str], after: bool) -> str:
    if not keys:
        return " before the first record" if after else ""
    if after:
        return f" after record {keys[-1]!r}"
    named = ", ".join(repr(key) for key in keys[:NAMED_RECORDS])
    more = f" and {len(keys) - NAMED_RECORDS} more" if len(keys) > NAMED_RECORDS else ""
    return f" at record{'s' if len(keys) > 1 else ''} {named}{more}"


def _what(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= 300 else text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

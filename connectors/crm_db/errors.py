"""Turn SQLAlchemy/driver errors into :mod:`hub.errors` classes (the only errors the core understands)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from connectors.crm_db.dialects import DialectStrategy
from hub.errors import AuthError, BusinessError, ConfigError, DataError, HubError, RecordError, RetriableError


@contextmanager
def translated(strategy: DialectStrategy, where: str) -> Iterator[None]:
    """Re-raise database errors as hub errors; ``where`` is a safe description (``connection.describe()``)."""
    try:
        yield
    except HubError:
        raise
    except DBAPIError as exc:
        raise hub_error(strategy, exc, where) from exc
    except sa.exc.NoSuchTableError as exc:
        raise ConfigError(f"{where}: table {exc} does not exist") from None


def hub_error(strategy: DialectStrategy, exc: DBAPIError, where: str) -> HubError:
    kind = strategy.classify(exc)
    if kind == "auth":
        return AuthError(f"{where}: the database refused the credentials ({_first_line(exc)})")
    if kind == "config":
        return ConfigError(f"{where}: {_first_line(exc)}")
    if kind in ("integrity", "data"):
        # reached only outside a write's per-row handling: a query the configuration built is wrong
        return ConfigError(f"{where}: {strategy.row_error_message(exc)}")
    if kind == "retriable" or exc.connection_invalidated:
        return RetriableError(f"{where}: database unavailable or busy ({_first_line(exc)})")
    return RetriableError(f"{where}: database error ({type(exc.orig).__name__})") if _is_operational(exc) \
        else ConfigError(f"{where}: database error ({type(exc.orig).__name__}: {_first_line(exc)})")


def row_error(strategy: DialectStrategy, exc: DBAPIError, entity: str) -> RecordError | None:
    """The record-level error for a refused row, or None if the error is not about the row."""
    kind = strategy.classify(exc)
    if kind == "integrity":
        return BusinessError(f"{entity}: {strategy.row_error_message(exc)}")
    if kind == "data":
        return DataError(f"{entity}: {strategy.row_error_message(exc)}")
    return None


def _is_operational(exc: DBAPIError) -> bool:
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)


def _first_line(exc: DBAPIError) -> str:
    """The driver's own first line: names users, hosts, tables; never the password or bound values."""
    text = str(exc.orig).strip().splitlines()
    line = text[0] if text else type(exc.orig).__name__
    # psycopg prefixes connection failures with the whole server address; keep the server's reason
    if "FATAL:" in line:
        line = line.split("FATAL:", 1)[1].strip()
    return line[:300]

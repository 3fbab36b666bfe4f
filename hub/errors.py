"""The hub's exceptions, grouped by what the runner does about them.

    HubError
    ├── FatalError            stop the run with a clear one-line message
    │   ├── ConfigError       a mapping, a connection or a setting is wrong
    │   │   └── MappingError  ... with the file, line and field path that are wrong
    │   └── AuthError         the peer refused our credentials
    ├── RetriableError        transient (network, timeout, lock, 502/503/504): retried with backoff
    │   └── ExchangeBusy      another run of the exchange holds its run lock: try again later
    └── RecordError           one record cannot cross: it goes to dead letters, the batch goes on
        ├── DataError         the mapping cannot convert the record (bad phone, bad date, ...)
        ├── BusinessError     the target system refused the record (1C posting failed, ...)
        ├── DependencyMissing the record references an object not synced yet; replayed automatically
        └── OutcomeUnknown    a non-idempotent write may or may not have happened; an operator decides

Connectors raise these (and only these) so the core never has to know a protocol's error codes.
Messages never contain secrets: connectors build them from status codes and peer messages, not from
URLs with credentials or request headers.
"""

from __future__ import annotations

from typing import ClassVar


class HubError(Exception):
    """Base of every error the hub raises on purpose (the runner acts on the class, see the tree above)."""


class FatalError(HubError):
    pass


class ConfigError(FatalError):
    pass


class MappingError(ConfigError):
    """A mapping file is wrong. ``str()`` gives ``file:line: field.path: problem``."""

    def __init__(self, problem: str, *, file: str | None = None, line: int | None = None, path: str = ""):
        self.problem = problem
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<mapping>"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.problem}"


class AuthError(FatalError):
    pass


class RetriableError(HubError):
    pass


class ExchangeBusy(RetriableError):
    """Another run of the same exchange is in progress (it holds the exchange's run lock)."""


class RecordError(HubError):
    #: replayed automatically at the start of the next run (the cause is expected to go away by itself)
    auto_replay: ClassVar[bool] = False


class DataError(RecordError):
    pass


class BusinessError(RecordError):
    pass


class DependencyMissing(RecordError):
    auto_replay = True


class OutcomeUnknown(RecordError):
    pass


def auto_replay_classes() -> frozenset[str]:
    """Names of the record errors replayed automatically (dead letters store an error by its class name)."""
    names: set[str] = set()
    classes: list[type[RecordError]] = [RecordError]
    while classes:
        cls = classes.pop()
        if cls.auto_replay:
            names.add(cls.__name__)
        classes.extend(cls.__subclasses__())
    return frozenset(names)

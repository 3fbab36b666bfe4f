"""The hub's exceptions, grouped by what the runner does about them.

    HubError
    ├── FatalError            stop the run with a clear one-line message
    │   ├── ConfigError       a mapping, a connection or a setting is wrong
    │   │   └── MappingError  ... with the file, line and field path that are wrong
    │   ├── AuthError         the peer refused our credentials
    │   ├── TooManyRejected   a run rejected more records than its mapping's alerts allow (its writes stay)
    │   └── ConnectorFailure  a connector raised something else (a bug): one line naming it and the record
    ├── RetriableError        transient (network, timeout, lock, 502/503/504): retried with backoff
    │   ├── ConcurrentEdit    the target object changed since it was read: the write is re-planned
    │   └── ExchangeBusy      another run of the exchange holds its run lock: try again later
    └── RecordError           one record cannot cross: it goes to dead letters, the batch goes on
        ├── DataError         the mapping cannot convert the record (bad phone, bad date, ...)
        ├── BusinessError     the target system refused the record (1C posting failed, ...)
        ├── DependencyMissing the record references an object not synced yet; replayed automatically
        ├── OutcomeUnknown    a non-idempotent write may or may not have happened; an operator decides
        └── NeedsPerson       the hub may not decide (e.g. a deletion it is not allowed to make): a person does

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
    """The message is the whole line for a person; ``loc`` (the path inside the options or settings that is
    wrong, empty when unknown) and ``problem`` (the message without its place) let ``hub validate`` point at the
    file line of that place instead."""

    def __init__(self, message: str, *, loc: tuple[str | int, ...] = (), problem: str | None = None):
        super().__init__(message)
        self.loc = loc
        self.problem = message if problem is None else problem


class MappingError(ConfigError):
    """A mapping file is wrong. ``str()`` gives ``file:line: field.path: problem``."""

    def __init__(self, problem: str, *, file: str | None = None, line: int | None = None, path: str = ""):
        self.problem = problem
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self.render(), problem=problem)

    def render(self) -> str:
        where = self.file or "<mapping>"
        if self.line is not None:
            where += f":{self.line}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.problem}"


class AuthError(FatalError):
    pass


class TooManyRejected(FatalError):
    """Raised after a run committed everything it could: the run is marked failed so that alerts fire; retrying
    would only reject the same records again."""


class ConnectorFailure(FatalError):
    """A connector raised something that is not a hub error (a bug, an answer nobody foresaw). The message is
    one line naming the connector, what it was doing and the record(s); the original exception, with its
    traceback, is the ``__cause__`` (``hub --debug`` and the DEBUG log show it)."""

    def __init__(self, message: str, *, connector: str = "", records: tuple[str, ...] = ()):
        super().__init__(message)
        self.connector = connector
        self.records = records


class RetriableError(HubError):
    pass


class ConcurrentEdit(RetriableError):
    """Someone saved the target object between the hub's read and its write: the runner's retry re-plans the
    record against what the object holds now, so that person's change is not overwritten with a stale plan."""


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


class NeedsPerson(RecordError):
    """Nothing was written: whether to do it is for a person to decide (the message says what and why)."""


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

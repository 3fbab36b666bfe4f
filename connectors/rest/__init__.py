"""A JSON-over-HTTP API as a source and a target, declared in the mapping (no code): base URL and auth,
paging, the path to the records, an incremental cursor parameter, rate limits and retries; as a target,
create and update by method and path templates after a ``match`` lookup. See docs/migration.md.

Secrets come from the connection (password: the token, API key or OAuth2 client secret; login: the basic
user or OAuth2 client id), never from the mapping.
"""

import importlib
from typing import Any

# imported on first use: loading the package (its manifest, at every start) must not import its readers
_EXPORTS = {"RestConnector": "connectors.rest.connector"}

__all__ = ["RestConnector"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

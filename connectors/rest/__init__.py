"""A JSON-over-HTTP API as a source and a target, declared in the mapping (no code): base URL and auth,
paging, the path to the records, an incremental cursor parameter, rate limits and retries; as a target,
create and update by method and path templates after a ``match`` lookup. See docs/migration.md.

Secrets come from the connection (password: the token, API key or OAuth2 client secret; login: the basic
user or OAuth2 client id), never from the mapping.
"""

from hub.manifest import lazy_exports

# imported on first use: loading the package (its manifest, at every start) must not import its readers
_EXPORTS = {"RestConnector": "connectors.rest.connector"}

__all__ = ["RestConnector"]

__getattr__ = lazy_exports(__name__, _EXPORTS)

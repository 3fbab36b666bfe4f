"""A JSON-over-HTTP API as a source and a target, declared in the mapping (no code): base URL and auth,
paging, the path to the records, an incremental cursor parameter, rate limits and retries; as a target,
create and update by method and path templates after a ``match`` lookup. See docs/migration.md.

Secrets come from the connection (password: the token, API key or OAuth2 client secret; login: the basic
user or OAuth2 client id), never from the mapping.
"""

from __future__ import annotations

from connectors.rest.connector import RestConnector

# the one place this package registers its connector (a manifest replaces it once connectors declare one)
CONNECTOR = RestConnector

__all__ = ["CONNECTOR", "RestConnector"]

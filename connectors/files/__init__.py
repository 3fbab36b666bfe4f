"""Files as a source: CSV, XLSX, JSON and JSON Lines from a folder, read without code.

The connection names the folder (``extra.path``); the mapping's ``stream`` is a glob inside it
(``clients/*.xlsx``, ``prices.csv``). Each record is one row (one JSON object) with ``_file`` (the path
inside the folder), ``_row`` (its line or row number) and ``_modified`` (the file's time) added. A row or
a file that cannot be read goes to dead letters naming the file and the row; the rest is read. See
docs/migration.md.
"""

from hub.manifest import lazy_exports

# imported on first use: loading the package (its manifest, at every start) must not import its readers
_EXPORTS = {"FilesConnector": "connectors.files.connector"}

__all__ = ["FilesConnector"]

__getattr__ = lazy_exports(__name__, _EXPORTS)

"""Files as a source: CSV, XLSX, JSON and JSON Lines from a folder, read without code.

The connection names the folder (``extra.path``); the mapping's ``stream`` is a glob inside it
(``clients/*.xlsx``, ``prices.csv``). Each record is one row (one JSON object) with ``_file`` (the path
inside the folder), ``_row`` (its line or row number) and ``_modified`` (the file's time) added. A row or
a file that cannot be read goes to dead letters naming the file and the row; the rest is read. See
docs/migration.md.
"""

from __future__ import annotations

from connectors.files.connector import FilesConnector

# the one place this package registers its connector (a manifest replaces it once connectors declare one)
CONNECTOR = FilesConnector

__all__ = ["CONNECTOR", "FilesConnector"]

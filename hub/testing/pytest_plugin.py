"""The hub's pytest plugin (entry point ``pytest11``): the connector kit's failed checks show what the connector
gave against what was expected, as a diff. pytest rewrites the asserts only of modules registered before they
are imported, so this runs when pytest starts, before any test or conftest imports the kit."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("hub.testing.connector_kit")

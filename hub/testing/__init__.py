"""Test helpers shipped with the hub so connector packages can reuse them."""

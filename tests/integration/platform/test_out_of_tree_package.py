"""A connector in a pip package of its own, installed the real way: built by its build backend and installed with
its ``.dist-info`` (entry points included) into a folder the hub's processes import from, as a package listed in
config/extra-requirements.txt or the image's EXTRA_PACKAGES is. Then, in fresh processes: ``hub validate``,
``plan`` and ``run`` a mapping from it into the CRM, its DAG from the DAG folder's factory, and its connection
type with a hook in the provider info Airflow reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox.crm import create_schema

pytestmark = pytest.mark.airflow  # the DAG and the hook import Airflow
ROOT = Path(__file__).resolve().parents[3]
UV = ROOT / ".uv-bootstrap" / "bin" / "uv"
HUB = Path(sys.executable).parent / "hub"

PACKAGE = {
    "pyproject.toml": """\
[project]
name = "hub-connector-pricelist"
version = "1.0.0"
requires-python = ">=3.11"
dependencies = ["integration-hub"]

[project.entry-points."hub.connectors"]
pricelist = "pricelist_connector:MANIFEST"

[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["pricelist_connector"]
""",
    "pricelist_connector/__init__.py": '''\
"""A supplier's price list: a JSON file of items per stream, in the connection's folder."""

import json
from decimal import Decimal
from pathlib import Path

from hub.connector import Capabilities, Connector, EntityInfo, FieldInfo, SourceBatch
from hub.manifest import ConnectionType, FormField, Manifest


class PriceListSource(Connector):
    name = "pricelist"
    capabilities = Capabilities(incremental=frozenset({"hash"}))

    def _path(self, stream):
        return Path(self.connection.extra["path"]) / f"{stream}.json"

    def check(self):
        return f"{self.connection.describe()}: {self.connection.extra['path']}"

    def describe(self, entity):
        if not self._path(entity).exists():
            return None
        kinds = {"sku": "string", "title": "string", "price": "decimal"}
        return EntityInfo(entity, {n: FieldInfo(n, kind) for n, kind in kinds.items()}, ("sku",))

    def read(self, request):
        items = json.loads(self._path(request.stream).read_text(encoding="utf-8"), parse_float=Decimal)
        start = int(request.checkpoint or 0)
        for offset in range(start, len(items), request.batch_size):
            end = min(offset + request.batch_size, len(items))
            yield SourceBatch(items[offset:end], None if end == len(items) else end)
        if start >= len(items):
            yield SourceBatch([], None)


MANIFEST = Manifest(
    name="pricelist",
    connectors={"pricelist": PriceListSource},
    connection_types=(ConnectionType(
        conn_type="hub_pricelist", connector="pricelist", system="supplier", label="Hub: supplier price list",
        default_conn_id="pricelist", example='{"conn_type": "hub_pricelist", "extra": {"path": "/data"}}',
        extra_fields={"path": FormField("Folder")}, hidden=("host", "port", "login", "password", "schema")),),
)
''',
}

MAPPING = """\
exchange: pricelist_to_crm
description: the supplier's prices into the CRM's products
schedule: "@daily"
source: {connector: pricelist, connection: pricelist, stream: items, key: sku}
target: {connector: crm_db, connection: crm, entity: products, match: [sku], mode: upsert}
fields:
  sku: sku
  name: title
  price: price
"""

AIRFLOW_SIDE = """\
import json, sys
from pathlib import Path
from airflow_hub.factory import exchange_dags
from airflow_hub.hooks import HubPricelistHook
from airflow_hub.provider import get_provider_info

[offered] = [t for t in get_provider_info()["connection-types"] if t["connection-type"] == "hub_pricelist"]
dags = exchange_dags(Path(sys.argv[1]))
[dag] = [d for d in dags.values() if d.dag_id == "pricelist_to_crm"]
print(json.dumps({"hook": offered["hook-class-name"], "fields": sorted(offered["conn-fields"]),
                  "test": HubPricelistHook("pricelist").test_connection(), "tags": sorted(dag.tags)}))
"""


def test_an_installed_out_of_tree_package_validates_plans_runs_and_is_offered_to_airflow(tmp_path: Path) -> None:
    source = tmp_path / "hub-connector-pricelist"
    for name, text in PACKAGE.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    site = tmp_path / "site-packages"
    subprocess.run([str(UV), "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(source)],
                   check=True, timeout=600)
    assert (site / "hub_connector_pricelist-1.0.0.dist-info" / "entry_points.txt").exists()

    prices = tmp_path / "prices"
    prices.mkdir()
    (prices / "items.json").write_text("""[
        {"sku": "PL-1", "title": "Кабель ВВГ 3x2.5, м", "price": 95.40},
        {"sku": "PL-2", "title": "Автомат 16А", "price": 310.00},
        {"sku": "PL-3", "title": "Розетка", "price": 120.00}]""", encoding="utf-8")
    crm = f"sqlite:///{tmp_path / 'crm.db'}"
    create_schema(crm)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "pricelist_to_crm.yaml").write_text(MAPPING, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(site), "HUB_MAPPINGS_DIR": str(mappings),
           "HUB_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
           "AIRFLOW_CONN_PRICELIST": json.dumps({"conn_type": "hub_pricelist", "extra": {"path": str(prices)}}),
           "AIRFLOW_CONN_CRM": json.dumps({"conn_type": "hub_crm_db", "extra": {"url": crm}})}

    def hub(*args: str) -> str:
        done = subprocess.run([str(HUB), *args], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "1 mapping file(s) valid" in hub("validate")
    assert "+ create PL-1" in hub("plan", "pricelist_to_crm")
    assert json.loads(hub("run", "pricelist_to_crm", "--json"))["created"] == 3
    assert json.loads(hub("run", "pricelist_to_crm", "--json"))["unchanged"] == 3
    engine = sa.create_engine(crm)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT sku, name, price FROM products ORDER BY sku")).all()
    engine.dispose()
    assert [(sku, name, Decimal(str(price))) for sku, name, price in rows] == [
        ("PL-1", "Кабель ВВГ 3x2.5, м", Decimal("95.4")), ("PL-2", "Автомат 16А", Decimal("310")),
        ("PL-3", "Розетка", Decimal("120"))]

    airflow = subprocess.run([sys.executable, "-c", AIRFLOW_SIDE, str(mappings)], env=env, capture_output=True,
                             text=True, timeout=600)
    assert airflow.returncode == 0, airflow.stderr[-3000:]
    seen = json.loads(airflow.stdout.strip().splitlines()[-1])
    assert seen["hook"] == "airflow_hub.hooks.HubPricelistHook"
    assert seen["fields"] == ["path"]
    assert seen["test"][0] is True, seen["test"]
    assert "supplier -> crm" in seen["tags"]

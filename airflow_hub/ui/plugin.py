"""The hub's operator pages as an Airflow 3 plugin: a FastAPI app under ``/hub`` and *Dead letters*, *Search* and
*Hub runs* entries in the UI's navigation that show their pages inside Airflow (external views with a
``url_route``: iframes at ``/plugin/hub-dead-letters``, ``/plugin/hub-search`` and ``/plugin/hub-runs``). The
provider (:mod:`airflow_hub.provider`) registers it like the run notes."""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_hub.ui.dead_letters import create_app

URL_PREFIX = "/hub"
PAGE_ROUTE = "hub-dead-letters"  # the page's address in the Airflow UI: /plugin/hub-dead-letters
SEARCH_ROUTE = "hub-search"  # /plugin/hub-search
RUNS_ROUTE = "hub-runs"  # /plugin/hub-runs


class HubOperationsPlugin(AirflowPlugin):
    name = "hub_operations"
    fastapi_apps: list[dict[str, Any]] = [  # noqa: RUF012 - Airflow's plugin interface
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Integration hub"},
    ]
    external_views: list[dict[str, Any]] = [  # noqa: RUF012
        {"name": "Dead letters", "href": f"{URL_PREFIX.lstrip('/')}/dead-letters/", "url_route": PAGE_ROUTE,
         "destination": "nav", "nav_top_level": True},
        {"name": "Search", "href": f"{URL_PREFIX.lstrip('/')}/search/", "url_route": SEARCH_ROUTE,
         "destination": "nav", "nav_top_level": True},
        {"name": "Hub runs", "href": f"{URL_PREFIX.lstrip('/')}/runs/", "url_route": RUNS_ROUTE,
         "destination": "nav", "nav_top_level": True},
    ]

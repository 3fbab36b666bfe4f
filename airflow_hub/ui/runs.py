"""The hub's runs list: the runs of the exchanges as the hub logged them (``hub runs``), newest first, with a run
that rejected records marked PARTIAL at a glance and a link to the Airflow run that did it.

Airflow 3's own runs list shows such a run green, with the same *Note* button as every other run (the mark is in
the note, one click away); this page is where an operator scans for them. ``GET /hub/runs/?exchange=<dag id>``
renders on the server, every value escaped; a user sees only the exchanges whose DAGs they may read.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from airflow_hub.ui.access import UserDep, readable_exchanges
from airflow_hub.ui.run_links import SCRIPT, run_link
from hub.runner.report import PARTIAL, shown_status
from hub.search.trace import airflow_run_id

MAX_ROWS = 500
COUNTS = ("read", "created", "updated", "deleted", "unchanged", "rejected", "dead_letters_added")

router = APIRouter(prefix="/runs")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(user: UserDep, exchange: Annotated[str, Query(max_length=200)] = "",
         limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 100) -> HTMLResponse:
    from airflow_hub.ui.dead_letters import hub  # one hub per API server process, shared with the other pages

    readable = readable_exchanges(user)
    runs = [r for r in hub().store.runs(exchange or None, limit) if r.exchange in readable]
    form = (f'<form method="get"><input name="exchange" value="{escape(exchange)}" placeholder="exchange (DAG id)" '
            f'aria-label="exchange"> <button type="submit">Show</button></form>')
    rows = "".join(render_run(run) for run in runs) or '<tr><td colspan="6" class="empty">No runs.</td></tr>'
    return HTMLResponse(PAGE.format(form=form, rows=rows, script=SCRIPT), headers={"Cache-Control": "no-store"})


def render_run(run: Any) -> str:
    status = shown_status(run.status, run.rejected, run.read)
    marked = status.startswith(PARTIAL) or run.status == "failed"
    counts = ", ".join(f"{name.replace('_', ' ')} {getattr(run, name)}" for name in COUNTS)
    airflow_run = airflow_run_id(run.triggered_by)
    link = run_link(run.exchange, airflow_run) if airflow_run else escape(run.triggered_by or "")
    by_exchange = escape(urlencode({"exchange": run.exchange}))
    return (f'<tr class="{"marked" if marked else ""}"><td>{run.id}</td>'
            f'<td><a href="?{by_exchange}">{escape(run.exchange)}</a> {escape(run.mode)}</td>'
            f'<td>{run.started_at:%Y-%m-%d %H:%M:%S}</td><td class="status">{escape(status)}</td>'
            f'<td>{escape(counts)}{" - " + escape(run.message) if run.message else ""}</td><td>{link}</td></tr>')


PAGE = """<!doctype html>
<!-- The runs page of the integration hub, shown inside the Airflow UI (Hub runs in the navigation). -->
<html lang="en">
<head>
<meta charset="utf-8">
<title>Hub runs</title>
<style>
  body {{ font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #1a202c; }}
  h1 {{ font-size: 20px; margin: 0 0 12px; }}
  input, button {{ font: inherit; padding: 4px 6px; }}
  table {{ border-collapse: collapse; width: 100%; margin-top: 12px; }}
  th, td {{ border-bottom: 1px solid #e2e8f0; padding: 4px 8px; text-align: left; vertical-align: top; }}
  th {{ background: #f7fafc; font-weight: 600; }}
  tr.marked td.status {{ color: #c53030; font-weight: 600; }}
  .empty {{ color: #718096; }}
</style>
</head>
<body>
<h1>Hub runs</h1>
<p>Every run of the exchanges, newest first. A run that rejected records is <b>PARTIAL</b> here (Airflow shows it
  green); its records are on the <i>Dead letters</i> page.</p>
{form}
<table id="runs"><thead><tr><th>hub run</th><th>exchange</th><th>started (UTC)</th><th>status</th><th>counts</th>
<th>Airflow run</th></tr></thead><tbody>{rows}</tbody></table>
{script}
</body>
</html>
"""

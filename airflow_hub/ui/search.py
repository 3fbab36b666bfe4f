"""The search page: any value an operator has (a phone as typed, an e-mail, an ИНН, a 1C document number, a
tranid, a call id, a submission id, a hub key) and the chain it belongs to, from :meth:`hub.app.Hub.find`.

``GET /hub/search/?q=<value>&entity=<entity>`` renders the answer on the server: the steps grouped by the kind of
object each wrote, each with its exchange, record, and a link to the Airflow run that did it; an ambiguous value
lists its candidates as links that narrow by entity. Every value is user data (form fields, phone numbers), so
all of it goes through :func:`html.escape`. Reading needs an Airflow login (:mod:`airflow_hub.ui.access`), and a
user sees only the exchanges whose DAGs they may read (a Viewer may search).
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from airflow_hub.ui.access import UserDep, readable_exchanges
from airflow_hub.ui.run_links import SCRIPT, run_link

MAX_QUERY = 200  # a value an operator types; longer is not a phone, e-mail or id

router = APIRouter(prefix="/search")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(user: UserDep, q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
         entity: Annotated[str, Query(max_length=MAX_QUERY)] = "") -> HTMLResponse:
    body = ""
    if q.strip():
        from airflow_hub.ui.dead_letters import hub  # one hub per API server process, shared with that page

        trace = visible(hub().find(q, entity or None).as_dict(), readable_exchanges(user))
        body = render_trace(trace, entity)
    return HTMLResponse(PAGE.format(form=render_form(q, entity), body=body, script=SCRIPT),
                        headers={"Cache-Control": "no-store"})


def visible(trace: dict[str, Any], readable: set[str]) -> dict[str, Any]:
    """The trace without what the user may not read: steps of other exchanges, candidates only found there."""
    candidates = [c for c in trace["candidates"] if set(c["exchanges"]) & readable]
    steps = [s for s in trace["steps"] if s["exchange"] in readable]
    return trace | {"candidates": candidates, "steps": steps}


def render_form(q: str, entity: str) -> str:
    narrowed = (f' <span class="narrowed">as {escape(entity)} · <a href="?{escape(urlencode({"q": q}))}">any</a>'
                f'<input type="hidden" name="entity" value="{escape(entity)}"></span>') if entity else ""
    return (f'<form method="get" class="search"><input name="q" value="{escape(q)}" size="40" autofocus '
            f'placeholder="phone, e-mail, ИНН, 1C document number, tranid, call id, submission id, key" '
            f'aria-label="value to find"> <button type="submit">Search</button>{narrowed}</form>')


def render_trace(trace: dict[str, Any], entity: str) -> str:
    query = trace["query"]
    if not trace["candidates"]:
        where = f" as {entity}" if entity else ""
        return f'<p class="empty">Nothing recorded for “{escape(query)}”{escape(where)}.</p>'
    if trace["chosen"] is None:
        return render_candidates(query, trace["candidates"])
    chosen = trace["chosen"]
    head = (f'<p class="found"><b>{escape(" = ".join(chosen["labels"]))}</b>: '
            f'{len(trace["steps"])} record(s)' + (" (cut: the chain goes on)" if trace["truncated"] else "") + "</p>")
    groups: dict[str, list[dict[str, Any]]] = {}
    for step in trace["steps"]:
        groups.setdefault(step["target"], []).append(step)
    return head + "".join(render_group(target, steps) for target, steps in groups.items())


def render_candidates(query: str, candidates: list[dict[str, Any]]) -> str:
    items = "".join(
        f'<li><a class="candidate" href="?{escape(urlencode({"q": query, "entity": c["entities"][0]}))}">'
        f'{escape(" = ".join(c["labels"]))}</a> · {c["records"]} record(s) in {escape(", ".join(c["exchanges"]))}</li>'
        for c in candidates)
    return (f'<p class="ambiguous">“{escape(query)}” names {len(candidates)} different things; pick one:</p>'
            f'<ul class="candidates">{items}</ul>')


def render_group(target: str, steps: list[dict[str, Any]]) -> str:
    rows = "".join(render_step(step) for step in steps)
    return (f'<h2>{escape(target)}</h2><table><thead><tr><th>exchange</th><th>record</th><th>what happened</th>'
            f'<th>run</th></tr></thead><tbody>{rows}</tbody></table>')


def render_step(step: dict[str, Any]) -> str:
    record = f'{escape(step["source"])}:{escape(step["source_key"])} → {escape(step["target_key"] or "?")}'
    events = [(f'{w["at"][:19].replace("T", " ")} {w["action"]}' + (f' [{w["fields"]}]' if w["fields"] else ""),
               w["run"]) for w in step["writes"]]
    events += [(f'dead letter #{x["id"]} {x["status"]}, {x["attempts"]} attempt(s), {x["error_class"]}: '
                f'{x["message"]}', x["run"]) for x in step["dead_letters"]]
    if not events and step["indexed_by"]:
        events.append(("seen, nothing written", step["indexed_by"]))
    if not events:
        events.append(("", None))
    return "".join(
        f'<tr class="step"><td>{escape(step["exchange"]) if i == 0 else ""}</td><td>{record if i == 0 else ""}</td>'
        f'<td>{escape(text)}</td><td>{render_run(run)}</td></tr>' for i, (text, run) in enumerate(events))


def render_run(run: dict[str, Any] | None) -> str:
    if run is None:
        return "run ?"
    text = escape(f'run {run["run_id"]}' + (f' · {run["status"]}' if run["status"] else ""))
    if not run["airflow_run_id"]:
        return text + " (not started by Airflow)"
    return f'{run_link(run["dag_id"], run["airflow_run_id"])} <small>{text}</small>'


PAGE = """<!doctype html>
<!-- The search page of the integration hub, shown inside the Airflow UI (Search in the navigation). Rendered on
     the server; every value in it is escaped (they come from web forms, phones, 1C). -->
<html lang="en">
<head>
<meta charset="utf-8">
<title>Search</title>
<style>
  body {{ font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #1a202c; }}
  h1 {{ font-size: 20px; margin: 0 0 12px; }}
  h2 {{ font-size: 16px; margin: 16px 0 8px; }}
  input, button {{ font: inherit; padding: 4px 6px; }}
  table {{ border-collapse: collapse; width: 100%; }}
  th, td {{ border-bottom: 1px solid #e2e8f0; padding: 4px 8px; text-align: left; vertical-align: top; }}
  th {{ background: #f7fafc; font-weight: 600; }}
  small {{ color: #4a5568; }}
  .empty {{ color: #718096; padding: 12px 0; }}
  .narrowed {{ margin-left: 8px; color: #4a5568; }}
</style>
</head>
<body>
<h1>Search</h1>
<p>What happened to a lead, a payment, a call: type what you have (a phone as written anywhere, an e-mail, an ИНН,
  a 1C document number, a tranid, a call id, a submission id, or a key) and follow its chain across exchanges.</p>
{form}
<div id="answer">{body}</div>
{script}
</body>
</html>
"""

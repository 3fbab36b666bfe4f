"""Links from the hub's pages to Airflow runs. The pages live at ``/hub/<page>/`` under the UI's base and are
shown in a sandboxed iframe, so a link is relative to that base, and :data:`SCRIPT` opens it in the Airflow UI
itself (same origin, its router follows popstate); where the parent cannot be reached, the link opens inside
the frame."""

from __future__ import annotations

from html import escape

from airflow_hub.replay import run_url


def run_link(dag_id: str, airflow_run_id: str) -> str:
    """``<a class="run">`` to the Airflow run, from a page at ``/hub/<page>/``."""
    return f'<a class="run" href="../../{escape(run_url(dag_id, airflow_run_id))}">{escape(airflow_run_id)}</a>'


SCRIPT = """<script>
document.querySelectorAll("a.run").forEach((link) => link.addEventListener("click", (event) => {
  try {
    parent.history.pushState(null, "", new URL(link.href).pathname);
    parent.dispatchEvent(new PopStateEvent("popstate"));
    event.preventDefault();
  } catch (error) { /* the link's own navigation */ }
}));
</script>"""

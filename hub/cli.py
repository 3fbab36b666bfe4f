"""The ``hub`` command line: validate, plan, run, and look into what happened."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast, get_args

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import DBAPIError

from hub.app import Hub, first_line
from hub.errors import ConfigError, HubError
from hub.logs import configure as configure_logs
from hub.manifest import resolve
from hub.runner import RunReport
from hub.runner.report import shown_status
from hub.settings import HubSettings
from hub.state.models import LetterStatus

app = typer.Typer(help="Integration hub: moves only the agreed data between CRM, 1C, Asterisk and website forms.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
dead_letters_app = typer.Typer(help="Records that could not cross: list, show, replay, discard.", no_args_is_help=True)
db_app = typer.Typer(help="The hub's own database.", no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")
app.add_typer(db_app, name="db")
new_app = typer.Typer(help="Make a new package from a template.", no_args_is_help=True)
app.add_typer(new_app, name="new")


def _width() -> int | None:
    """A terminal's own width; 160 columns when piped (rich would squeeze the tables into 80)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return None if sys.stdout.isatty() else 160


# emoji off: data is printed as written (a key "tilda:id:6130587" would become "tilda🆔6130587"); markup is
# only ever ours: data goes in as Text, through escape(), or with markup=False
out = Console(width=_width(), emoji=False)
err = Console(stderr=True, emoji=False)
F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


def handled(fn: F) -> F:
    """Hub errors become one red line and an exit code: 2 for configuration, 1 for anything else.

    Text from errors and from the hub database is printed as it is (``escape``, ``markup=False``): rich
    would take ``[name]`` in it for markup and drop it. A database error that escaped the hub's own handling
    is one line too: the driver's message, never the SQL or its parameters (data).
    """

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except HubError as exc:
            err.print(f"[red]failed:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
        except DBAPIError as exc:
            err.print(f"[red]failed:[/red] database error: {escape(first_line(exc))}", highlight=False,
                      soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _logging(debug: Annotated[bool, typer.Option(
        "--debug", help="log at DEBUG: a connector's unexpected failure shows its traceback")] = False) -> None:
    # logs go to stderr (stdout is the command's output: tables, --json, which a retry's warning line must never
    # corrupt), at HUB_LOG_LEVEL (INFO); without this structlog would print every level to stdout
    configure_logs(level="DEBUG" if debug else os.environ.get("HUB_LOG_LEVEL", "INFO").upper())


# -- validate ------------------------------------------------------------------------------------------

@app.command()
@handled
def validate(
    files: Annotated[list[Path] | None, typer.Argument(help="mapping files (default: every file in mappings/)")] = None,
    offline: Annotated[bool, typer.Option(help="skip the checks that connect to the systems")] = False,
) -> None:
    """Check mapping files: YAML, model, expressions, and (online) that every stream, entity and field exists."""
    with Hub() as hub:
        paths = files or sorted(hub.settings.mappings_dir.glob("*.y*ml"))
        if not paths:
            raise ConfigError(f"no mapping files in {hub.settings.mappings_dir}")
        findings = hub.validate(paths, online=not offline)
    errors = [f for f in findings if not f.warning]
    for finding in findings:
        label = "[yellow]warning[/yellow]" if finding.warning else "[red]error[/red]"
        err.print(f"{label} {escape(str(finding.error))}", highlight=False, soft_wrap=True)
    if errors:
        err.print(f"{len(errors)} problem(s) in {len({f.error.file for f in errors})} file(s)")
        raise typer.Exit(1)
    out.print(f"[green]ok[/green] {len(paths)} mapping file(s) valid" + (" (offline)" if offline else ""))


# -- plan / run ----------------------------------------------------------------------------------------

@app.command()
@handled
def plan(exchange: str,
         as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Show what a run would change, without writing anything."""
    report = _with_progress(lambda hub, progress: hub.runner(exchange, progress).plan("cli"), quiet=as_json)
    _print_report(report, as_json)


@app.command()
@handled
def run(
    exchange: str,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    allow_mass_delete: Annotated[bool, typer.Option(help="allow deleting over half of the known objects")] = False,
    wait: Annotated[float | None, typer.Option(
        min=0, help="if another run of the exchange is in progress, wait up to SECONDS for it to end "
                    "(default: HUB_RUN_LOCK_WAIT, else fail at once naming it)")] = None,
) -> None:
    """Apply an exchange: write what changed, checkpoint after every batch. One run of an exchange at a time."""
    report = _with_progress(
        lambda hub, progress: hub.runner(exchange, progress).apply("cli", allow_mass_delete=allow_mass_delete),
        quiet=as_json, settings=None if wait is None else HubSettings.from_env(run_lock_wait=wait))
    _print_report(report, as_json)


def _with_progress(action: Callable[[Hub, Callable[[RunReport], None] | None], RunReport], quiet: bool,
                   settings: HubSettings | None = None) -> RunReport:
    with Hub(settings) as hub:
        if quiet or not sys.stderr.isatty():
            return action(hub, None)
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                      transient=True) as bar:
            task = bar.add_task("starting")

            def progress(report: RunReport) -> None:
                c = report.counts
                bar.update(task, description=f"{report.exchange}: read {c.read}, created {c.created}, "
                                             f"updated {c.updated}, unchanged {c.unchanged}, rejected {c.rejected}")

            return action(hub, progress)


def _print_report(report: RunReport, as_json: bool) -> None:
    if as_json:  # plain text for a program: no syntax highlighter to load (rich's print_json takes 0.2 s for it)
        typer.echo(json.dumps(report.summary(), indent=2, ensure_ascii=False))
        return
    shown = ("created", "updated", "deleted", "out_of_scope", "rejected") if report.mode == "plan" else ("rejected",)
    for outcome, symbol, colour, verb in (("created", "+", "green", "create"), ("updated", "~", "yellow", "update"),
                                          ("deleted", "-", "red", "delete"), ("out_of_scope", "=", "blue", "keep"),
                                          ("rejected", "!", "red", "reject")):
        for sample in report.samples.get(outcome, []) if outcome in shown else ():
            line = f"[{colour}]{symbol}[/{colour}] {verb} " \
                   f"{escape(sample.source_key)}" + (f" -> {escape(sample.target_key)}" if sample.target_key else "")
            if sample.reason:
                line += f": {escape(sample.reason)}"
            out.print(line, highlight=False, markup=True)
            for change in sample.changes:
                out.print(f"    {change.field}: {_short(change.old)} -> {_short(change.new)}", highlight=False,
                          markup=False)
    for warning in report.warnings:
        out.print(f"? warning {warning.source_key}: field {warning.field}: {warning.problem}", highlight=False,
                  markup=False)
    out.print(report.one_line(), highlight=False, markup=False, soft_wrap=True)  # one line, to copy as it is
    if report.counts.dead_letters_added:
        out.print(f"see: hub dead-letters list --exchange {report.exchange}", highlight=False)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- history -------------------------------------------------------------------------------------------

@app.command()
@handled
def runs(exchange: Annotated[str | None, typer.Argument()] = None, limit: int = 20) -> None:
    """The run log: what each run read and wrote."""
    with Hub() as hub:
        recorded = hub.store.runs(exchange, limit)
        unknown = hub.store.unknown_effects(exchange)
    table = Table("id", "exchange", "mode", "status", "started (UTC)", "sec", "read", "created", "updated",
                  "deleted", "unchanged", "filtered", "rejected", "DL+", "out of scope", "warnings", "message")
    for r in recorded:
        seconds = f"{(r.finished_at - r.started_at).total_seconds():.1f}" if r.finished_at else "-"
        status = shown_status(r.status, r.rejected, r.read)
        table.add_row(str(r.id), r.exchange, r.mode, Text(status, style="bold red" if status != r.status else ""),
                      r.started_at.strftime("%Y-%m-%d %H:%M:%S"), seconds,
                      *(str(getattr(r, c)) for c in ("read", "created", "updated", "deleted", "unchanged", "filtered",
                                                     "rejected", "dead_letters_added", "out_of_scope", "warnings")),
                      Text(r.message or ""))
    out.print(table)
    # writes a killed run left behind that no lookup could settle yet (the next apply of the exchange tries)
    for name in sorted({r.exchange for r in recorded} | set(unknown)):
        out.print(f"{name}: {unknown.get(name, 0)} write(s) with unknown outcome in the effect ledger",
                  highlight=False, markup=False)


@app.command()
@handled
def trace(
    value: Annotated[str, typer.Argument(help="what you have: a phone as typed, an e-mail, an ИНН, a 1C document "
                                              "number, a tranid, a call id, or a key the hub shows")],
    entity: Annotated[str | None, typer.Option(
        help="pick one of several things the value names: a kind (phone, inn, ...), an entity (clients, "
             "crm/payments) or an exchange")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Find a business value or key and follow its chain across exchanges, with the run (and Airflow run) of
    each step: form -> lead -> callback task; call -> missed-call task -> the call that closed it; deal ->
    realization in 1C -> payment -> invoice and deal paid."""
    with Hub() as hub:
        found = hub.find(value, entity)
        links = _chain_links(hub, found.steps)
    if as_json:
        out.print_json(data=found.as_dict())
        raise typer.Exit(0 if found.chosen else 1)
    if not found.candidates:
        where = f" as {entity!r}" if entity else ""
        out.print(f"nothing recorded for {value!r}{where}", markup=False, highlight=False)
        raise typer.Exit(1)
    if found.ambiguous:
        _print_candidates(value, found.candidates)
        raise typer.Exit(1)
    _print_chain(found, links)


def _chain_links(hub: Hub, steps: list[Any]) -> list[Any]:
    """The key-map entries of the chain's records (the same object's id in both systems), and no others: a
    raw id also names unrelated objects in the key map."""
    links = []
    for step in steps:
        wanted = (step.source.split("/")[0], step.source_key, step.target.split("/")[0], step.target_key)
        links += [link for link in hub.store.key_links(step.source_key)
                  if (link.system_a, link.id_a, link.system_b, link.id_b) == wanted]
    return links


def _print_candidates(value: str, candidates: list[Any]) -> None:
    out.print(f"{value!r} names {len(candidates)} different things; pick one with --entity:", markup=False,
              highlight=False)
    for candidate in candidates:
        out.print(f"  {candidate.label}  ({candidate.records} record(s) in {', '.join(candidate.exchanges)})"
                  f"  --entity {candidate.entities[0].rsplit('/', 1)[-1]}", markup=False, highlight=False,
                  soft_wrap=True)


def _print_chain(found: Any, links: list[Any]) -> None:
    out.print(f"{found.chosen.label}: {len(found.steps)} record(s)" +
              (" (cut: the chain goes on)" if found.truncated else ""), markup=False, highlight=False, soft_wrap=True)
    for target, steps in found.by_entity().items():
        out.print(f"{target}", style="bold", markup=False, highlight=False, soft_wrap=True)
        for step in steps:
            out.print(f"  {step.exchange}: {step.source}:{step.source_key} -> "
                      f"{step.target}:{step.target_key or '?'}", markup=False, highlight=False, soft_wrap=True)
            for w in step.writes:
                fields = f" [{w.fields}]" if w.fields else ""
                out.print(f"    write {w.at:%Y-%m-%d %H:%M:%S} {w.action} {w.source_key} -> {w.target_key}{fields}"
                          f"  {_run_text(w.run)}", markup=False, highlight=False, soft_wrap=True)
            for letter in step.dead_letters:
                out.print(f"    dead  #{letter.id} {letter.status}, {letter.attempts} attempt(s), "
                          f"{letter.error_class}: {letter.message}  {_run_text(letter.run)}", markup=False,
                          highlight=False, soft_wrap=True)
            if not step.writes and not step.dead_letters and step.indexed_by:
                out.print(f"    seen  {_run_text(step.indexed_by)}", markup=False, highlight=False, soft_wrap=True)
    for link in links:
        out.print(f"key map  {link.entity}: {link.system_a} {link.id_a} = {link.system_b} {link.id_b}",
                  highlight=False, markup=False, soft_wrap=True)


def _run_text(run: Any) -> str:
    """``run 12 · airflow manual__2026-... <link>``: the hub's run id, and Airflow's when Airflow started it."""
    if run is None:
        return "run ?"
    text = f"run {run.run_id}"
    if run.airflow_run_id:
        text += f" · airflow {run.dag_id} {run.airflow_run_id}"
    if run.url:
        text += f" {run.url}"
    return text


# -- dead letters --------------------------------------------------------------------------------------

def _letter_status(status: str) -> LetterStatus | None:
    if status == "all":
        return None
    if status not in get_args(LetterStatus):
        raise ConfigError(f"--status {status!r}: use open, resolved, discarded or all")
    return cast(LetterStatus, status)  # checked just above


@dead_letters_app.command("list")
@handled
def dead_letters_list(exchange: Annotated[str | None, typer.Option()] = None,
                      status: Annotated[str, typer.Option(help="open | resolved | discarded | all")] = "open",
                      limit: int = 50) -> None:
    with Hub() as hub:
        letters = hub.store.dead_letters(exchange, _letter_status(status), limit)
    table = Table("id", "exchange", "source key", "error", "message", "attempts", "first seen", "last seen", "status")
    for letter in letters:
        table.add_row(str(letter.id), letter.exchange, Text(letter.source_key), letter.error_class,
                      Text(letter.message), str(letter.attempts), f"{letter.first_seen:%Y-%m-%d %H:%M}",
                      f"{letter.last_seen:%Y-%m-%d %H:%M}", letter.status)
    out.print(table)


@dead_letters_app.command("show")
@handled
def dead_letters_show(letter_id: int) -> None:
    with Hub() as hub:
        letters = hub.store.dead_letters(status=None, ids=[letter_id])
    if not letters:
        raise ConfigError(f"no dead letter #{letter_id}")
    letter = letters[0]
    out.print(f"#{letter.id} {letter.exchange} record {letter.source_key} ({letter.status}, {letter.attempts} "
              f"attempt(s), mapping {letter.mapping_version})", highlight=False, markup=False)
    out.print(f"{letter.error_class}: {letter.message}", highlight=False, markup=False)
    out.print_json(json.dumps(json.loads(letter.payload), ensure_ascii=False))


@dead_letters_app.command("replay")
@handled
def dead_letters_replay(
    exchange: Annotated[str, typer.Argument(help="the exchange whose dead letters to replay")],
    ids: Annotated[list[int] | None, typer.Argument(help="only these dead letters (default: all open ones)")] = None,
    here: Annotated[bool, typer.Option(help="replay in this process even where Airflow is reachable "
                                            "(HUB_AIRFLOW_URL), leaving no run in Airflow")] = False,
) -> None:
    """Send dead letters through the exchange's current mapping (after fixing the mapping or the data).

    With HUB_AIRFLOW_URL (and HUB_AIRFLOW_USER, HUB_AIRFLOW_PASSWORD) set, the replay is a run of the exchange's
    DAG, as from the dead-letters page in the Airflow UI, so it is in the exchange's history; --here runs it here."""
    with Hub() as hub:
        name = hub.mapping(exchange).exchange  # an unknown exchange is an error here, not in Airflow
        if not here and os.environ.get("HUB_AIRFLOW_URL"):
            from hub.registry import replayer  # here: only deployments with Airflow need it

            replay_in_orchestrator = replayer()
            if replay_in_orchestrator is None:
                raise ConfigError("HUB_AIRFLOW_URL is set, but no installed package replays in Airflow "
                                  "(is airflow_hub installed?); use --here to replay in this process")
            url = replay_in_orchestrator(name, ids or "all", os.environ)
            out.print(f"replay started as a run of the {name} DAG: {url}\nits note says what it did "
                      f"(`hub runs {name}` too, once it ran)", highlight=False, markup=False, soft_wrap=True)
            return
        report = hub.runner(name).replay(ids or None, "cli")
    _print_report(report, as_json=False)


@dead_letters_app.command("discard")
@handled
def dead_letters_discard(
    ids: list[int],
    reason: Annotated[str | None, typer.Option(help="why: kept with the letter, shown in the Airflow UI")] = None,
) -> None:
    """Mark dead letters as handled by hand: they are kept, but no longer open."""
    with Hub() as hub:
        count = hub.store.discard_dead_letters(ids, reason, by=f"cli {_os_user()}")
    out.print(f"discarded {count} dead letter(s)")


@app.command()
@handled
def forget(
    exchange: Annotated[str, typer.Argument(help="the exchange")],
    keys: Annotated[list[str], typer.Argument(help="source record keys, as `hub trace` and dead letters show them")],
) -> None:
    """Forget source records: a record deleted or re-keyed in the source frees its target object for the one
    that replaces it (replay that one's dead letter next). A forgotten record that still exists is compared
    afresh on the next run."""
    with Hub() as hub:
        name = hub.mapping(exchange).exchange  # an unknown exchange is an error, not "forgot 0"
        count = hub.store.forget_records(name, keys)
    out.print(f"forgot {count} of {len(keys)} source record(s) of {name}")


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in a container without /etc/passwd entry
        return "unknown"


# -- housekeeping --------------------------------------------------------------------------------------

@db_app.command("upgrade")
@handled
def db_upgrade() -> None:
    """Create or migrate the hub's tables and those of every installed connector package (its Alembic branch);
    also done automatically on first use."""
    from hub.registry import branches

    with Hub() as hub:  # opening the store migrates it
        owners = ", ".join(["core", *(tables.branch for tables in branches())])
        out.print(f"hub database is current ({owners}): "
                  f"{hub.store.engine.url.render_as_string(hide_password=True)}", markup=False)


@app.command()
@handled
def schema(output: Annotated[Path, typer.Option(help="where to write the JSON Schema")] = Path(
        "config/mapping.schema.json")) -> None:
    """Write the JSON Schema of mapping files (for editor completion and checks)."""
    from hub.mapping.schema import write_schema

    write_schema(output)
    out.print(f"wrote {output}")


@app.command()
@handled
def check(connection: str, connector: Annotated[str | None, typer.Option(
        help="the connector to test it with (default: the one its connection type names)")] = None) -> None:
    """Test a connection: reachable, and the credentials work (what the Airflow UI's Test button does)."""
    from hub.registry import connection_type

    with Hub() as hub:
        if connector is not None:
            with hub.connector(connector, connection) as instance:
                status = instance.check()
        else:
            found = hub.resolver.get(connection)
            status = connection_type(found.conn_type).test_connection(found, hub.settings)
    out.print(f"[green]ok[/green] {escape(status)}", highlight=False)


@app.command()
@handled
def demo() -> None:
    """Run every exchange once on embedded defaults: SQLite files under var/demo, simulators in-process."""
    from hub.demo import run_demo

    configure_logs(level="WARNING")  # the summary is the output; the services' info logs would drown it
    reports, env = run_demo()
    table = Table("exchange", "status", "read", "created", "updated", "deleted", "unchanged", "filtered",
                  "rejected", "dead letters", "seconds", title="what each exchange did")
    for r in reports:
        c = r.counts
        table.add_row(r.exchange, r.status, *(str(v) for v in (c.read, c.created, c.updated, c.deleted, c.unchanged,
                                                                 c.filtered, c.rejected, c.dead_letters_added)),
                      f"{r.seconds:.2f}")
    out.print(table)
    for skipped in env.skipped:  # what could not run here; the rest ran
        out.print(f"skipped {skipped.what}: {skipped.reason}", highlight=False, markup=False)
    for note in env.notes:
        out.print(note, highlight=False, markup=False)
    home = env.home
    out.print(f"state: {env.settings.state_url}; the demo's connections: {home / 'connections.yaml'}. Every hub "
              f"command works on them with HUB_HOME={home}, e.g.\n"
              f"  HUB_HOME={home} hub runs\n"
              f"  HUB_HOME={home} hub dead-letters list\n"
              f"  HUB_HOME={home} hub validate --offline   (online checks need the simulators: they stop with the "
              f"demo; `hub airflow` keeps them running)", highlight=False, markup=False, soft_wrap=True)


@new_app.command("connector")
@handled
def new_connector(
    name: Annotated[str, typer.Argument(help="the connector's name (lower case, e.g. prices)")],
    into: Annotated[Path, typer.Option(help="folder to make the package in")] = Path("plugins"),
    register: Annotated[bool, typer.Option(
        help="add the package to config/extra-requirements.txt, which `make` installs")] = True,
) -> None:
    """Make a connector package: manifest, source and target skeletons, kit tests, a demo part, a sample mapping."""
    from hub.scaffold import EXTRA_REQUIREMENTS
    from hub.scaffold import new_connector as scaffold

    settings = HubSettings.from_env()
    made = scaffold(name, into, settings.mappings_dir, EXTRA_REQUIREMENTS if register else None)
    for path in made.files:
        out.print(f"created {path}", highlight=False, markup=False)
    if made.registered_in:
        out.print(f"added {made.package} to {made.registered_in}", highlight=False, markup=False)
    out.print(f"next: `make .venv/.synced` (installs it), `.venv/bin/pytest {made.package}`, `hub validate`, "
              f"`hub run {name}_sample`; see docs/connectors.md", highlight=False, markup=False)


def _register_package_commands() -> None:
    """Connector packages add commands (``hub serve intake``, ``hub listen ami``, ``hub airflow``) in their
    manifests.

    Not when this process is the ``hub`` command running one of its own commands (``hub run``): loading the
    commands imports their packages (HTTP clients, Airflow's API), up to a second of every run's start-up."""
    from hub.registry import commands

    if _runs_builtin_command(sys.argv):
        return
    for group, typer_app in (("serve", serve_app), ("listen", listen_app), ("top", app)):
        for manifest, command in commands(group):  # type: ignore[arg-type]
            try:
                function = resolve(command.function)
            except ImportError as exc:  # a part the package leaves out of this environment
                log.debug("command %s of %s is not available: %s", command.name, manifest.name, exc)
                continue
            typer_app.command(command.name)(handled(function))


def _runs_builtin_command(argv: list[str]) -> bool:
    if not argv or Path(argv[0]).name not in ("hub", "cli.py"):
        return False  # imported by something else (tests, Airflow): every command is wanted
    first = next((arg for arg in argv[1:] if not arg.startswith("-")), None)
    own = {c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands if c.callback}
    own |= {g.name for g in app.registered_groups if g.name and g.name not in ("serve", "listen")}
    return first in own


serve_app = typer.Typer(help="Run an ingress service (e.g. the website form intake).", no_args_is_help=True)
listen_app = typer.Typer(help="Run a long-lived event listener (e.g. the Asterisk AMI listener).", no_args_is_help=True)
app.add_typer(serve_app, name="serve")
app.add_typer(listen_app, name="listen")
_register_package_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

"""dags/: one DAG per mapping file, shaped for operators; a broken mapping file is one import error and hides
nothing else; parsing touches no system and no database."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import AssetAlias, AssetOrTimeSchedule, CronTriggerTimetable
from airflow.sdk.definitions.retry_policy import RetryAction

from airflow_hub.factory import RETRY_POLICY
from hub.errors import AuthError, ConfigError, RetriableError
from hub.mapping.loader import load_directory

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[3]
MAPPINGS = Path(__file__).resolve().parent / "mappings"

BROKEN = """\
exchange: broken_exchange
description: upsert without match
schedule: "@hourly"
source: {connector: crm_db, connection: crm, stream: clients, key: id}
target:
  connector: crm_db
  connection: crm
  entity: leads
  mode: upsert
fields:
  name: name
"""


def test_every_mapping_of_the_project_becomes_a_dag(dagbag, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_MAPPINGS_DIR", raising=False)  # the default: mappings/ next to dags/
    exchanges, broken = load_directory(ROOT / "mappings")

    bag = dagbag()

    assert bag.import_errors == {}
    assert broken == []
    assert set(bag.dag_ids) == set(exchanges) and exchanges


def test_a_broken_mapping_stays_visible_as_its_exchange_s_broken_dag_and_the_others_still_load(
        dagbag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    (mappings / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(mappings))

    bag = dagbag()

    assert bag.import_errors == {}  # no traceback filed under another file
    assert set(bag.dag_ids) == set(load_directory(ROOT / "mappings")[0]) | {"broken_exchange"}
    dag = bag.dags["broken_exchange"]
    assert dag.description == "BROKEN MAPPING: broken.yaml:9: target.mode: mode 'upsert' needs target.match: " \
                              "the fields that find the existing object"
    assert f"`{mappings / 'broken.yaml'}:9: target.mode: mode 'upsert' needs target.match" in dag.doc_md
    assert (type(dag.timetable).__name__, dag.is_paused_upon_creation, set(dag.tags)) == (
        "NullTimetable", True, {"hub", "broken"})  # never runs by itself
    assert [task.task_id for task in dag.tasks] == ["mapping_is_broken"]


def test_each_problem_is_a_line_with_file_line_and_field(dagbag, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(MAPPINGS / "form_leads.yaml", tmp_path)
    (tmp_path / "a_broken.yaml").write_text(BROKEN, encoding="utf-8")
    not_cron = (MAPPINGS / "leads_to_archive.yaml").read_text().replace("triggers:", 'schedule: "every day"\ntriggers:')
    (tmp_path / "b_not_cron.yaml").write_text(not_cron, encoding="utf-8")
    (tmp_path / "c_not_yaml.yaml").write_text("exchange: [unclosed\n", encoding="utf-8")
    (tmp_path / "z_twice.yaml").write_text((MAPPINGS / "form_leads.yaml").read_text(), encoding="utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))

    bag = dagbag()

    docs = {dag_id: bag.dags[dag_id].doc_md for dag_id in ("broken_exchange", "leads_to_archive", "c_not_yaml")}
    assert f"`{tmp_path / 'a_broken.yaml'}:9: target.mode: mode 'upsert' needs target.match: the fields " \
           "that find the existing object`" in docs["broken_exchange"]
    assert f"`{tmp_path / 'b_not_cron.yaml'}:3: schedule: 'every day' is not a cron expression or a " \
           "preset such as @hourly`" in docs["leads_to_archive"]  # the exchange's own DAG id, broken
    assert f"`{tmp_path / 'c_not_yaml.yaml'}:" in docs["c_not_yaml"]  # no exchange name: the file's
    # a second file naming an existing exchange cannot take its DAG: that one is an import error, one line
    [error] = bag.import_errors.values()
    assert f"{tmp_path / 'z_twice.yaml'}:1: exchange: exchange 'form_leads' is already defined in " in error
    assert set(bag.dag_ids) == {"form_leads", "broken_exchange", "leads_to_archive", "c_not_yaml"}
    assert "broken" not in bag.dags["form_leads"].tags  # the first file's exchange


def test_a_mapping_airflow_would_refuse_is_caught_by_validation_and_hides_no_other_dag(
        dagbag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reserved asset scheme and a blank description are mapping errors with their line (Airflow would refuse
    the first as a DAG); the other DAGs still load."""
    shutil.copy(MAPPINGS / "form_leads.yaml", tmp_path)
    archive = (MAPPINGS / "leads_to_archive.yaml").read_text()
    (tmp_path / "reserved_scheme.yaml").write_text(archive.replace("hub://crm/leads", "airflow://crm/leads"))
    (tmp_path / "blank_description.yaml").write_text(
        archive.replace("exchange: leads_to_archive", "exchange: blank_description")
        .replace("description: Every CRM lead is copied to the archive; runs after each form_leads run.",
                 'description: "  "'))
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))

    bag = dagbag()

    assert bag.import_errors == {}
    assert "the scheme 'airflow' is reserved by Airflow" in bag.dags["leads_to_archive"].description
    assert "must say what the exchange does" in bag.dags["blank_description"].description
    assert {tag for dag_id in ("leads_to_archive", "blank_description") for tag in bag.dags[dag_id].tags} == {
        "hub", "broken"}
    assert "broken" not in bag.dags["form_leads"].tags


def test_a_manual_run_of_a_broken_exchange_fails_with_its_one_line(dagbag, airflow_db, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.airflow.test_dag_runs import finished_run

    (tmp_path / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))

    dagbag().dags["broken_exchange"].test()

    run = finished_run("broken_exchange")
    assert (run["state"], run["tasks"]) == ("failed", {"mapping_is_broken": ("failed", 1)})
    assert run["note"] == f"{tmp_path / 'broken.yaml'}:9: target.mode: mode 'upsert' needs target.match: the " \
                          "fields that find the existing object"


def test_a_dag_carries_what_the_operator_needs(dagbag, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(MAPPINGS))
    monkeypatch.setenv("HUB_TIMEZONE", "Asia/Yekaterinburg")

    bag = dagbag()
    dag, downstream = bag.dags["form_leads"], bag.dags["leads_to_archive"]

    assert dag.description == "Website form submissions (committed to the hub's inbox by the intake service) " \
                              "become CRM leads. (runs on hub://inbox/website; cron fallback */5 * * * *)"
    assert dag.dag_display_name == "form_leads: Website form submissions (committed to the hub's inbox by the " \
                                   "intake service) become CRM leads."  # what the list shows without hovering
    assert "The intake wakes this exchange within seconds" in dag.doc_md and "`phone`" in dag.doc_md
    assert set(dag.tags) == {"hub", "website", "crm", "website -> crm", "event-driven", "cron fallback"}
    assert (dag.max_active_runs, dag.catchup) == (1, False)
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.timetable == CronTriggerTimetable("*/5 * * * *", timezone="Asia/Yekaterinburg")
    assert [asset.uri for asset in dag.timetable.asset_condition.objects] == ["hub://inbox/website"]
    plan, apply = dag.get_task("plan"), dag.get_task("apply")
    assert plan.downstream_task_ids == {"apply"}
    assert apply.outlets == [AssetAlias("hub:form_leads")]  # produces hub://crm/leads when it changed something
    assert (apply.retries, apply.retry_exponential_backoff, apply.retry_delay) == (3, 2.0, timedelta(seconds=30))
    # the downstream exchange runs when form_leads produced hub://crm/leads, and only then
    assert [asset.uri for asset in downstream.timetable.asset_condition.objects] == ["hub://crm/leads"]
    assert set(downstream.tags) == {"hub", "crm", "archive", "crm -> archive", "event-driven"}


def test_the_dag_list_reads_well_for_the_project_s_exchanges(dagbag, monkeypatch: pytest.MonkeyPatch) -> None:
    """System tags are the systems' names, assets read in Cyrillic, the cron fallback is in sight."""
    monkeypatch.delenv("HUB_MAPPINGS_DIR", raising=False)

    dags = dagbag().dags

    systems = {"crm", "1c", "pbx", "website"}
    assert {tag for dag in dags.values() for tag in dag.tags if "->" not in tag} <= systems | {
        "hub", "scheduled", "event-driven", "cron fallback"}
    assert {"pbx", "pbx -> crm"} <= set(dags["calls_to_crm"].tags)  # the AMI listener's inbox stream
    contracts = dags["contracts_to_1c"]
    assert [asset.name for asset in contracts.timetable.asset_condition.objects] == ["hub://onec/Catalog_Контрагенты"]
    assert contracts.timetable.asset_condition.objects[0].uri == \
        "hub://onec/Catalog_%D0%9A%D0%BE%D0%BD%D1%82%D1%80%D0%B0%D0%B3%D0%B5%D0%BD%D1%82%D1%8B"  # Airflow's rule
    assert contracts.description.endswith("(runs on hub://onec/Catalog_Контрагенты; cron fallback */30 * * * *)")
    assert "cron fallback" in contracts.tags
    assert "`hub://onec/Catalog_Контрагенты`" in dags["counterparties_to_1c"].doc_md  # what it produces


def test_at_first_start_a_dependent_exchange_waits_for_its_upstream(dagbag, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unpaused together, counterparties_to_1c runs at once; contracts_to_1c and realizations_to_1c (triggered
    by what it writes) do not run beside it: their first run is their upstream's asset or their next cron tick.
    The schedule is asked the scheduler's way, from the serialized DAG."""
    from airflow.serialization.serialized_objects import DagSerialization

    monkeypatch.delenv("HUB_MAPPINGS_DIR", raising=False)
    dags = dagbag().dags
    now = datetime.now(UTC)

    def first_run_after(dag_id: str):
        serialized = DagSerialization.from_dict(DagSerialization.to_dict(dags[dag_id]))
        return serialized.next_dagrun_info(last_automated_run_info=None).run_after

    assert first_run_after("counterparties_to_1c") <= now  # due at once
    assert first_run_after("contracts_to_1c") > now
    assert first_run_after("realizations_to_1c") > now


def test_errors_decide_what_a_retry_can_do() -> None:
    decide = lambda exc: RETRY_POLICY.evaluate(exc, try_number=1, max_tries=4).action  # noqa: E731
    assert decide(ConfigError("connection 'crm' is not defined")) == RetryAction.FAIL
    assert decide(AuthError("1C refused the login")) == RetryAction.FAIL
    assert decide(RetriableError("HTTP 503")) == RetryAction.RETRY
    assert decide(ValueError("a bug")) == RetryAction.DEFAULT  # the task's retries, with backoff


def test_parsing_touches_no_system_and_no_database(dagbag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_MAPPINGS_DIR", raising=False)
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "hub"))
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/nothing")  # nothing listens
    for name in ("AIRFLOW_CONN_CRM", "AIRFLOW_CONN_ONEC", "AIRFLOW_CONN_ONEC_SOAP", "HUB_CONNECTIONS_FILE"):
        monkeypatch.delenv(name, raising=False)

    bag = dagbag()

    assert bag.import_errors == {} and len(bag.dag_ids) == len(load_directory(ROOT / "mappings")[0])
    assert not (tmp_path / "hub").exists()

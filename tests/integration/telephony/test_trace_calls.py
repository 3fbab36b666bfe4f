"""A missed call's chain from what an operator has (the caller's number as typed, a call id): the call, the
callback task it became, and the call that closed the task, each with the Airflow run that wrote it. The hub
runs inside an Airflow task here (no ``triggered_by``): the run id comes from the environment Airflow sets."""

from __future__ import annotations

import pytest

from hub.testing.tracing import AIRFLOW_URL, trace
from sandbox.ami.server import CallSpec

from .conftest import Pbx

NUMBER = "+79161234567"


def run_in_airflow(pbx: Pbx, monkeypatch: pytest.MonkeyPatch, exchange: str, run_id: str) -> None:
    with monkeypatch.context() as airflow:  # what Airflow exports to a task's process (BashOperator: `hub run`)
        airflow.setenv("AIRFLOW_CTX_DAG_ID", exchange)
        airflow.setenv("AIRFLOW_CTX_TASK_ID", "apply")
        airflow.setenv("AIRFLOW_CTX_DAG_RUN_ID", run_id)
        pbx.hub.run(exchange)


def test_a_number_as_typed_finds_the_missed_call_its_task_and_the_call_that_closed_it(
        pbx: Pbx, monkeypatch: pytest.MonkeyPatch) -> None:
    pbx.listen()
    [missed] = pbx.sim.play([CallSpec("missed", caller=NUMBER, callee="101")])
    pbx.wait_inbox(1)
    run_in_airflow(pbx, monkeypatch, "calls_to_crm", "scheduled__missed")
    run_in_airflow(pbx, monkeypatch, "missed_calls_to_tasks", "asset_triggered__task")
    [returned] = pbx.sim.play([CallSpec("outbound", caller="101", callee=NUMBER)])  # the manager calls back
    pbx.wait_inbox(2)
    run_in_airflow(pbx, monkeypatch, "calls_to_crm", "scheduled__return")
    run_in_airflow(pbx, monkeypatch, "missed_calls_to_tasks", "asset_triggered__closed")
    [task] = pbx.rows("tasks", kind="callback")
    assert task["status"] == "done"

    by_number = trace(pbx.hub, "8 (916) 123-45-67")
    assert by_number.exit_code == 0, by_number.output
    out = by_number.output
    assert out.startswith(f"phone {NUMBER}:")
    assert f"calls_to_crm: hub/calls:{missed} -> crm/calls:" in out, out
    assert f"calls_to_crm: hub/calls:{returned} -> crm/calls:" in out, out
    assert f"missed_calls_to_tasks: hub/calls:{missed} -> crm/tasks:{task['id']}" in out, out
    for run_id in ("scheduled__missed", "asset_triggered__task", "scheduled__return", "asset_triggered__closed"):
        assert run_id in out, out
    assert f"{AIRFLOW_URL}/dags/missed_calls_to_tasks/runs/asset_triggered__closed" in out, out

    # from the missed call's id: its task, and on to the call that closed it
    by_call = trace(pbx.hub, missed)
    assert by_call.exit_code == 0 and by_call.output.startswith(f"call_id {missed} = hub/calls:{missed}:"), \
        by_call.output  # the call id is also the key the PBX gave the call: one thing, named both ways
    assert f"calls_to_crm: hub/calls:{returned} -> crm/calls:" in by_call.output, by_call.output
    assert "airflow missed_calls_to_tasks asset_triggered__closed" in by_call.output
    chain = pbx.hub.find(missed)
    assert chain.chosen is not None and chain.chosen.labels[0] == f"call_id {missed}"
    steps = {(s.exchange, s.source_key): s for s in chain.steps}
    assert set(steps) == {("calls_to_crm", missed), ("missed_calls_to_tasks", missed), ("calls_to_crm", returned)}
    task_step = steps[("missed_calls_to_tasks", missed)]
    assert [w.action for w in task_step.writes] == ["created", "updated"]
    assert [w.run.airflow_run_id for w in task_step.writes] == ["asset_triggered__task", "asset_triggered__closed"]

    # from the closing call's id: the task it closed (and the missed call behind it)
    closing = pbx.hub.find(returned)
    assert {(s.exchange, s.source_key) for s in closing.steps} == set(steps)

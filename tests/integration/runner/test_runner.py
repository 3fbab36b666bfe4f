"""The runner's promises, against the in-memory connector: plan writes nothing, apply writes exactly the
changes, nothing is written twice, bad records are parked without stopping the batch, and faults are
survived without duplicates or gaps."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import structlog

from hub.errors import FatalError
from hub.runner import Runner
from hub.testing.memory import MemoryDatabase

MakeRunner = Callable[[str], Runner]

CLIENTS = """
exchange: clients_copy
description: copy clients
schedule: "@hourly"
source: {connector: memory, connection: src, stream: clients, key: id, incremental: {strategy: hash}}
target: {connector: memory, connection: dst, entity: companies, match: [inn], mode: upsert}
where: active
fields:
  name: trim(name)
  inn: inn
  phone: phone(phone)
"""


def seed(src: MemoryDatabase, n: int) -> None:
    src.tables["clients"] = [
        {"id": i, "name": f" Client {i} ", "inn": f"77{i:08d}", "phone": f"8 916 000-{i:04d}"[:16],
         "active": i % 10 != 0}
        for i in range(1, n + 1)
    ]


def ledger(store, source_key: str) -> list[str]:
    """The effect ledger's status of each write of one source record."""
    return [effect.status for effect in store.trace(source_key)["effects"] if effect.source_key == source_key]


def test_plan_reports_creates_and_writes_nothing(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 250)
    report = make_runner(CLIENTS).plan()
    assert (report.counts.read, report.counts.created, report.counts.filtered) == (250, 225, 25)
    assert dst.tables.get("companies", []) == []
    assert report.samples["created"][0].source_key == "1"


def test_apply_creates_then_second_run_changes_nothing(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 250)
    runner = make_runner(CLIENTS)
    first = runner.apply()
    assert first.counts.created == 225 and len(dst.tables["companies"]) == 225
    writes = dst.writes
    second = runner.apply()
    assert (second.counts.created, second.counts.updated, second.counts.unchanged) == (0, 0, 225)
    assert dst.writes == writes, "an unchanged record must not be written again"


def test_update_writes_only_changed_fields_and_plan_shows_old_and_new(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 5)
    runner = make_runner(CLIENTS)
    runner.apply()
    src.tables["clients"][1]["name"] = "Renamed"
    plan = runner.plan()
    assert plan.counts.updated == 1
    (change,) = plan.samples["updated"][0].changes
    assert (change.field, change.old, change.new) == ("name", "Client 2", "Renamed")
    runner.apply()
    assert dst.tables["companies"][1]["name"] == "Renamed"


def test_create_only_fields_are_not_overwritten(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 3)
    runner = make_runner(CLIENTS.replace("mode: upsert}", "mode: upsert, create_only: [phone]}"))
    runner.apply()
    dst.tables["companies"][0]["phone"] = "+74950000000"  # the target system owns it now
    src.tables["clients"][0]["phone"] = "8 916 111-22-33"
    src.tables["clients"][0]["name"] = "New name"
    runner.apply()
    assert dst.tables["companies"][0]["phone"] == "+74950000000"
    assert dst.tables["companies"][0]["name"] == "New name"


def test_update_only_skips_objects_that_do_not_exist(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 3)
    dst.tables["companies"] = [{"id": 1, "inn": "7700000002", "name": "old"}]
    report = make_runner(CLIENTS.replace("mode: upsert", "mode: update_only")).apply()
    assert (report.counts.updated, report.counts.skipped) == (1, 2)
    assert len(dst.tables["companies"]) == 1


def test_bad_records_go_to_dead_letters_and_the_batch_goes_on(make_runner: MakeRunner, systems, store) -> None:
    src, dst = systems
    seed(src, 20)
    src.tables["clients"][3]["inn"] = None
    runner = make_runner(CLIENTS.replace("inn: inn", "inn: require(inn, 'client has no INN')"))
    report = runner.apply()
    assert (report.counts.created, report.counts.rejected, report.counts.dead_letters_added) == (17, 1, 1)
    (letter,) = store.dead_letters("clients_copy")
    assert letter.source_key == "4" and letter.error_class == "DataError" and "no INN" in letter.message
    # the mapping is fixed; a replay sends the parked payload through the new mapping and resolves the letter
    fixed = make_runner(CLIENTS.replace("inn: inn", "inn: default(inn, 'unknown')"))
    replay = fixed.replay()
    assert replay.counts.created == 1
    assert store.dead_letters("clients_copy") == []
    assert len(dst.tables["companies"]) == 18


def test_a_record_fixed_at_the_source_resolves_its_dead_letter(make_runner: MakeRunner, systems, store) -> None:
    src, _ = systems
    seed(src, 5)
    src.tables["clients"][1]["inn"] = None
    runner = make_runner(CLIENTS.replace("inn: inn", "inn: require(inn, 'client has no INN')"))
    runner.apply()
    src.tables["clients"][1]["inn"] = "7700000002"
    assert runner.apply().counts.created == 1
    assert store.dead_letters("clients_copy") == []
    assert store.dead_letters("clients_copy", status="resolved")[0].source_key == "2"


def test_target_rejection_is_parked_with_the_target_message(make_runner: MakeRunner, systems, store) -> None:
    src, dst = systems
    seed(src, 10)
    dst.faults.reject = lambda fields: "closed period" if fields.get("inn") == "7700000003" else None
    report = make_runner(CLIENTS).apply()
    assert (report.counts.created, report.counts.rejected) == (8, 1)
    assert store.dead_letters("clients_copy")[0].message == "closed period"


def test_retriable_write_failures_are_retried_visibly(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 50)
    dst.faults.fail_writes = 2
    with structlog.testing.capture_logs() as logs:
        report = make_runner(CLIENTS).apply()
    assert report.counts.created == 45 and len(dst.tables["companies"]) == 45
    retries = [e for e in logs if e["event"] == "retrying after a transient failure"]
    assert [(e["log_level"], e["attempt"]) for e in retries] == [("warning", 1), ("warning", 2)]
    assert "simulated 503" in retries[0]["cause"]
    assert report.retries == 2 and report.summary()["retries"] == 2
    assert report.one_line().endswith("; retries 2")


def test_a_read_retried_after_a_dropped_connection_is_logged_and_counted(make_runner: MakeRunner, systems) -> None:
    src, _ = systems
    seed(src, 350)
    src.faults.fail_reads_after = 2
    with structlog.testing.capture_logs() as logs:
        report = make_runner(CLIENTS).apply()
    retries = [e for e in logs if e["event"] == "retrying after a transient failure"]
    assert [(e["log_level"], e["during"]) for e in retries] == [("warning", "reading the source")]
    assert report.retries == 1


def test_lost_response_is_not_written_twice(make_runner: MakeRunner, systems, store) -> None:
    src, dst = systems
    seed(src, 50)
    dst.faults.lose_responses = 1  # the first batch lands, its answer is lost
    report = make_runner(CLIENTS).apply()
    assert len(dst.tables["companies"]) == 45
    assert report.counts.created == 45
    assert ledger(store, "1") == ["done"], "the ledger knows the first attempt landed"


def test_a_value_changed_back_and_forth_is_written_every_time(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 3)
    runner = make_runner(CLIENTS)
    runner.apply()
    for name in ("B", "A", "B"):  # the second "B" is the same content as an update already done once
        src.tables["clients"][0]["name"] = name
        assert runner.apply().counts.updated == 1
        assert dst.tables["companies"][0]["name"] == name


def test_a_write_attempted_again_is_pending_until_its_outcome_is_committed(make_runner: MakeRunner, systems,
                                                                           store) -> None:
    src, dst = systems
    seed(src, 3)
    dst.faults.reject = lambda fields: "closed period" if fields.get("inn") == "7700000002" else None
    runner = make_runner(CLIENTS)
    runner.apply()
    assert ledger(store, "2") == ["rejected"]
    dst.faults.reject, dst.faults.fail_writes = None, 10  # the replay is cut off while it writes
    with pytest.raises(Exception, match="simulated 503"):
        runner.replay()
    assert ledger(store, "2") == ["pending"], \
        "after an interrupted attempt nobody can tell whether the write landed"
    dst.faults.fail_writes = 0
    assert runner.replay().counts.created == 1
    assert ledger(store, "2") == ["done"]


WITH_LOOKUP = CLIENTS.replace("fields:\n", "lookups:\n  known: {entity: companies, match: [{inn: inn}], fields: [id]}\n"
                                           "fields:\n")


def test_a_changed_record_of_a_mapping_with_lookups_is_written(make_runner: MakeRunner, systems) -> None:
    """A mapping with lookups is not pure (its output depends on more than the record), so it keeps no source
    hash: every record goes through the pipeline, and a changed one is written."""
    src, dst = systems
    seed(src, 3)
    runner = make_runner(WITH_LOOKUP)
    runner.apply()
    src.tables["clients"][0]["name"] = "Changed"
    report = runner.apply()
    assert (report.counts.updated, report.counts.unchanged) == (1, 2)
    assert dst.tables["companies"][0]["name"] == "Changed"


@pytest.mark.parametrize("mapping", [CLIENTS, WITH_LOOKUP], ids=["target search", "mapping lookup"])
def test_retriable_lookup_failures_are_retried(make_runner: MakeRunner, systems, mapping: str) -> None:
    src, dst = systems
    seed(src, 5)
    runner = make_runner(mapping)
    dst.faults.fail_lookups = 2
    assert runner.plan().counts.created == 5
    dst.faults.fail_lookups = 2
    assert runner.apply().counts.created == 5 and len(dst.tables["companies"]) == 5


def test_read_failure_resumes_from_the_last_batch(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 350)
    src.faults.fail_reads_after = 2
    report = make_runner(CLIENTS).apply()
    assert len(dst.tables["companies"]) == 315
    assert report.counts.created == 315


def test_too_many_failures_stop_the_run_with_a_clear_message(make_runner: MakeRunner, systems, store) -> None:
    src, dst = systems
    seed(src, 5)
    dst.faults.fail_writes = 10
    with pytest.raises(Exception, match="simulated 503"):
        make_runner(CLIENTS).apply()
    (run,) = store.runs("clients_copy")
    assert run.status == "failed" and "simulated 503" in run.message


CURSOR = CLIENTS.replace("incremental: {strategy: hash}", "incremental: {strategy: cursor, cursor: updated}")


def test_cursor_strategy_reads_only_new_rows(make_runner: MakeRunner, systems) -> None:
    src, _ = systems
    seed(src, 30)
    for row in src.tables["clients"]:
        row["updated"] = row["id"]
    runner = make_runner(CURSOR)
    assert runner.apply().counts.read == 30
    src.tables["clients"].append({"id": 31, "name": "New", "inn": "7700000031", "active": True, "updated": 31})
    assert runner.apply().counts.read == 1


def test_a_run_that_finds_nothing_new_still_leaves_its_last_checkpoint_and_counts(make_runner: MakeRunner, systems,
                                                                                    store) -> None:
    src, _ = systems
    seed(src, 450)  # five batches of 100
    for row in src.tables["clients"]:
        row["updated"] = row["id"]
    runner = make_runner(CURSOR)
    runner.apply()
    first = store.checkpoint("clients_copy")
    store.reset_exchange("clients_copy")  # read everything again: every batch is unchanged, nothing to write
    report = runner.apply()
    # the unchanged batches were committed together, yet the run ends exactly where a batch-by-batch one would
    assert store.checkpoint("clients_copy") == first
    logged = store.run(report.run_id)
    assert (logged.read, logged.unchanged + logged.filtered, logged.created + logged.updated) == (450, 450, 0)
    src.tables["clients"].append({"id": 451, "name": "New", "inn": "7700000451", "active": True, "updated": 451})
    assert runner.apply().counts.read == 1


DELETES = CLIENTS.replace("incremental: {strategy: hash}", "incremental: {strategy: hash, detect_deletes: true}") \
    .replace("mode: upsert}", "mode: upsert, on_delete: mark, delete_fields: {archived: true}}")


def test_deleted_source_records_are_marked_in_the_target(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 20)
    runner = make_runner(DELETES)
    runner.apply()
    del src.tables["clients"][4]  # id 5
    report = runner.apply()
    assert report.counts.deleted == 1
    archived = [row for row in dst.tables["companies"] if row.get("archived")]
    assert [row["inn"] for row in archived] == ["7700000005"]


def test_plan_reports_exactly_the_deletions_apply_makes(make_runner: MakeRunner, systems) -> None:
    src, _ = systems
    seed(src, 40)
    runner = make_runner(DELETES)
    runner.apply()
    del src.tables["clients"][4]  # id 5
    plan = runner.plan()
    assert plan.counts.deleted == 1 and plan.samples["deleted"][0].source_key == "5"
    assert runner.apply().counts.deleted == 1


def test_a_replayed_deletion_resolves_its_dead_letter(make_runner: MakeRunner, systems, store) -> None:
    src, dst = systems
    seed(src, 20)
    runner = make_runner(DELETES)
    runner.apply()
    del src.tables["clients"][4]  # id 5
    dst.faults.reject = lambda fields: "locked by an accountant" if fields.get("archived") else None
    assert runner.apply().counts.rejected == 1
    (letter,) = store.dead_letters("clients_copy")
    assert letter.source_key == "5" and letter.message == "locked by an accountant"
    dst.faults.reject = None
    assert runner.replay().counts.deleted == 1
    assert store.dead_letters("clients_copy") == []
    assert [row["inn"] for row in dst.tables["companies"] if row.get("archived")] == ["7700000005"]


def test_mass_deletion_is_refused(make_runner: MakeRunner, systems) -> None:
    src, dst = systems
    seed(src, 40)
    runner = make_runner(DELETES)
    runner.apply()
    src.tables["clients"] = src.tables["clients"][:5]  # e.g. the source user lost its permissions
    with pytest.raises(FatalError, match="refusing to delete"):
        runner.apply()
    assert not any(row.get("archived") for row in dst.tables["companies"])


LINES = """
exchange: deals_copy
description: deals with lines
schedule: "@hourly"
source: {connector: memory, connection: src, stream: deals, key: id}
target: {connector: memory, connection: dst, entity: sales, match: [ref], mode: upsert}
fields:
  ref: text(id)
  client: lookup('client', client_id, 'src', 'dst')
  lines:
    each: items
    fields:
      n: _index
      sku: upper(sku)
"""


def test_missing_dependency_is_replayed_automatically_once_it_exists(make_runner: MakeRunner, systems, store):
    src, dst = systems
    src.tables["deals"] = [{"id": 1, "client_id": 7, "items": [{"sku": "a"}, {"sku": "b"}]}]
    runner = make_runner(LINES)
    first = runner.apply()
    assert first.counts.rejected == 1 and store.dead_letters()[0].error_class == "DependencyMissing"
    from hub.state.store import KeyLink

    store.link([KeyLink("client", "src", "7", "dst", "C-7")])  # the client exchange ran meanwhile
    second = runner.apply()
    assert second.counts.created == 1
    assert dst.tables["sales"][0]["client"] == "C-7"
    assert dst.tables["sales"][0]["lines"] == [{"n": 1, "sku": "A"}, {"n": 2, "sku": "B"}]
    assert store.dead_letters() == []


def test_an_interrupted_run_is_logged_as_failed(make_runner: MakeRunner, systems, store) -> None:
    src, dst = systems
    seed(src, 3)

    def interrupt(fields: dict) -> None:
        raise KeyboardInterrupt

    dst.faults.reject = interrupt
    with pytest.raises(KeyboardInterrupt):
        make_runner(CLIENTS).apply()
    (run,) = store.runs("clients_copy")
    assert run.status == "failed" and "KeyboardInterrupt" in run.message


def test_a_run_that_cannot_open_its_target_is_logged_as_failed(make_runner: MakeRunner, systems, store) -> None:
    src, _ = systems
    seed(src, 3)
    runner = make_runner(CLIENTS.replace("connection: dst", "connection: nowhere"))
    with pytest.raises(Exception, match="connection 'nowhere' is not defined"):
        runner.apply()
    (run,) = store.runs("clients_copy")
    assert run.status == "failed" and "nowhere" in run.message


def test_two_source_records_with_the_same_match_values_never_make_two_objects(make_runner: MakeRunner, systems,
                                                                              store) -> None:
    src, dst = systems
    seed(src, 6)
    src.tables["clients"][4]["inn"] = src.tables["clients"][2]["inn"]  # a duplicate client in the CRM
    report = make_runner(CLIENTS).apply()
    assert (report.counts.created, report.counts.rejected) == (5, 1)
    assert len({row["inn"] for row in dst.tables["companies"]}) == len(dst.tables["companies"]) == 5
    (letter,) = store.dead_letters("clients_copy")
    assert letter.source_key == "5" and "source record 3 has the same inn" in letter.message


def test_a_duplicate_in_a_later_batch_does_not_take_over_the_first_ones_object(make_runner: MakeRunner, systems,
                                                                                 store) -> None:
    src, dst = systems
    seed(src, 250)  # batches of 100: record 205 is read two batches after record 3
    src.tables["clients"][204]["inn"] = src.tables["clients"][2]["inn"]
    report = make_runner(CLIENTS).apply()
    assert (report.counts.created, report.counts.rejected) == (224, 1)
    company = next(row for row in dst.tables["companies"] if row["inn"] == src.tables["clients"][2]["inn"])
    assert company["name"] == "Client 3", "the later duplicate must not overwrite the first record's object"
    (letter,) = store.dead_letters("clients_copy")
    assert letter.source_key == "205" and "source record 3 has the same inn" in letter.message
    assert "hub forget clients_copy 3" in letter.message


def test_a_duplicate_in_a_later_run_is_refused_until_the_owner_is_forgotten(make_runner: MakeRunner, systems,
                                                                            store) -> None:
    src, dst = systems
    seed(src, 5)
    runner = make_runner(CLIENTS)
    runner.apply()
    # the CRM merges client 2 into a new record 6: same inn, new id; the old record is gone
    merged = {**src.tables["clients"][1], "id": 6, "name": "Client 2 (merged)"}
    del src.tables["clients"][1]
    src.tables["clients"].append(merged)
    refused = runner.apply()
    assert (refused.counts.created, refused.counts.updated, refused.counts.rejected) == (0, 0, 1)
    assert [row["name"] for row in dst.tables["companies"]].count("Client 2") == 1

    assert store.forget_records("clients_copy", ["2"]) == 1
    replayed = runner.replay(None, "test")
    assert (replayed.counts.updated, replayed.counts.rejected) == (1, 0)
    assert [row["name"] for row in dst.tables["companies"] if row["inn"] == merged["inn"]] == ["Client 2 (merged)"]
    assert len(dst.tables["companies"]) == 5 and store.dead_letter_count("clients_copy") == 0
    assert store.owners("clients_copy", [store.prior_states("clients_copy", ["6"])["6"].target_key]) == \
        {store.prior_states("clients_copy", ["6"])["6"].target_key: {"6"}}


def test_deletions_wait_for_a_sweep_read_in_one_go(make_runner: MakeRunner, systems) -> None:
    src, _ = systems
    seed(src, 350)
    runner = make_runner(DELETES)
    runner.apply()
    del src.tables["clients"][0]
    src.faults.fail_reads_after = 1  # the sweep is resumed after a read error: it may have missed rows
    resumed = runner.apply()
    assert resumed.counts.deleted == 0 and "deletions deferred" in resumed.message
    assert runner.apply().counts.deleted == 1  # the next sweep, read in one go, decides

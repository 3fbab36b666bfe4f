"""The simulator replays what a real Asterisk sent: rendered with the recording's own values, a template
gives back the recorded events byte for byte (CRLF framing included, minus the recording setup's HubTag)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from sandbox.ami.templates import KINDS, Substitutions, build_template, recorded_call, render


def recorded_call_events(kind: str) -> list:
    return recorded_call(kind)[0]


def recorded_substitutions(kind: str) -> Substitutions:
    return recorded_call(kind)[1]


@pytest.mark.parametrize("kind", KINDS)
def test_a_template_rendered_with_the_recorded_values_is_the_recording(kind: str) -> None:
    expected = ["".join(f"{k}: {v}\r\n" for k, v in m.pairs if k != "HubTag") + "\r\n"
                for m in recorded_call_events(kind)]
    rendered = [m.data.decode() for m in render(build_template(kind), recorded_substitutions(kind))]
    assert rendered == expected


def test_a_new_call_changes_ids_numbers_and_times_but_not_the_shape() -> None:
    template = build_template("queue-answered")
    subs = Substitutions("+74950001122", "500", "104", "t1", 1_800_000_000.25, ZoneInfo("Europe/Moscow"),
                         [f"1800000000.{i}" for i in range(100, 100 + template.uids)],
                         [f"{i:08x}" for i in range(500, 500 + template.seqs)], ["b-1"] * template.bridges)
    text = b"".join(m.data for m in render(template, subs)).decode()
    assert "+79161234567" not in text and "1795885088." not in text and "Operator 101" not in text
    assert "Operator 104" in text and "Local/104@hub-phones-000001f5;1" in text
    assert "StartTime: 2026" not in text and "StartTime: 2027-01-15 11:00:00" in text  # Moscow wall clock
    original = [m.fields["Event"] for m in recorded_call_events("queue-answered")
                if m.fields["Event"] != "OriginateResponse"]  # nobody originated this one
    assert [m.event for m in render(template, subs)] == original


def test_recording_adds_what_mixmonitor_announces() -> None:
    template = build_template("answered")
    subs = recorded_substitutions("answered")
    events = render(template, subs, recording=True)
    text = b"".join(m.data for m in events).decode()
    assert "AppData: 1?MixMonitor(hub-1795885070.1.wav,b)" in text
    assert "Variable: MIXMONITOR_FILENAME\r\nValue: /var/spool/asterisk/monitor/hub-1795885070.1.wav" in text
    assert [m.event for m in events].count("MixMonitorStart") == 1


def test_no_originate_response_without_an_originate() -> None:
    subs = recorded_substitutions("answered")
    subs.action_id = ""
    assert "OriginateResponse" not in [m.event for m in render(build_template("answered"), subs)]

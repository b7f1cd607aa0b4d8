"""The run per phase: destinations, identifiers and data types, bytes and timers of each
scenario, with the phase named by run.json's timeline (or the step's kind)."""

from __future__ import annotations

import re

import pytest
from support.capture_builder import (
    ACTIVATION_HOST,
    CONFIG_HOST,
    FW_TELEMETRY_HOST,
    LBS_HOST,
    CaptureBuilder,
    build_capture,
)

from harness.analysis.frames import analyse
from harness.analysis.phases import BETWEEN


@pytest.fixture
def firmware(tmp_path):
    return analyse([CaptureBuilder(tmp_path / "run").firmware_scenario().write()])


def row(a, phase):
    (r,) = a.phases[a.phases["phase"] == phase].to_dict("records")
    return r


def test_each_named_phase_is_a_row_in_the_order_it_ran(firmware):
    assert list(firmware.phases["phase"]) == ["first start", "SIM insertion", "idle", "open Settings",
                                              "enable location"]
    assert list(firmware.phases["steps"]) == ["1", "2", "3", "4", "5"]


def test_a_phase_says_its_destinations_identifiers_data_types_and_bytes(firmware):
    sim = row(firmware, "SIM insertion")
    assert sim["destinations"] == ACTIVATION_HOST and sim["foreign_destinations"] == ACTIVATION_HOST
    assert sim["identifiers_sent"] == "iccid (plain), imsi (plain)"
    assert sim["data_types_read"] == "iccid, imsi"
    assert (sim["flows"], sim["bytes_up"], sim["bytes_down"]) == (1, 300, 120)
    assert row(firmware, "enable location")["data_types_sent"] == "location (plain)"
    assert row(firmware, "enable location")["destinations"] == LBS_HOST
    settings = row(firmware, "open Settings")
    assert settings["destinations"] == CONFIG_HOST and settings["identifiers_sent"] == ""
    idle = row(firmware, "idle")
    assert idle["identifiers_sent"] == "imei (sha256)" and idle["flows"] == 13
    assert idle["bytes_up"] == sum(400 + i for i in range(13))


def test_the_idle_heartbeat_is_named_with_its_period_in_its_phase(firmware):
    text = row(firmware, "idle")["recurring"]
    match = re.fullmatch(rf"{re.escape(FW_TELEMETRY_HOST)}: every (\d+) s \+/- [\d.]+ s \(13 of its 13 beats\)", text)
    assert match and abs(int(match.group(1)) - 270) <= 270 * 0.05, text
    assert row(firmware, "first start")["recurring"] == ""
    (timer,) = firmware.recurring.to_dict("records")
    assert timer["phases"] == "idle" and timer["apps"] == "com.vendor.telemetry" and timer["beats"] == 13


def test_phase_falls_back_to_the_step_kind(tmp_path):
    a = analyse([build_capture(tmp_path / "run")])  # timeline entries without `phase`
    assert list(a.phases["phase"]) == ["reboot", "launch", "idle"]
    assert list(a.phases["steps"]) == ["0", "1-2", "3"]
    assert set(a.flows["phase"]) <= {"reboot", "launch", "idle", BETWEEN}
    assert row(a, "launch")["identifiers_sent"] == "imei (sha256)"


def test_a_phase_run_twice_is_one_row_and_time_between_steps_has_its_own(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    t0 = b.t0
    b.steps = [{"index": 1, "kind": "idle", "phase": "idle", "start": t0, "end": t0 + 10},
               {"index": 2, "kind": "settings", "phase": "wifi", "start": t0 + 10, "end": t0 + 20},
               {"index": 3, "kind": "idle", "phase": "idle", "start": t0 + 20, "end": t0 + 30}]
    geo = {"country": "IN", "org": "X", "org_country": "IN"}
    b.flow("a.example.in", at=5, server_ip="192.0.2.1", geo=geo)
    b.flow("b.example.in", at=25, server_ip="192.0.2.2", geo=geo)
    b.flow("c.example.in", at=40, server_ip="192.0.2.3", geo=geo)  # after the last step
    a = analyse([b.write()])
    assert list(a.phases["phase"]) == ["idle", "wifi", BETWEEN]
    idle = row(a, "idle")
    assert idle["steps"] == "1, 3" and idle["flows"] == 2
    assert set(idle["destinations"].split(", ")) == {"a.example.in", "b.example.in"}
    assert row(a, BETWEEN)["destinations"] == "c.example.in"


def test_a_step_that_never_ended_ends_its_phase_at_its_last_flow(tmp_path):
    b = CaptureBuilder(tmp_path / "run")
    b.steps = [{"index": 1, "kind": "idle", "phase": "idle", "start": b.t0, "end": None}]  # killed mid-step
    b.flow("a.example.in", at=50, server_ip="192.0.2.1", geo={"country": "IN", "org": "X", "org_country": "IN"})
    a = analyse([b.write()])
    idle = row(a, "idle")
    assert idle["end"] == b.t0 + 50 and idle["duration_s"] == 50.0
    from harness.report import write_reports

    write_reports([b.root], ["csv"], out=tmp_path / "out")  # its times are written, not an overflow
    assert "idle" in (tmp_path / "out" / "phases.csv").read_text()

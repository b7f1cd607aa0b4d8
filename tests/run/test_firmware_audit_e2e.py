"""The shipped firmware-audit profile end to end on virtual:vendor-1.0 (one run for the
module): every phase is recorded in run.json, and the firmware's reactions are captured
in their phases: the activation call with IMSI and ICCID after the SIM goes in, heartbeats
while idle, the config fetch after Settings opens, the location upload, the account binding."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.capture.folder import iter_jsonl

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PHASES = ["setup", "first-start", "sim-insertion", "idle", "settings", "location", "account"]
HEARTBEAT = 5.0  # vendor-1.0's com.vendor.services keepalive


@pytest.fixture(scope="module")
def audit(tmp_path_factory, adb_server):
    """One `lab run` of the shipped profile, its stdin no terminal (nothing is asked here)."""
    root = tmp_path_factory.mktemp("audit")
    lab = {"name": "test-lab", "jurisdiction": "IN", "proxy": {"mode": "explicit", "network": "contained"},
           "devices": [{"serial": "virtual:vendor-1.0", "frida": "local"}],
           "captures_dir": str(root / "captures"), "state_dir": str(root / "state")}
    (root / "lab.yaml").write_text(yaml.safe_dump(lab))
    shutil.copyfile(ROOT / "profiles" / "firmware-audit.yaml", root / "firmware-audit.yaml")
    env = {**os.environ, **{k: adb_server.env[k] for k in
                            ("ANDROID_ADB_SERVER_PORT", "ADB_MDNS", "ADB_MDNS_OPENSCREEN")}}
    lab_bin = Path(sys.executable).parent / "lab"
    result = subprocess.run([str(lab_bin), "run", "firmware-audit.yaml", "--device", "virtual:vendor-1.0",
                             "--quiet", "--json"], cwd=root, env=env, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    (summary,) = json.loads(result.stdout)
    run = Path(summary["run_dir"])
    manifest = json.loads((run / "run.json").read_text())
    return manifest, list(iter_jsonl(run / "flows.jsonl")), run


def phase_of(manifest: dict, ts: float) -> str | None:
    for step in manifest["steps"]:
        if step["start"] <= ts <= step["end"]:
            return step["phase"]
    return None


def flows_in(audit, phase: str, host: str) -> list[dict]:
    manifest, flows, _ = audit
    return [f for f in flows if f["host"] == host and phase_of(manifest, f["ts_start"]) == phase]


def test_every_phase_is_recorded_in_order(audit):
    manifest, _, _ = audit
    assert manifest["status"] == "ok"
    steps = manifest["steps"]
    assert [s["kind"] for s in steps] == ["sim", "settings", "reboot", "sim", "wait", "idle", "settings",
                                          "wait", "settings", "wait", "account", "wait"]
    runs = [p for i, p in enumerate(s["phase"] for s in steps) if i == 0 or steps[i - 1]["phase"] != p]
    assert runs == PHASES
    assert all(s["status"] == "ok" for s in steps), [(s["index"], s["status"], s["error"]) for s in steps]
    assert steps[0]["notes"] == ["sim: removed"] and steps[3]["notes"][0] == "sim: inserted"


def test_the_sim_insertion_sends_imsi_and_iccid(audit):
    (activation,) = flows_in(audit, "sim-insertion", "activation.vendor-cloud.example")
    found = {(f["type"], f["encoding"]) for f in activation["findings"]}
    assert {("imsi", "plain"), ("iccid", "plain")} <= found
    assert "foreign" in activation["flags"]
    _, flows, _ = audit
    assert [f for f in flows if f["host"] == "activation.vendor-cloud.example"] == [activation]


def test_idle_keeps_a_heartbeat_on_its_period(audit):
    beats = sorted(f["ts_start"] for f in flows_in(audit, "idle", "push.vendor-cloud.example"))
    assert len(beats) >= 3
    gaps = [b - a for a, b in zip(beats, beats[1:], strict=False)]
    assert all(abs(g - HEARTBEAT) < 0.25 * HEARTBEAT for g in gaps), gaps
    assert abs(sum(gaps) / len(gaps) - HEARTBEAT) < 0.05 * HEARTBEAT, gaps


def test_opening_settings_fetches_the_config(audit):
    (config,) = flows_in(audit, "settings", "config.vendor-cloud.example")
    assert config["method"] == "GET" and "fw=1.0.0" in config["url"]


def test_enabling_location_uploads_it_and_signing_in_binds_the_account(audit):
    _, flows, _ = audit
    (upload,) = flows_in(audit, "location", "lbs.vendor-cloud.example")
    assert ("android_id", "plain") in {(f["type"], f["encoding"]) for f in upload["findings"]}
    # the planted location, set again after the first-start reboot (test providers live in memory)
    assert "location" in {f["type"] for f in upload["findings"]}, upload["findings"]
    assert [f for f in flows if f["host"] == "lbs.vendor-cloud.example"] == [upload]  # only once location is on
    (bind,) = flows_in(audit, "account", "account.vendor-cloud.example")
    assert b"lab.tester@example.com" in json.dumps(bind).encode() or any(
        f["type"] == "email" for f in bind["findings"])


def test_restore_switched_location_back_on(audit):
    _, _, run = audit
    journal = json.loads((run / "journal.json").read_text())
    switches = [e for e in journal["entries"] if e["kind"] == "switch"]
    assert [(e["undo"]["name"], e["undo"]["previous"]) for e in switches] == [("location", True),
                                                                              ("location", False)]
    assert all(e["state"] == "restored" for e in switches), switches


# --- what the auditor reads (issue 22's acceptance): the report of that one run ------------


@pytest.fixture(scope="module")
def reading(audit):
    from harness.analysis import analyse
    from harness.config import Policy

    _, _, run = audit
    return analyse([run], Policy())


def test_the_report_shows_each_phase_with_its_destinations_and_identifiers(reading):
    phases = reading.phases.set_index("phase")
    assert [p for p in PHASES if p in phases.index] == PHASES
    sim = phases.loc["sim-insertion"]
    assert "activation.vendor-cloud.example" in sim["destinations"]
    assert {"imsi (plain)", "iccid (plain)"} <= {x.strip() for x in sim["identifiers_sent"].split(",")}
    assert phases.loc["idle", "flows"] >= 3 and phases.loc["idle", "bytes_up"] > 0


def test_the_report_finds_the_heartbeat_period_within_five_percent(reading):
    (push,) = reading.recurring[reading.recurring["destination"] == "push.vendor-cloud.example"].itertuples()
    assert abs(push.period_s - HEARTBEAT) <= 0.05 * HEARTBEAT, push.recurrence
    assert push.beats >= 3 and "com.vendor.services" in push.apps


def test_the_verdict_names_the_activation_upload_its_owner_requirements_and_sdk(reading):
    verdict = reading.verdict
    assert list(verdict["n"]) == list(range(1, len(verdict) + 1))  # numbered, most severe first
    lines = verdict[verdict["destination"] == "activation.vendor-cloud.example"]
    assert {"imsi", "iccid"} <= set(lines["data_type"])
    line = lines[lines["data_type"] == "imsi"].iloc[0]
    assert line["finding"].startswith("sent the IMSI (plain) to activation.vendor-cloud.example — run by ")
    assert "(home country CN)" in line["finding"] and "com.vendor.services" in line["finding"]
    assert "MASVS-PRIVACY-2" in line["requirements"] and line["evidence_flows"]
    assert line["sdk"] == "Vendor Services (virtual firmware)"
    assert set(reading.requirements["requirement"]) >= {"MASVS-NETWORK-1", "MASVS-PRIVACY-1"}


SIM_PROFILE = """\
name: sim-insertion
description: the firmware's activation call, alone
apps: [{package: com.vendor.services}]
hooks: [sensitive, network]
steps:
  - sim: remove
    phase: setup
  - sim: insert
    phase: sim-insertion
  - wait: 6s
    phase: sim-insertion
"""


def test_diff_of_the_two_firmwares_names_the_changed_activation_and_its_requirement(tmp_path, adb_server):
    """vendor-1.1's activation call also sends the IMEI: `lab diff` fails on it and names
    the requirement in the Markdown and as a JUnit test case."""
    lab = {"name": "test-lab", "jurisdiction": "IN", "proxy": {"mode": "explicit", "network": "contained"},
           "captures_dir": str(tmp_path / "captures"), "state_dir": str(tmp_path / "state")}
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump(lab))
    (tmp_path / "sim.yaml").write_text(SIM_PROFILE)
    env = {**os.environ, **{k: adb_server.env[k] for k in
                            ("ANDROID_ADB_SERVER_PORT", "ADB_MDNS", "ADB_MDNS_OPENSCREEN")}}
    lab_bin = str(Path(sys.executable).parent / "lab")
    ran = subprocess.run([lab_bin, "run", "sim.yaml", "--device", "virtual:vendor-1.0", "--device",
                          "virtual:vendor-1.1", "--quiet", "--json"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300, check=False)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    runs = {r["run_dir"].split("virtual_")[-1].rsplit("-", 1)[0]: r["run_dir"] for r in json.loads(ran.stdout)}
    diff = subprocess.run([lab_bin, "diff", runs["vendor-1.0"], runs["vendor-1.1"], "--junit", "junit.xml"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert diff.returncode == 1, diff.stderr + diff.stdout
    changed = [line for line in diff.stdout.splitlines() if "activation.vendor-cloud.example" in line]
    assert any("imei" in line and "MASVS-PRIVACY" in line for line in changed), diff.stdout
    junit = (tmp_path / "junit.xml").read_text()
    assert 'classname="lab.diff.requirements"' in junit and "MASVS-PRIVACY-2" in junit
    assert "<failure" in junit

"""`lab run` end to end on virtual handsets: real adb, real mitmproxy, real Frida, real JVMs."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from support.full_capture import around_the_proxy

from harness.analysis import analyse
from harness.capture.folder import JsonlStats, iter_jsonl
from harness.devices.journal import EntryState, Journal, JournalStatus
from harness.devices.processes import processes
from harness.virtual.netns import unavailable_reason

pytestmark = pytest.mark.e2e
REASON = unavailable_reason()  # None: lab.yaml's default (auto) is full capture here


def _flows(run: Path) -> list[dict]:
    return list(iter_jsonl(run / "flows.jsonl"))


def _hooks(run: Path) -> list[dict]:
    return list(iter_jsonl(run / "hooks.jsonl"))


DEMO_PROFILE = {
    "name": "short-demo",
    "description": "make demo, shorter: firmware timer traffic, the hashed IMEI, the pinned bank, the ad SDK "
                   "and the location upload that go around the proxy.",
    "apps": [{"package": "com.vendor.telemetry"}, {"package": "com.vendor.services"}, {"package": "com.vendor.weather"},
             {"package": "com.vendor.bank"}, {"package": "com.vendor.adsdk"}],
    "hooks": ["sensitive", "network"],
    "steps": [
        {"settings": {"location": "off"}},
        {"idle": "2s"},
        {"launch": {"package": "com.vendor.weather", "wait": "12s"}},
        {"launch": {"package": "com.vendor.bank", "wait": "4s"}},
        {"launch": {"package": "com.vendor.adsdk", "wait": "2s"}},
        {"settings": {"location": "on"}},
        {"stop": {"package": "com.vendor.weather"}},
        {"idle": "2s"},
    ],
}


def test_demo_run_captures_phone_home_imei_and_pinning(tmp_path, adb_env, lab_files):
    """What `make demo` runs: lab.yaml's default capture mode (auto: full capture through the
    WireGuard tunnel where the machine can make it), with the report."""
    if REASON is not None:
        pytest.skip(f"auto is the explicit proxy here (no handset namespace: {REASON}); "
                    "test_a_run_started_with_nohup_goes_on_after_sighup covers that mode")
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:vendor-1.0", "frida": "local"}], None,
                      DEMO_PROFILE)
    lab = yaml.safe_load(files.lab.read_text())
    del lab["proxy"]["mode"]  # the default, as in the shipped lab.yaml
    files.lab.write_text(yaml.safe_dump(lab))
    result = files.lab_cmd("run", "profile.yaml", "--device", "virtual:vendor-1.0", "--quiet", "--json", "--report")
    assert result.returncode == 0, result.stderr + result.stdout
    (summary,) = json.loads(result.stdout)
    run = Path(summary["run_dir"])
    assert summary["status"] == "ok"
    assert summary["capture"] == ("wireguard capture: auto: the WireGuard app is installed and the handset "
                                  "reaches the server (loopback)")
    assert [Path(p).name for p in summary["reports"]] == ["report.html"]
    html = Path(summary["reports"][0]).read_text()  # the report's coverage by kind shows the new kinds
    said = re.search(r'<dd id="coverage-by-kind">(.*?)</dd>', html, re.S).group(1)
    assert said.endswith("(capture mode: wireguard)"), said
    for kind, label in (("tcp", "TCP (not HTTP)"), ("udp", "UDP"), ("http3", "HTTP/3")):
        assert re.search(rf'<span data-kind="{kind}">{re.escape(label)}: [1-9][0-9]* flow\(s\)', said), said
    assert oct(run.stat().st_mode & 0o777) == "0o700"
    loose = [p.name for p in run.iterdir() if p.is_file() and p.stat().st_mode & 0o077]
    assert not loose, f"capture files readable by others: {loose}"

    flows = _flows(run)
    hosts = {f["host"] for f in flows}
    assert "telemetry.vendor-cloud.example" in hosts  # the firmware's phone-home
    analytics = [f for f in flows if f["host"] == "analytics.vendor-cloud.example" and f["kind"] == "http"]
    assert analytics, hosts
    assert any(fd["type"] == "imei" and fd["encoding"] == "sha256" for f in analytics for fd in f["findings"])
    assert all("foreign" in f["flags"] for f in analytics)
    pinned = [f for f in flows if f["host"] == "api.bank.example" and f["kind"] != "dns"]
    assert pinned and all(f["kind"] == "tls_failed" and "tls_rejected" in f["flags"] for f in pinned)
    # full capture: what goes around the proxy setting comes through the tunnel
    seen = around_the_proxy(flows)
    assert set(seen) >= {"tcp", "udp", "h3"}, sorted(seen)
    # the apps look names up through the tunnel's resolver, as on a phone: the lookups are
    # recorded, and the raw flows are named by them
    looked_up = {(f.get("dns") or {}).get("name") for f in flows if f["kind"] == "dns"}
    assert {"push.vendor-cloud.example", "beacon.adsdk.example", "lbs.vendor-cloud.example"} <= looked_up
    assert (seen["tcp"]["host"], seen["udp"]["host"]) == ("push.vendor-cloud.example", "beacon.adsdk.example")
    # the hooked firmware service's connect() names the app of its raw push channel
    analysed = analyse([run]).flows
    push = analysed[(analysed["kind"] == "tcp") & (analysed["server_port"] == 5222)]
    assert set(push["app"]) == {"com.vendor.services"}, push[["app", "attribution_method"]]
    assert ("imei", "base64") in {(f["type"], f.get("encoding")) for f in seen["tcp"]["findings"]}, seen["tcp"]
    assert seen["udp"]["server_ip"] == "8.209.64.20" and seen["h3"]["server_ip"] == "47.88.1.50"
    beacon = [f for f in flows if f["host"] == "beacon.adsdk.example" and f["kind"] == "http"]
    assert beacon and any(fd["type"] == "advertising_id" for f in beacon for fd in f["findings"])

    hooks = _hooks(run)
    imei_reads = [h for h in hooks if h.get("type") == "hook:event" and h["api"].endswith("getImei")]
    assert {h["package"] for h in imei_reads} >= {"com.vendor.weather"}
    canaries = json.loads((run / "canaries.json").read_text())
    weather = [h for h in imei_reads if h["package"] == "com.vendor.weather"]
    assert weather[0]["value"] == canaries["identifiers"]["imei"]
    assert any("com.vendor.analytics.Tracker" in frame for frame in weather[0]["stack"])
    assert weather[0]["pid"] > 0

    manifest = json.loads((run / "run.json").read_text())
    assert [s["kind"] for s in manifest["steps"]] == [
        "settings", "idle", "launch", "launch", "launch", "settings", "stop", "idle"]
    assert (manifest["proxy"]["configured_mode"], manifest["proxy"]["mode"]) == ("auto", "wireguard")
    assert manifest["proxy"]["mode_reason"] == summary["capture"].removeprefix("wireguard capture: ")
    journal = Journal.load(run / "journal.json")  # the tunnel instead of the proxy setting, all undone
    kinds = {e.kind for e in journal.entries}
    assert "wireguard_up" in kinds and "http_proxy" not in kinds and "reverse" not in kinds
    assert journal.status == JournalStatus.RESTORED and {e.state for e in journal.entries} == {EntryState.RESTORED}
    assert manifest["device"]["fingerprint"].startswith("vendorco/")
    assert manifest["tools"]["frida"] and manifest["tools"]["mitmproxy"] == "11.0.2"

    verified = files.lab_cmd("verify", str(run))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # the Parquet export, written after run.json under report/: outside the manifest (issue 23)
    export = run / "report" / "export"
    assert {p.name for p in export.iterdir()} >= {
        "destinations.parquet", "findings.parquet", "flows.parquet", "reads.parquet", "runs.parquet"}
    assert "not covered by the manifest (written by lab report): report/export/runs.parquet" in verified.stdout
    (exported,) = pq.read_table(export / "runs.parquet").to_pylist()
    assert (exported["handset"], exported["flows"]) == ("virtual:vendor-1.0", len(_flows(run)))
    data = bytearray((run / "flows.jsonl").read_bytes())
    data[len(data) // 2] ^= 0x20
    (run / "flows.jsonl").write_bytes(bytes(data))
    tampered = files.lab_cmd("verify", str(run))
    assert tampered.returncode == 1
    assert "changed: flows.jsonl" in tampered.stdout


def test_two_handsets_in_one_run_each_get_a_capture(tmp_path, adb_env, lab_files):
    profile = {"name": "two", "apps": [{"package": "com.vendor.telemetry"}],
               "steps": [{"idle": "11s"}]}
    devices = [{"serial": "virtual:vendor-1.0", "frida": "local"},
               {"serial": "virtual:vendor-1.1", "frida": "local"}]
    files = lab_files(tmp_path / "lab", adb_env, devices, None, profile)
    result = files.lab_cmd("run", "profile.yaml", "--device", "virtual:vendor-1.0",
                           "--device", "virtual:vendor-1.1", "--quiet", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    summaries = json.loads(result.stdout)
    assert [s["status"] for s in summaries] == ["ok", "ok"]
    dirs = {Path(s["run_dir"]) for s in summaries}
    assert len(dirs) == 2
    fingerprints = set()
    for run in dirs:
        manifest = json.loads((run / "run.json").read_text())
        fingerprints.add(manifest["device"]["fingerprint"])
        assert {f["host"] for f in _flows(run)} >= {"telemetry.vendor-cloud.example"}
        assert files.lab_cmd("verify", str(run)).returncode == 0
    assert len(fingerprints) == 2


def _start_run(files, handset):
    before = handset.state_dump()
    proc = files.popen("run", "profile.yaml", "--device", handset.serial, "--quiet")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = files.runs()
        if runs and len(_flows(runs[0])) >= 2:
            return before, proc, runs[0]
        if proc.poll() is not None:
            pytest.fail(f"lab run ended early: {proc.communicate()}")
        time.sleep(0.5)
    proc.kill()
    pytest.fail("no flows within 120 s")


def _lab_for(lab_files, tmp_path, adb_env, handset):
    return lab_files(tmp_path / "lab", adb_env, [{"serial": handset.serial, "frida": "local"}],
                     handset.process.zone_path)


def test_sigint_restores_the_handset_and_keeps_every_flow(tmp_path, adb_env, virtual_handset, lab_files):
    handset = virtual_handset("vendor-1.0")
    files = _lab_for(lab_files, tmp_path, adb_env, handset)
    before, proc, run = _start_run(files, handset)
    seen = len(_flows(run))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    manifest = json.loads((run / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    assert len(_flows(run)) >= seen
    assert handset.state_dump() == before
    assert files.lab_cmd("verify", str(run)).returncode == 0


def test_sigkill_then_lab_restore_restores_the_handset(tmp_path, adb_env, virtual_handset, lab_files):
    handset = virtual_handset("vendor-1.0")
    files = _lab_for(lab_files, tmp_path, adb_env, handset)
    before, proc, run = _start_run(files, handset)
    seen = len(_flows(run))
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    stats = JsonlStats()
    assert len(list(iter_jsonl(run / "flows.jsonl", stats))) >= seen
    assert len(stats.garbled_lines) <= 1  # at most the record in flight was torn
    assert not (run / "run.json").exists()
    restored = files.lab_cmd("restore", handset.serial)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert handset.state_dump() == before


def _session(sid: int) -> set[int]:
    """PIDs of the live processes in session `sid` (a virtual handset and its JVMs)."""
    return {p.pid for p in processes() if p.session == sid and p.state != "Z"}


def _kill_session(sid: int) -> None:
    for pid in _session(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _running_virtual_run(files, proc) -> tuple[Path, int]:
    """Wait for the run's capture to hold flows; return it and its virtual handset's PID."""
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        runs = files.runs()
        ready = sorted((files.state / "virtual").glob("*/ready.json"))
        if runs and ready and len(_flows(runs[0])) >= 2:
            return runs[0], json.loads(ready[0].read_text())["pid"]
        if proc.poll() is not None:
            pytest.fail(f"lab run ended early: {proc.communicate()}")
        time.sleep(0.5)
    proc.kill()
    pytest.fail("no flows within 150 s")


@pytest.mark.parametrize("how", ["sighup", "terminal_closed"])
def test_sighup_ends_the_run_like_sigint_and_restores_the_handset(tmp_path, adb_env, lab_files, how):
    """An SSH session that drops sends SIGHUP: the run winds down, restores, writes run.json."""
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:vendor-1.0", "frida": "local"}], None)
    args = ("run", "profile.yaml", "--device", "virtual:vendor-1.0")
    if how == "sighup":
        proc, hang_up = files.popen(*args, "--quiet"), None
    else:  # the progress display draws on the terminal that goes away
        proc, hang_up = files.on_terminal(*args)
    handset_pid = 0
    try:
        run, handset_pid = _running_virtual_run(files, proc)
        assert len(_session(handset_pid)) > 1  # the handset and its apps' JVMs
        if hang_up is None:
            proc.send_signal(signal.SIGHUP)
        else:
            hang_up.set()  # the terminal goes away: the kernel sends SIGHUP
        proc.wait(timeout=120)
        assert proc.returncode == 130  # interrupted; after a hang-up too (no traceback on the dead terminal)
        manifest = json.loads((run / "run.json").read_text())
        assert manifest["status"] == "interrupted"
        assert files.lab_cmd("verify", str(run)).returncode == 0
        for path in (run / "journal.json", *(files.state / "journals").glob("*.json")):
            journal = Journal.load(path)
            assert journal.status == JournalStatus.RESTORED, path
            assert {e.kind for e in journal.entries} >= {"http_proxy", "reverse", "ca"}
            assert {e.state for e in journal.entries} == {EntryState.RESTORED}, path
        assert not _session(handset_pid), "the virtual handset or its JVMs still run"
        assert not list((files.state / "virtual").iterdir())  # its runtime folder went with it
    finally:
        if proc.poll() is None:
            proc.kill()
        if handset_pid:
            _kill_session(handset_pid)


def test_a_run_started_with_nohup_goes_on_after_sighup(tmp_path, adb_env, lab_files):
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:vendor-1.0", "frida": "local"}], None)
    proc = files.popen("run", "profile.yaml", "--device", "virtual:vendor-1.0", "--quiet", wrapper=("nohup",))
    handset_pid = 0
    try:
        run, handset_pid = _running_virtual_run(files, proc)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, out + err
        manifest = json.loads((run / "run.json").read_text())
        assert manifest["status"] == "ok"
        assert (manifest["proxy"]["mode"], manifest["proxy"]["mode_reason"]) == (
            "explicit", "lab.yaml proxy.mode: explicit")
        # the explicit proxy sees the proxied apps: the hashed IMEI sent abroad, the pinned bank
        flows = _flows(run)
        analytics = [f for f in flows if f["host"] == "analytics.vendor-cloud.example" and f["kind"] == "http"]
        assert any(fd["type"] == "imei" and fd["encoding"] == "sha256" for f in analytics for fd in f["findings"])
        pinned = [f for f in flows if f["host"] == "api.bank.example"]
        assert pinned and all(f["kind"] == "tls_failed" and "tls_rejected" in f["flags"] for f in pinned)
        assert not [f for f in flows if f["kind"] in ("dns", "tcp", "udp")]  # nothing around the proxy
    finally:
        if proc.poll() is None:
            proc.kill()
        if handset_pid:
            _kill_session(handset_pid)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_lab_restore_stops_the_virtual_handset_of_a_killed_run_and_removes_its_folder(
        tmp_path, adb_env, adb_server, lab_files):
    from harness.config import load_lab
    from harness.devices import open_device

    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:vendor-1.0", "frida": "local"}], None)
    proc = files.popen("run", "profile.yaml", "--device", "virtual:vendor-1.0", "--quiet")
    orphan_pid, kept = 0, None
    try:
        run, orphan_pid = _running_virtual_run(files, proc)
        (orphan_dir,) = (p.parent for p in (files.state / "virtual").glob("*/ready.json"))
        serial = json.loads((orphan_dir / "ready.json").read_text())["serial"]
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        time.sleep(1.0)
        orphans = _session(orphan_pid)  # the handset and its apps' JVMs outlive the run
        assert orphan_pid in orphans and len(orphans) > 1
        # a virtual handset whose owner (this process) lives: left alone
        kept = open_device("virtual:vendor-1.1", load_lab(files.lab), client=adb_server.client)
        kept_dir = kept.virtual.runtime_dir
        assert kept_dir.parent == orphan_dir.parent

        restored = files.lab_cmd("restore")
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert not [pid for pid in orphans if _running(pid)], "the orphan handset or a JVM still runs"
        assert not orphan_dir.exists()
        assert f"restored {serial}: " in restored.stdout
        assert f"stopped virtual handset {serial}" in restored.stdout, restored.stdout
        journal = Journal.load(run / "journal.json")
        assert journal.status == JournalStatus.RESTORED
        assert _running(kept.virtual.pid) and kept_dir.is_dir()
        assert kept.sh("getprop ro.build.fingerprint").stdout.strip()  # still answers

        again = files.lab_cmd("restore")
        assert again.returncode == 0 and "nothing to restore" in again.stdout, again.stdout + again.stderr
        assert _running(kept.virtual.pid) and kept_dir.is_dir()
        kept.close()  # a handset stopped by its owner takes its folder along
        kept = None
        assert not kept_dir.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        if kept is not None:
            kept.close()
        if orphan_pid:
            _kill_session(orphan_pid)


ABSENT = "com.example.absent"


@pytest.mark.parametrize(("steps", "status"), [
    ([{"launch": {"package": ABSENT, "wait": "1s"}}, {"idle": "1s"},
      {"launch": {"package": ABSENT + "2", "wait": "1s"}}], "partial"),
    ([{"launch": {"package": ABSENT, "wait": "1s"}}, {"launch": {"package": ABSENT + "2", "wait": "1s"}}], "failed"),
], ids=["some-steps-failed", "all-steps-failed"])
def test_a_run_whose_steps_failed_is_partial_or_failed_and_exits_3(tmp_path, adb_env, lab_files, steps, status):
    profile = {"name": "refused", "apps": [{"package": "com.vendor.telemetry"}], "steps": steps}
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": "virtual:vendor-1.0", "frida": "local"}], None, profile)
    result = files.lab_cmd("run", "profile.yaml", "--device", "virtual:vendor-1.0", "--quiet", "--json")
    assert result.returncode == 3, result.stdout + result.stderr
    (summary,) = json.loads(result.stdout)
    failed = [s for s in steps if "launch" in s]
    assert summary["status"] == status
    assert summary["error"].startswith(f"{len(failed)} of {len(steps)} steps failed: step 1 launch: ")
    manifest = json.loads((Path(summary["run_dir"]) / "run.json").read_text())
    assert manifest["status"] == status
    assert [s["status"] for s in manifest["steps"]] == ["failed" if s in failed else "ok" for s in steps]

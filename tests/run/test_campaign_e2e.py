"""`lab campaign run` end to end: a real `dask scheduler`, `lab worker`s as hosts owning
virtual handsets, real `lab run`s into one store; the embedded mode on one host; a worker
killed mid-run; Ctrl-C; re-runs that skip what is done.

Virtual handsets take 10-20 s each to start, so the profiles are short (one launch and a
2 s idle; a 2 s idle) and the campaigns small."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from harness.capture import verify
from harness.devices.journal import Journal, JournalStatus

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "campaigns" / "example.yaml"
BIN = Path(sys.executable).parent
QUICK = {
    "quick-launch": {"name": "quick-launch", "apps": [{"package": "ca.zgrs.clipper"}], "hooks": ["network"],
                     "steps": [{"launch": {"package": "ca.zgrs.clipper", "wait": "1s"}}, {"idle": "2s"}]},
    "quick-idle": {"name": "quick-idle", "steps": [{"idle": "2s"}]},
}
SLOW = {"slow-idle": {"name": "slow-idle", "steps": [{"idle": "25s"}]}}
# Two hosts, each owning different handsets (the example campaign's four).
HOSTS = {"host-a": ["virtual:vendor-1.0", "virtual:reference"],
         "host-b": ["virtual:vendor-1.1", "virtual:rooted-a14"]}


def write_campaign(root: Path, handsets: list[str], profiles: dict[str, dict], store: Path | None = None) -> Path:
    """campaigns/example.yaml with the test's short profiles, its handsets cut to `handsets`."""
    root.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(EXAMPLE.read_text())
    data["profiles"] = []
    for name, profile in profiles.items():
        (root / f"{name}.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
        data["profiles"].append(f"{name}.yaml")
    known = [h for h in data["handsets"] if h["serial"] in handsets]
    data["handsets"] = known + [h for h in handsets if h not in {k["serial"] for k in known}]
    data["baselines"] = [b for b in data["baselines"]
                         if {b["baseline"]["handset"], b["new"]["handset"]} <= set(handsets)]
    data["store"] = str(store or root / "store")
    path = root / "campaign.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 120) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture
def scheduler(tmp_path):
    """A real `dask scheduler` on 127.0.0.1, a free port."""
    port = _free_port()
    log = (tmp_path / "scheduler.log").open("wb")
    proc = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                             "--dashboard-address", "127.0.0.1:0"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()
            time.sleep(0.2)
    yield f"tcp://127.0.0.1:{port}"
    _stop(proc)
    log.close()


@dataclass
class Host:
    """A handset host: its own lab.yaml and state folder, and its `lab worker`."""

    name: str
    files: object  # LabFiles (tests/run/conftest.py)
    handsets: list[str]
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.files.root / f"worker-{self.starts}.log"

    def start(self, scheduler: str) -> None:
        self.starts += 1
        args = [str(BIN / "lab"), "worker", "--scheduler", scheduler, "--name", self.name]
        for serial in self.handsets:
            args += ["--handset", serial]
        with self.log.open("wb") as log:  # the worker keeps its own copy of the descriptor
            self.proc = subprocess.Popen(args, env=self.files.env, cwd=self.files.root, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while "offers" not in self.log.read_text():
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.2)

    def journals(self) -> list[Journal]:
        return [Journal.load(p) for p in sorted((self.files.state / "journals").glob("*.json"))]


@pytest.fixture
def hosts(tmp_path, adb_env, lab_files, scheduler):
    """Factory: hosts({"host-a": [serials], ...}) -> {name: Host}, each with its `lab worker` started."""
    started: list[Host] = []

    def make(layout: dict[str, list[str]]) -> dict[str, Host]:
        out = {}
        for name, serials in layout.items():
            files = lab_files(tmp_path / name, adb_env, [{"serial": s, "frida": "local"} for s in serials], None)
            host = Host(name, files, serials)
            started.append(host)
            host.start(scheduler)
            out[name] = host
        return out

    yield make
    for host in started:
        if host.proc is not None:
            _stop(host.proc)
        host.files.lab_cmd("restore", timeout=120)  # a failed test leaves no handset prepared or running


def campaign_cmd(files, *args: str, timeout: float = 600) -> tuple[int, dict]:
    proc = subprocess.run([str(BIN / "lab"), "campaign", "run", *args, "--json"], env=files.env,
                          cwd=files.root, capture_output=True, text=True, timeout=timeout, check=False)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"no JSON from lab campaign run (exit {proc.returncode}): {proc.stdout}\n{proc.stderr}")


def _owner(layout: dict[str, list[str]], serial: str) -> str:
    return next(host for host, serials in layout.items() if serial in serials)


@pytest.mark.timeout(900)
def test_a_campaign_on_two_hosts_runs_each_run_where_its_handset_is(tmp_path, hosts, scheduler, lab_files, adb_env):
    cluster = hosts(HOSTS)
    serials = [s for owned in HOSTS.values() for s in owned]
    campaign = write_campaign(tmp_path / "client", serials, QUICK)
    client = lab_files(tmp_path / "client", adb_env, [], None)
    (client.root / "lab.yaml").unlink()  # the client needs no lab of its own on a cluster
    code, result = campaign_cmd(client, str(campaign), "--scheduler", scheduler)
    verdicts = {b["verdict"] for b in result["baselines"]}  # vendor 1.0 -> 1.1, per profile
    assert len(result["baselines"]) == 2 and verdicts <= {"ok", "regression"}, result["baselines"]
    assert code == (1 if "regression" in verdicts else 0), result
    runs = result["runs"]
    assert len(runs) == 2 * 4 and {r["status"] for r in runs} == {"ok"}, runs
    store = Path(result["store"])
    index = json.loads((store / "campaign.json").read_text())
    assert {r["key"]: r["host"] for r in index["runs"]} == {
        r["key"]: _owner(HOSTS, r["handset"]) for r in runs}
    assert {h: sorted(v["handsets"]) for h, v in index["hosts"].items()} == {h: sorted(s) for h, s in HOSTS.items()}
    for record in index["runs"]:
        capture = store / record["capture"]
        manifest = json.loads((capture / "run.json").read_text())
        assert manifest["host"]["worker"] == _owner(HOSTS, record["handset"])  # run.json says where it ran
        assert manifest["requested_device"] == record["handset"]
        assert manifest["campaign"] == {"id": "example", "run": record["key"]}
        assert verify(capture).ok, capture  # each capture verifiable on its own
    for host in cluster.values():
        assert {j.status for j in host.journals()} == {JournalStatus.RESTORED}

    # the campaign report's figures are the sums of the single-run reports'
    report = subprocess.run([str(BIN / "lab"), "campaign", "report", str(store), "--json", "--format", "json",
                             "--out", str(tmp_path / "campaign-report")], env=client.env, cwd=client.root,
                            capture_output=True, text=True, timeout=300, check=False)
    assert report.returncode == 0, report.stdout + report.stderr
    summary = json.loads(report.stdout)["summary"]
    singles = []
    for record in index["runs"]:
        out = tmp_path / "single" / record["run_id"]
        single = subprocess.run([str(BIN / "lab"), "report", str(store / record["capture"]), "--format", "json",
                                 "--out", str(out)], env=client.env, cwd=client.root, capture_output=True,
                                text=True, timeout=300, check=False)
        assert single.returncode == 0, single.stderr
        singles.append(json.loads((out / "report.json").read_text())["summary"]["counts"])
    assert summary["captures"] == summary["captures_reported"] == len(singles)
    assert summary["flows"] == sum(c["flows"] for c in singles)
    assert summary["findings"] == sum(c["findings"] for c in singles)


@pytest.mark.timeout(600)
def test_a_worker_killed_mid_run_fails_its_run_and_restores_its_handset_when_it_is_back(
        tmp_path, hosts, scheduler, lab_files, adb_env):
    layout = {"host-a": ["virtual:vendor-1.0"], "host-b": ["virtual:reference"]}
    cluster = hosts(layout)
    campaign = write_campaign(tmp_path / "client", ["virtual:vendor-1.0", "virtual:reference"], SLOW)
    client = lab_files(tmp_path / "client", adb_env, [], None)
    proc = subprocess.Popen([str(BIN / "lab"), "campaign", "run", str(campaign), "--scheduler", scheduler,
                             "--json"], env=client.env, cwd=client.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    a = cluster["host-a"]
    deadline = time.monotonic() + 180
    while not [j for j in a.journals() if j.status == JournalStatus.PREPARED]:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    ready = list((a.files.state / "virtual").glob("*/ready.json"))
    handset_pid = json.loads(ready[0].read_text())["pid"]
    os.killpg(a.proc.pid, signal.SIGKILL)  # the host dies: `lab worker` and its `lab run` with it
    a.proc.wait(10)
    (journal,) = a.journals()
    assert journal.status == JournalStatus.PREPARED  # nobody restored it: the handset is left prepared
    a.start(scheduler)  # the host is back: its worker restores the handset first
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, out + err
    result = json.loads(out)
    by_handset = {r["handset"]: r for r in result["runs"]}
    lost = by_handset["virtual:vendor-1.0"]
    assert lost["status"] == "failed" and lost["host"] == "host-a"
    assert "was lost mid-run" in lost["error"], lost
    assert by_handset["virtual:reference"]["status"] == "ok"
    assert result["missing"] == [lost["key"]]
    index = json.loads((Path(result["store"]) / "campaign.json").read_text())
    recorded = {r["key"]: r for r in index["runs"]}[lost["key"]]
    assert recorded["status"] == "failed" and recorded["capture"]  # the killed attempt's capture, no run.json
    assert not (Path(result["store"]) / recorded["capture"] / "run.json").exists()
    assert len(list((Path(result["store"]) / recorded["capture"]).parent.iterdir())) == 1  # not run again
    assert f"restored {journal.serial}" in a.log.read_text()
    (journal,) = a.journals()
    assert journal.status == JournalStatus.RESTORED
    assert not Path(f"/proc/{handset_pid}").exists() or \
        Path(f"/proc/{handset_pid}/stat").read_text().split(") ")[1].startswith("Z")  # its handset stopped
    _stop(a.proc, signal.SIGTERM)
    assert a.proc.returncode == 0 and "stopped" in a.log.read_text()


@pytest.mark.timeout(600)
def test_embedded_campaign_ctrl_c_then_complete_then_skip(tmp_path, lab_files, adb_env):
    serials = ["virtual:vendor-1.0", "virtual:vendor-1.1"]
    files = lab_files(tmp_path / "lab", adb_env, [{"serial": s, "frida": "local"} for s in serials], None)
    campaign = write_campaign(tmp_path / "lab", [*serials, "GONE0001"], QUICK)

    # Ctrl-C (SIGINT to the client alone): every run winds down and restores its handset
    proc = subprocess.Popen([str(BIN / "lab"), "campaign", "run", str(campaign), "--json", "--name", "bench-1"],
                            env=files.env, cwd=files.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    journals = files.state / "journals"
    while not [p for p in journals.glob("*.json") if Journal.load(p).status == JournalStatus.PREPARED]:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode in (3, 130), out + err  # 3: the handset that is gone failed its run
    first = json.loads(out)
    assert first["interrupted"] and first["mode"] == "embedded"
    statuses = {r["key"]: r["status"] for r in first["runs"]}
    assert "interrupted" in statuses.values(), statuses
    assert {s for k, s in statuses.items() if "GONE0001" not in k} <= {"interrupted", "ok"}
    assert {Journal.load(p).status for p in journals.glob("*.json")} == {JournalStatus.RESTORED}
    interrupted = [r for r in first["runs"] if r["status"] == "interrupted" and r["capture"]]
    assert interrupted and all(
        json.loads((Path(first["store"]) / r["capture"] / "run.json").read_text())["status"] == "interrupted"
        for r in interrupted)

    # run again: the runs not done are run (the interrupted captures kept as superseded); a
    # handset that is gone fails its runs, not the campaign
    code, second = campaign_cmd(files, str(campaign), "--name", "bench-1")
    assert code == 3, second
    by_key = {r["key"]: r for r in second["runs"]}
    gone = [r for k, r in by_key.items() if "GONE0001" in k]
    assert len(gone) == 2 and {r["status"] for r in gone} == {"failed"}
    assert all("GONE0001" in r["error"] for r in gone), gone
    done = [r for r in by_key.values() if r["handset"] in serials]
    assert {r["status"] for r in done} == {"ok"} and {r["host"] for r in done} == {"bench-1"}
    assert sorted(second["missing"]) == sorted(r["key"] for r in gone)
    for r in interrupted:
        assert by_key[r["key"]]["superseded"] == [r["capture"]]
    for r in done:
        manifest = json.loads((Path(second["store"]) / r["capture"] / "run.json").read_text())
        assert manifest["host"]["worker"] == "bench-1" and manifest["status"] == "ok"
    assert len(second["baselines"]) == 2 and {b["verdict"] for b in second["baselines"]} <= {"ok", "regression"}

    # and again: every run done and verified is skipped, nothing runs
    before = sorted(p.name for p in (Path(second["store"]) / "captures").glob("*/*"))
    code, third = campaign_cmd(files, str(campaign), "--name", "bench-1")
    assert code == 3
    assert {r["key"] for r in third["runs"] if r["skipped"]} == {r["key"] for r in done}
    after = sorted(p.name for p in (Path(second["store"]) / "captures").glob("*/*"))
    assert after == before  # no new capture: the gone handset's runs never made one

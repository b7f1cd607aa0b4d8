"""Runtime folders of virtual handsets: who owns them, and stopping orphans by PID.

Real processes stand in for a handset (a session leader with `--runtime-dir FOLDER` in
its arguments, one child in its session) and for a JVM whose handset is already gone
(`-Djava.io.tmpdir=FOLDER`); the full story (a SIGKILLed `lab run`, then `lab restore`)
is in tests/run/test_run_e2e.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.devices.processes import alive, processes, start_time
from harness.devices.virtual_runtime import (
    NETNS_NAME,
    OWNER_JSON,
    RuntimeFolder,
    orphans,
    record_owner,
    runtime_folders,
    runtime_root,
    stop_orphan,
)

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
HANDSET = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']);"
           " time.sleep(120)")


@pytest.fixture
def started():
    procs: list[subprocess.Popen[bytes]] = []

    def start(*argv: str, new_session: bool = True) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, *argv], start_new_session=new_session)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        for pid in _session(proc.pid) | {proc.pid}:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        proc.wait(10)


def _session(sid: int) -> set[int]:
    """PIDs of the live processes in session `sid` (a virtual handset and its JVMs)."""
    return {p.pid for p in processes() if p.session == sid and p.state != "Z"}


def _wait(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _folder(state: Path, name: str = "vendor-1.0", owner: int = 0) -> Path:
    path = runtime_root(state) / f"{name}-{owner or os.getpid()}-{time.time_ns()}"
    path.mkdir(parents=True)
    return path


def test_a_folder_is_owned_while_its_owner_runs_and_an_orphan_after(tmp_path, started):
    folder = _folder(tmp_path)
    owner = started("-c", "import sys, time; from pathlib import Path; "
                    "from harness.devices.virtual_runtime import record_owner; "
                    "record_owner(Path(sys.argv[1]), 'vendor-1.0'); time.sleep(120)", str(folder))
    assert _wait(lambda: (folder / OWNER_JSON).exists())
    (found,) = runtime_folders(tmp_path)
    assert (found.owner, found.handset, found.owned) == (owner.pid, "vendor-1.0", True)
    assert orphans(tmp_path) == []
    owner.kill()
    owner.wait(10)
    assert [f.path for f in orphans(tmp_path)] == [folder]


def test_a_reused_pid_is_not_the_owner(tmp_path):
    folder = _folder(tmp_path)
    record_owner(folder, "vendor-1.0")
    assert RuntimeFolder.read(folder).owned
    data = json.loads((folder / OWNER_JSON).read_text())
    data["start"] = start_time(os.getpid()) - 1  # this PID, but another process's start
    (folder / OWNER_JSON).write_text(json.dumps(data))
    assert not RuntimeFolder.read(folder).owned


def test_a_folder_from_before_owner_files_is_owned_by_the_pid_in_its_name(tmp_path, started):
    owner = started("-c", "import time; time.sleep(120)")
    folder = _folder(tmp_path, "vendor-1.1", owner=owner.pid)
    (folder / "ready.json").write_text(json.dumps({"serial": "127.0.0.1:5999", "handset": "vendor-1.1"}))
    found = RuntimeFolder.read(folder)
    assert (found.owner, found.serial, found.handset, found.owned) == (owner.pid, "127.0.0.1:5999", "vendor-1.1", True)
    owner.kill()
    owner.wait(10)
    assert not RuntimeFolder.read(folder).owned


def test_stop_orphan_stops_the_handset_its_session_and_its_jvms_by_pid_and_removes_the_folder(tmp_path, started):
    folder = _folder(tmp_path, owner=999_999_999)
    handset = started("-c", HANDSET, "--runtime-dir", str(folder))
    assert _wait(lambda: len(_session(handset.pid)) == 2)
    jvm = started("-c", STUBBORN, f"-Djava.io.tmpdir={folder}")  # outlived its handset, ignores SIGTERM
    other = started("-c", HANDSET, "--runtime-dir", str(folder) + "-other")
    bystander = started("-c", "import time; time.sleep(120)", str(folder), "--runtime-dir")
    assert _wait(lambda: len(_session(other.pid)) == 2)
    doomed = _session(handset.pid) | {jvm.pid}

    (orphan,) = orphans(tmp_path)
    leaders, members = orphan.processes()
    assert leaders == [handset.pid] and set(members) == doomed
    assert set(stop_orphan(orphan, timeout=1.0)) == doomed
    assert not [pid for pid in doomed if alive(pid)]
    assert not folder.exists()
    assert alive(other.pid) and len(_session(other.pid)) == 2 and alive(bystander.pid)


def test_an_orphan_with_nothing_running_is_only_removed(tmp_path):
    folder = _folder(tmp_path, owner=999_999_999)
    (folder / "handset.log").write_text("...")
    (orphan,) = orphans(tmp_path)
    assert stop_orphan(orphan) == []
    assert not folder.exists() and runtime_folders(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0 or not Path("/run").is_dir(), reason="network namespaces need root")
def test_the_network_namespace_of_a_killed_handset_is_deleted(tmp_path):
    """Full capture: a handset killed with its namespace (labvXXXXXXXX) leaves it behind;
    stop_orphan deletes it with its resolv.conf folder. Other names in the file are ignored."""
    import secrets

    name = "labv" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    Path("/etc/netns", name).mkdir(parents=True, exist_ok=True)
    folder = tmp_path / "vendor-1.0-1-1"
    folder.mkdir()
    (folder / NETNS_NAME).write_text(name)
    try:
        stop_orphan(RuntimeFolder.read(folder), timeout=1)
        assert not Path("/run/netns", name).exists() and not Path("/etc/netns", name).exists()
        assert not folder.exists()
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)
    other = tmp_path / "vendor-1.0-2-2"
    other.mkdir()
    (other / NETNS_NAME).write_text("lo; reboot")
    stop_orphan(RuntimeFolder.read(other), timeout=1)  # not a handset namespace name: left alone

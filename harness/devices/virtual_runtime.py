"""The runtime folders of the virtual handsets `lab` starts (`<state_dir>/virtual/NAME-PID-NS/`):
who owns each one, and stopping the handsets whose owner is gone.

`launch_virtual` writes `owner.json` (PID and start time of the lab process starting the
handset, and the handset's name) before the handset starts; the handset writes
`ready.json` (its serial and PID) once it listens. A folder whose owner no longer runs
(a `kill -9`'d `lab run`, or `lab prepare --device virtual:NAME`, which leaves its handset
up) is an orphan: `lab restore` undoes its journal, then stops its processes and removes
the folder. They are found in /proc by the folder in their arguments: the handset's
`--runtime-dir FOLDER` (it leads a session of its own, with its apps' JVMs in it) and the
JVMs' `-Djava.io.tmpdir=FOLDER`, so a reused PID is never signalled.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.capture import write_json_atomic
from harness.devices.processes import ProcessInfo, alive, processes, start_time, stop
from harness.errors import DeviceError

FOLDER = "virtual"
OWNER_JSON = "owner.json"
READY_JSON = "ready.json"
NETNS_NAME = "netns"  # the handset's network namespace while it has one (harness/virtual/handset_network.py)
_NETNS = re.compile(r"labv[0-9a-f]{8}")


def runtime_root(state_dir: Path) -> Path:
    return Path(state_dir).resolve() / FOLDER


def record_owner(runtime_dir: Path, name: str) -> None:
    """Say which process starts the handset in `runtime_dir` (before it starts)."""
    runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    pid = os.getpid()
    write_json_atomic(runtime_dir / OWNER_JSON,
                      {"pid": pid, "start": start_time(pid), "handset": name, "created": time.time()})


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class RuntimeFolder:
    path: Path
    handset: str  # the name it was started as (virtual:NAME)
    owner: int | None
    owner_start: int | None
    serial: str | None  # known once the handset was ready

    @classmethod
    def read(cls, path: Path) -> RuntimeFolder:
        owner, ready = _read(path / OWNER_JSON), _read(path / READY_JSON)
        name_pid = path.name.rsplit("-", 2)  # NAME-PID-NS, also before owner.json existed
        legacy_pid = int(name_pid[1]) if len(name_pid) == 3 and name_pid[1].isdigit() else None
        handset = owner.get("handset") or ready.get("handset") or name_pid[0]
        serial = ready.get("serial")
        return cls(path, str(handset), _int(owner.get("pid")) or legacy_pid, _int(owner.get("start")),
                   serial if isinstance(serial, str) else None)

    @property
    def owned(self) -> bool:
        """Whether the lab process that started the handset still runs."""
        return self.owner is not None and alive(self.owner, self.owner_start)

    def processes(self) -> tuple[list[int], list[int]]:
        """(handset PIDs, every PID of the folder: handset, its session, its JVMs)."""
        folder = str(self.path)
        procs = [p for p in processes() if p.running]
        leaders = [p.pid for p in procs if _runs_in(p, folder)]
        members = [p.pid for p in procs
                   if p.pid in leaders or p.session in leaders or f"-Djava.io.tmpdir={folder}" in p.argv]
        return leaders, members


def _runs_in(p: ProcessInfo, folder: str) -> bool:
    """The handset process of `folder`: `... --runtime-dir FOLDER ...`."""
    argv = p.argv
    return any(a == "--runtime-dir" and i + 1 < len(argv) and argv[i + 1] == folder for i, a in enumerate(argv))


def runtime_folders(state_dir: Path) -> list[RuntimeFolder]:
    root = runtime_root(state_dir)
    if not root.is_dir():
        return []
    return [RuntimeFolder.read(p) for p in sorted(root.iterdir()) if p.is_dir() and not p.is_symlink()]


def orphans(state_dir: Path) -> list[RuntimeFolder]:
    """Runtime folders whose owner is gone."""
    return [f for f in runtime_folders(state_dir) if not f.owned]


def stop_orphan(folder: RuntimeFolder, timeout: float = 15.0) -> list[int]:
    """Stop the folder's handset (SIGTERM: it stops its JVMs) and whatever of it still runs
    after `timeout` (SIGKILL), then remove the folder; return the PIDs stopped."""
    leaders, members = folder.processes()
    left = stop(members, first=leaders, timeout=timeout)
    if left:
        raise DeviceError(f"virtual handset {folder.serial or folder.handset}: processes {left} "
                          f"did not stop; {folder.path} kept")
    remove_netns(folder.path)
    remove_runtime(folder.path)
    return members


def remove_netns(path: Path) -> None:
    """The network namespace a killed handset left (full capture), once its processes are gone."""
    try:
        name = (path / NETNS_NAME).read_text().strip()
    except OSError:
        return
    if not _NETNS.fullmatch(name):
        return
    if Path("/run/netns", name).exists():
        done = subprocess.run(["ip", "netns", "delete", name], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise DeviceError(f"cannot delete the virtual handset's network namespace {name}: {done.stderr.strip()}")
    shutil.rmtree(Path("/etc/netns", name), ignore_errors=True)


def remove_runtime(path: Path) -> None:
    try:
        shutil.rmtree(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise DeviceError(f"cannot remove the virtual handset folder {path}: {e}") from e

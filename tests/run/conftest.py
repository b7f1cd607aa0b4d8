"""Fixtures for `lab run` end to end: a lab.yaml for a handset started by the fixtures,
a short profile, and a helper that runs the real `lab` command in a subprocess."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

LAB_BIN = str(Path(sys.executable).parent / "lab")

SHORT_PROFILE = {
    "name": "short-demo",
    "description": "A short demo for tests: firmware timer traffic, the hashed IMEI, the pinned bank.",
    "apps": [{"package": "com.vendor.telemetry"}, {"package": "com.vendor.weather"},
             {"package": "com.vendor.bank"}],
    "hooks": ["sensitive", "network"],
    "steps": [
        {"idle": "2s"},
        {"launch": {"package": "com.vendor.weather", "wait": "12s"}},
        {"launch": {"package": "com.vendor.bank", "wait": "4s"}},
        {"stop": {"package": "com.vendor.weather"}},
        {"idle": "1s"},
    ],
}


@dataclass
class LabFiles:
    root: Path
    lab: Path
    profile: Path
    captures: Path
    state: Path
    env: dict[str, str]

    def lab_cmd(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([LAB_BIN, *args], env=self.env, cwd=self.root, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def popen(self, *args: str, wrapper: tuple[str, ...] = ()) -> subprocess.Popen[str]:
        """`lab ARGS` in the background (after WRAPPER, e.g. ("nohup",))."""
        return subprocess.Popen([*wrapper, LAB_BIN, *args], env=self.env, cwd=self.root, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def on_terminal(self, *args: str) -> tuple[subprocess.Popen[bytes], threading.Event]:
        """`lab ARGS` with a pseudo-terminal as its controlling terminal, as in an SSH session.
        Returns the process and an event: set it to hang the terminal up (its master side,
        read by a thread meanwhile, is closed: the kernel sends SIGHUP)."""
        master, slave = os.openpty()
        proc = subprocess.Popen(["setsid", "--ctty", LAB_BIN, *args], env=self.env, cwd=self.root,
                                stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        hang_up = threading.Event()
        threading.Thread(target=_terminal, args=(master, hang_up), daemon=True).start()
        return proc, hang_up

    def interactive(self, *args: str) -> tuple[subprocess.Popen[bytes], int]:
        """`lab ARGS` on a pseudo-terminal the test plays the technician at: the process and
        the terminal's master side (support.terminal.read_until reads it; close it after)."""
        master, slave = os.openpty()
        proc = subprocess.Popen(["setsid", "--ctty", LAB_BIN, *args], env=self.env, cwd=self.root,
                                stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        return proc, master

    def set_proxy(self, **values: object) -> None:
        """Change lab.yaml's proxy section (e.g. mode="wireguard")."""
        lab = yaml.safe_load(self.lab.read_text())
        lab["proxy"].update(values)
        self.lab.write_text(yaml.safe_dump(lab))

    def runs(self) -> list[Path]:
        return sorted(p for p in self.captures.iterdir() if p.is_dir()) if self.captures.exists() else []


def _terminal(master: int, hang_up: threading.Event) -> None:
    """Read what the program writes until told to hang up; then close the master side."""
    try:
        while not hang_up.is_set():
            if select.select([master], [], [], 0.2)[0] and not os.read(master, 65536):
                break
    except OSError:  # EIO: the program closed the terminal
        pass
    finally:
        os.close(master)


def write_lab(root: Path, adb_env: dict[str, str], devices: list[dict], zone: Path | None,
              profile: dict | None = None) -> LabFiles:
    root.mkdir(parents=True, exist_ok=True)
    state = root / "state"
    captures = root / "captures"
    lab = {
        "name": "test-lab", "jurisdiction": "IN",
        "policy": {"allowed_countries": ["IN"], "watchlist_countries": ["CN"]},
        # explicit unless the test asks otherwise: lab.yaml's default (auto) would give every
        # vendor handset full capture through WireGuard where this machine allows it
        "proxy": {"mode": "explicit", "network": "contained", **({"zone": str(zone)} if zone else {})},
        "devices": devices,
        "captures_dir": str(captures), "state_dir": str(state),
    }
    (root / "lab.yaml").write_text(yaml.safe_dump(lab))
    (root / "profile.yaml").write_text(yaml.safe_dump(profile or SHORT_PROFILE, sort_keys=False))
    env = {**os.environ, **adb_env}
    return LabFiles(root, root / "lab.yaml", root / "profile.yaml", captures, state, env)


@pytest.fixture
def adb_env(adb_server) -> dict[str, str]:
    return {k: adb_server.env[k] for k in ("ANDROID_ADB_SERVER_PORT", "ADB_MDNS", "ADB_MDNS_OPENSCREEN")}


@pytest.fixture
def lab_files():
    """Factory: lab_files(root, adb_env, devices, zone, profile=None) -> LabFiles."""
    return write_lab

"""Shared pytest fixtures. Area fixtures live in tests/<area>/conftest.py; helpers and
the interception fixtures (a test CA, local servers) in tests/support/."""

pytest_plugins = ["support.proxy_fixtures"]

# --- adb server and virtual handsets (owned by the virtual handset, issue 3) ------------
# A private adb server per test session (its own port, HOME and TMPDIR; mDNS off), and
# `virtual_handset(name)`: a handset process connected to it, torn down by PID.

import os  # noqa: E402
import shlex  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_ids() -> set[int]:
    """Session ids of every live process (to find strays of a handset's session)."""
    out: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                out.add(int(fields[3]))
            except (OSError, IndexError, ValueError):
                continue
    return out


@pytest.fixture
def live_session_ids():
    """A function returning the session ids of live processes (stray checks)."""
    return session_ids


@dataclass
class AdbServer:
    port: int
    adb_path: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    home: Path
    client: Any = None

    def run(self, *args: str, timeout: float = 60, check: bool = False,
            input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.adb_path, "-P", str(self.port), *args], env=self.env, timeout=timeout,
                              capture_output=True, text=input is None, input=input, check=check)


@pytest.fixture(scope="session")
def adb_server(tmp_path_factory: pytest.TempPathFactory):
    import adbutils

    home = tmp_path_factory.mktemp("adb-home")
    (home / "tmp").mkdir()
    port = _free_port()
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "ADB_MDNS": "0",
           "ADB_MDNS_OPENSCREEN": "0", "HOME": str(home), "TMPDIR": str(home / "tmp")}
    adb_path = adbutils.adb_path()
    log = open(home / "adb-server.log", "wb")  # noqa: SIM115 - closed at teardown
    proc = subprocess.Popen([adb_path, "-P", str(port), "nodaemon", "server"], env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"adb server did not start: {(home / 'adb-server.log').read_text()}") from None
            time.sleep(0.1)
    server = AdbServer(port, adb_path, env, proc, home)
    server.client = adbutils.AdbClient(host="127.0.0.1", port=port, socket_timeout=30)
    yield server
    server.run("kill-server", timeout=10)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
    log.close()


@dataclass
class VirtualHandset:
    name: str
    serial: str
    process: Any  # harness.virtual.launcher.VirtualHandsetProcess
    adb: AdbServer
    device: Any = None  # adbutils.AdbDevice
    extra: dict[str, Any] = field(default_factory=dict)

    def shell(self, cmd: str, timeout: float = 30) -> tuple[str, int]:
        """(stdout, exit code) through shell_v2."""
        res = self.device.shell2(cmd, timeout=timeout, rstrip=False, v2=True)
        return res.output, res.returncode

    def state_dump(self) -> dict[str, Any]:
        """The handset's observable state, gathered through ADB only."""
        def sh(cmd: str) -> str:
            return self.device.shell(cmd, timeout=60)

        files = ("ls -lR /system/etc/security/cacerts /apex/com.android.conscrypt/cacerts "
                 "/data/misc/user/0/cacerts-added /data/local/tmp /sdcard/ 2>&1")
        if sh("su -c id").startswith("uid=0"):  # private dirs need root, as on a phone
            files = "su -c " + shlex.quote(files)

        dump: dict[str, Any] = {
            "settings": {ns: sh(f"settings list {ns}") for ns in ("global", "secure", "system")},
            "props": sh("getprop"),
            "packages": sorted(sh("pm list packages -f -U").splitlines()),
            "granted": sh("for p in $(pm list packages | cut -d: -f2); do echo \"== $p\"; "
                          "dumpsys package $p | grep 'granted=true'; done"),
            "files": sh(files),
            "mounts": sh("mount"),
            "contacts": sh("content query --uri content://com.android.contacts/raw_contacts") + "\n"
                        + sh("content query --uri content://com.android.contacts/data"),
            "sms": sh("content query --uri content://sms"),
            "clipboard": sh("am broadcast -a clipper.get"),
            "location": sh("dumpsys location"),
            "reverse": sorted(f"{r.remote} {r.local}" for r in self.device.reverse_list()),
        }
        return dump


@pytest.fixture
def virtual_handset(adb_server: AdbServer, tmp_path: Path):
    """Factory: `virtual_handset("vendor-1.0")` -> VirtualHandset connected to the private adb server."""
    from harness.virtual.launcher import start_handset

    started: list[VirtualHandset] = []

    def start(name: str = "reference") -> VirtualHandset:
        proc = start_handset(name, tmp_path / f"handset-{len(started)}-{name}")
        handset = VirtualHandset(name, proc.serial, proc, adb_server)
        started.append(handset)
        out = adb_server.run("connect", proc.serial, timeout=30)
        if "connected" not in out.stdout:
            raise RuntimeError(f"adb connect {proc.serial} failed: {out.stdout} {out.stderr}")
        adb_server.run("-s", proc.serial, "wait-for-device", timeout=30, check=True)
        deadline = time.monotonic() + 30
        while adb_server.run("-s", proc.serial, "get-state", timeout=10).stdout.strip() != "device":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{proc.serial} never reached state 'device'")
            time.sleep(0.2)
        handset.device = adb_server.client.device(proc.serial)
        return handset

    yield start
    strays = []
    for handset in started:
        adb_server.run("disconnect", handset.serial, timeout=10)
        handset.process.stop()
        deadline = time.monotonic() + 5
        while handset.process.pid in session_ids() and time.monotonic() < deadline:
            time.sleep(0.1)
        if handset.process.pid in session_ids():
            strays.append(handset.name)
    assert not strays, f"processes left behind by handset(s) {strays}"

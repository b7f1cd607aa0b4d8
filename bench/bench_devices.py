"""Handset layer figures on a virtual rooted Android 14 handset through a private adb
server: DeviceInfo read time, prepare and restore time, shell round trips per phase."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import adbutils
from mitmproxy.certs import CertStore

from harness.config import LabConfig
from harness.devices import Handset, prepare, restore
from harness.devices.info import read_info
from harness.virtual.launcher import start_handset


class CountingHandset(Handset):
    calls = 0

    def sh(self, command, *, check=True, timeout=120):  # type: ignore[override]
        CountingHandset.calls += 1
        return super().sh(command, check=check, timeout=timeout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _phase(label: str, fn):  # noqa: ANN001, ANN202
    CountingHandset.calls = 0
    t = time.perf_counter()
    result = fn()
    print(f"   {label}: {(time.perf_counter() - t) * 1000:.0f} ms, {CountingHandset.calls} shell round trips")
    return result


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    port = _free_port()
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "ADB_MDNS": "0", "ADB_MDNS_OPENSCREEN": "0",
           "HOME": str(tmp), "TMPDIR": str(tmp)}
    adb = adbutils.adb_path()
    server = subprocess.Popen([adb, "-P", str(port), "nodaemon", "server"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    handset_proc = start_handset("rooted-a14", tmp / "handset")
    try:
        time.sleep(0.5)
        subprocess.run([adb, "-P", str(port), "connect", handset_proc.serial], env=env, capture_output=True,
                       timeout=30)
        subprocess.run([adb, "-P", str(port), "-s", handset_proc.serial, "wait-for-device"], env=env, timeout=30)
        client = adbutils.AdbClient("127.0.0.1", port)
        handset = CountingHandset(client, handset_proc.serial)
        ca = CertStore.from_store(tmp / "mitm", "mitmproxy", 2048)
        del ca
        pem = (tmp / "mitm" / "mitmproxy-ca-cert.pem").read_bytes()
        lab = LabConfig.model_validate({"name": "b", "jurisdiction": "IN", "state_dir": tmp / "state"})
        _phase("DeviceInfo", lambda: read_info(handset))
        prepared = _phase("prepare (proxy, APEX CA, canaries)",
                          lambda: prepare(handset, lab, None, 18090, pem, tmp / "cap", frida=False))
        print(f"   journal entries: {len(prepared.journal.entries)}")
        _phase("restore", lambda: restore(handset, prepared.journal))
    finally:
        handset_proc.stop()
        subprocess.run([adb, "-P", str(port), "kill-server"], env=env, capture_output=True, timeout=10)
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()

"""Handset layer figures on a virtual rooted Android 14 handset through a private adb
server: DeviceInfo read time, prepare and restore time, shell round trips per phase."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from mitmproxy.certs import CertStore

from bench.adb_world import connected_handset
from harness.config import LabConfig
from harness.devices import Handset, prepare, restore
from harness.devices.handset import read_info


class CountingHandset(Handset):
    calls = 0

    def sh(self, command, *, check=True, timeout=120):  # type: ignore[override]
        CountingHandset.calls += 1
        return super().sh(command, check=check, timeout=timeout)


def _phase(label: str, fn):  # noqa: ANN001, ANN202
    CountingHandset.calls = 0
    t = time.perf_counter()
    result = fn()
    print(f"   {label}: {(time.perf_counter() - t) * 1000:.0f} ms, {CountingHandset.calls} shell round trips")
    return result


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    with connected_handset("rooted-a14", tmp) as world:
        handset = CountingHandset(world.client, world.handset.serial)
        ca = CertStore.from_store(tmp / "mitm", "mitmproxy", 2048)
        del ca
        pem = (tmp / "mitm" / "mitmproxy-ca-cert.pem").read_bytes()
        lab = LabConfig.model_validate({"name": "b", "jurisdiction": "IN", "state_dir": tmp / "state"})
        _phase("DeviceInfo", lambda: read_info(handset))
        prepared = _phase("prepare (proxy, APEX CA, canaries)",
                          lambda: prepare(handset, lab, None, 18090, pem, tmp / "cap", frida=False))
        print(f"   journal entries: {len(prepared.journal.entries)}")
        _phase("restore", lambda: restore(handset, prepared.journal))


if __name__ == "__main__":
    main()

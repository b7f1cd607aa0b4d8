"""Virtual handset figures: start time, shell round trip, sync push/pull throughput and
the reverse tunnel, through a private real adb server (loopback only)."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import adbutils

from harness.virtual.launcher import start_handset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-virtual-"))
    port = _free_port()
    env = {**os.environ, "ANDROID_ADB_SERVER_PORT": str(port), "ADB_MDNS": "0", "ADB_MDNS_OPENSCREEN": "0",
           "HOME": str(tmp), "TMPDIR": str(tmp)}
    adb = adbutils.adb_path()
    server = subprocess.Popen([adb, "-P", str(port), "nodaemon", "server"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    handset = start_handset("reference", tmp / "handset")
    print(f"   handset ready in {time.perf_counter() - started:.2f} s")
    try:
        time.sleep(0.5)
        subprocess.run([adb, "-P", str(port), "connect", handset.serial], env=env, capture_output=True, timeout=30)
        subprocess.run([adb, "-P", str(port), "-s", handset.serial, "wait-for-device"], env=env, timeout=30)
        d = adbutils.AdbClient("127.0.0.1", port).device(handset.serial)
        n = 50
        t = time.perf_counter()
        for _ in range(n):
            d.shell("getprop ro.build.fingerprint")
        print(f"   shell round trip: {(time.perf_counter() - t) / n * 1000:.1f} ms")
        blob = os.urandom(20 * 1024 * 1024)
        t = time.perf_counter()
        d.sync.push(blob, "/data/local/tmp/blob")
        push = time.perf_counter() - t
        t = time.perf_counter()
        back = d.sync.read_bytes("/data/local/tmp/blob")
        pull = time.perf_counter() - t
        assert back == blob
        print(f"   sync push 20 MB: {20 / push:.0f} MB/s, pull: {20 / pull:.0f} MB/s")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def sink() -> None:
            conn, _ = listener.accept()
            while conn.recv(1 << 16):
                pass
            conn.close()

        threading.Thread(target=sink, daemon=True).start()
        d.reverse("tcp:8080", f"tcp:{listener.getsockname()[1]}")
        data = os.urandom(20 * 1024 * 1024)
        t = time.perf_counter()
        with socket.create_connection((handset.device_loopback, 8080)) as c:
            c.sendall(data)
        print(f"   reverse tunnel 20 MB (device -> host): {20 / (time.perf_counter() - t):.0f} MB/s (send side)")
    finally:
        handset.stop()
        subprocess.run([adb, "-P", str(port), "kill-server"], env=env, capture_output=True, timeout=10)
        server.wait(10)


if __name__ == "__main__":
    main()

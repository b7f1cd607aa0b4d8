"""Virtual handset figures: start time, shell round trip, sync push/pull throughput and
the reverse tunnel, through a private real adb server (loopback only)."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from bench.adb_world import connected_handset


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-virtual-"))
    with connected_handset("reference", tmp) as world:
        handset = world.handset
        print(f"   handset ready in {world.started_in:.2f} s")
        d = world.client.device(handset.serial)
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


if __name__ == "__main__":
    main()

"""Proxy throughput with all the audit addons vs plain mitmproxy, same machine, same run.

Each proxy runs in a child process (mitmproxy allows one master per process). Three are
started the same way (DumpMaster without termlog/dumper): plain, plain saving every
flow to a file (mitmdump -w: the audited proxy writes flows.mitm too), and with the
lab's addons; the fourth is `mitmdump` itself as a user runs it, printing a line per
flow (to /dev/null). "plain" is the strict baseline: mitmproxy's core and nothing else;
the same clients send the same requests through each in turn, back to back, in several
rounds. Printed: requests/s for 2 KB JSON posts and MB/s for 1 MB posts, the median over
the rounds of each round's ratio audited/plain (target >= 0.85), and the proxies' own
CPU time per request (what bounds a proxy's throughput). The 1 MB figure is bounded by
the scan itself: every byte of a body is read for 1,600 needles and the patterns.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SERVE = """
import asyncio, sys, json
from pathlib import Path
from mitmproxy import options
from mitmproxy.tools.dump import DumpMaster

async def main(kind, workdir):
    opts = options.Options()
    master = DumpMaster(opts, with_termlog=False, with_dumper=False)
    if kind == "audit":
        from addons.clientguard import ClientGuard
        from addons.containment import Containment
        from addons.destinations import Destinations
        from addons.flowlog import FlowLog
        from addons.sensitive import Sensitive
        master.addons.add(ClientGuard(), Containment(), Destinations(), Sensitive(), FlowLog())
    class Ready:
        def running(self):
            port = master.addons.get("proxyserver").listen_addrs()[0][1]
            print(port, flush=True)
    master.addons.add(Ready())
    opts.update(listen_host="127.0.0.1", listen_port=0, confdir=str(Path(workdir) / "conf"),
                stream_large_bodies="8388608")
    if kind == "plain-save":
        opts.update(save_stream_file=str(Path(workdir) / "plain.mitm"))
    if kind == "audit":
        opts.update(audit_jurisdiction="IN", audit_watchlist=["CN"], audit_allowed_domains=["*.gov.in"],
                    audit_canaries=str(Path(workdir) / "canaries.json"),
                    audit_capture_dir=str(Path(workdir) / "capture"), audit_device="bench")
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin, master.shutdown)  # stdin closed: stop
    await master.run()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def backend() -> tuple[object, int]:
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = 1 << 16  # headers and body in one write: no Nagle / delayed-ACK stalls

        def do_POST(self) -> None:
            remaining = int(self.headers.get("content-length") or 0)
            while remaining > 0:
                remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def start(kind: str, workdir: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE, kind, str(workdir)], cwd=ROOT,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"{kind} proxy did not start: {line!r}")
    return proc, int(line)


def start_mitmdump(workdir: Path) -> tuple[subprocess.Popen[str], int]:
    """`mitmdump` itself, as a user runs it (it prints a line per flow: to /dev/null here)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("mitmdump")), "--listen-host", "127.0.0.1", "--listen-port", str(port),
         "--set", f"confdir={workdir / 'conf-mitmdump'}", "--set", "stream_large_bodies=8m"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("mitmdump did not start")


def load(port: int, url: str, body: bytes, count: int, threads: int = 4) -> float:
    """Seconds for `count` POSTs spread over `threads` keep-alive clients."""
    def worker(n: int) -> None:
        with httpx.Client(proxy=f"http://127.0.0.1:{port}", trust_env=False, timeout=60) as client:
            for _ in range(n):
                client.post(url, content=body, headers={"content-type": "application/json"}).raise_for_status()

    workers = [threading.Thread(target=worker, args=(count // threads,)) for _ in range(threads)]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


ROUNDS = 7


def main() -> None:
    server, port = backend()
    url = f"http://127.0.0.1:{port}/collect"
    small = json.dumps({"events": [{"ts": 1700000000000 + i, "ev": "screen", "id": f"{i:016x}"}
                                   for i in range(40)]}).encode()[:2048]
    big = json.dumps({"events": [{"ts": 1700000000000 + i, "ev": "screen", "id": f"{i:016x}",
                                  "txt": "version build wifi locale click"} for i in range(12000)]}).encode()
    loads = {"2kb": (small, 200), "1mb": (big, 16)}
    kinds = ("plain", "plain-save", "mitmdump", "audit")
    # per load and kind, one figure per round; rounds alternate the kinds back to back, so
    # that the ratio of each round compares proxies under the same conditions (the speed of
    # this machine drifts by a third from minute to minute)
    wall: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "canaries.json").write_text(json.dumps({
            "identifiers": {"imei": "490154203237518", "wifi_mac": "02:1a:11:f0:c3:9e"},
            "planted": [{"type": "contact", "id": f"c{i}", "value": f"CANARY{i:06d}"} for i in range(98)],
        }))
        proxies = {kind: start_mitmdump(workdir) if kind == "mitmdump" else start(kind, workdir) for kind in kinds}
        try:
            for _, proxy_port in proxies.values():  # warm up
                load(proxy_port, url, small, 40)
            for round_ in range(ROUNDS):
                for name, (body, count) in loads.items():
                    order = kinds[round_ % len(kinds) :] + kinds[: round_ % len(kinds)]
                    for kind in order:
                        proc, proxy_port = proxies[kind]
                        before = cpu_seconds(proc.pid)
                        seconds = load(proxy_port, url, body, count)
                        used = cpu_seconds(proc.pid) - before
                        wall.setdefault((kind, name), []).append(seconds)
                        cpu.setdefault((kind, name), []).append(max(used, 0.01))
        finally:
            for kind, (proc, _) in proxies.items():
                if kind == "mitmdump":
                    proc.terminate()
                else:
                    assert proc.stdin is not None
                    proc.stdin.close()
                proc.wait(timeout=20)
            server.shutdown()
    load_avg = os.getloadavg()[0]
    for name, (body, count) in loads.items():
        unit, scale = ("req/s", 1.0) if name == "2kb" else ("MB/s", len(body) / 1e6)
        rate = {kind: count * scale / median(wall[(kind, name)]) for kind in kinds}
        per = {kind: median(cpu[(kind, name)]) / count * 1000 for kind in kinds}
        print(f"   {name} posts: plain {rate['plain']:.0f} {unit}, plain saving flows {rate['plain-save']:.0f} {unit}, "
              f"mitmdump {rate['mitmdump']:.0f} {unit}, audited {rate['audit']:.0f} {unit}")
        for base, label in (("plain", "plain"), ("mitmdump", "mitmdump")):
            # throughput ratio audited/base = time base / time audited, round by round
            ratios = [b / a for a, b in zip(wall[("audit", name)], wall[(base, name)], strict=True)]
            cpu_ratios = [b / a for a, b in zip(cpu[("audit", name)], cpu[(base, name)], strict=True)]
            print(f"   {name} ratio audited/{label}: throughput median {median(ratios):.2f} over {ROUNDS} rounds "
                  f"(range {min(ratios):.2f}-{max(ratios):.2f}; target >= 0.85), proxy CPU per request "
                  f"median {median(cpu_ratios):.2f} (range {min(cpu_ratios):.2f}-{max(cpu_ratios):.2f})")
        print(f"   {name} proxy CPU per request: " + ", ".join(f"{kind} {per[kind]:.2f} ms" for kind in kinds))
    print(f"   (load average {load_avg:.1f} on {os.cpu_count()} cores: wall figures are noisy under load)")


if __name__ == "__main__":
    main()

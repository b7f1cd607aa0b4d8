"""Proxy throughput in WireGuard mode: the audited proxy vs `mitmdump --mode wireguard -w`,
through the same kind of tunnel, same machine, same run; and the keep-alive stall.

Two proxies run in child processes (bench_proxy.SERVE, with mitmproxy's WireGuard mode on
127.0.0.1): "plain-save" (mitmproxy alone saving every flow, as `mitmdump -q --mode
wireguard -w` does) and "audit" (the lab's addons, which record every flow too). Each has
its own client: a network namespace behind wireguard-go, as a virtual handset has
(harness/virtual/wg_client.py: the relay, the routes, quickack), with a Python client
inside that posts 2 KB JSON to a world address (203.0.113.80, TEST-NET-3). Both proxies
connect lazily and map that address to a backend on loopback (map_remote, a core addon of
both): nothing leaves the machine. Requests go through each proxy in turn in short slices,
as in bench_proxy.py, with clients that open a new connection per request and clients
that keep theirs alive. Printed: requests/s, the ratio audited/plain-save of the total
time (target >= 0.85) with the median and middle half of the slices' ratios, and the
proxies' CPU per request.

The keep-alive stall: mitmproxy 11's WireGuard mode runs its own TCP stack (smoltcp, in
mitmproxy_rs); it sends a response's head and body as two segments and, with Nagle on and
nothing in mitmproxy to turn it off, holds the body until the client ACKs the head. The
client's Linux stack delays that ACK (~40 ms) on a connection that is no longer new. A
route with `quickack 1` on the client side makes it ACK at once; wg_client.py sets it on
the tunnel's routes. Printed: per-request latency of sequential keep-alive requests on one
connection (median, p90, and the head-to-body gap) with quickack off and on.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import mitmproxy_rs

from bench.bench_proxy import ROOT, against, backend, cpu_seconds, start
from harness.proxy.wireguard import Tunnel
from harness.virtual.netns import Netns, NetnsError, unavailable_reason
from harness.virtual.wg_client import TunnelClient, parse_wg_quick

TARGET = 0.85  # audited / plain saving flows, both clients (issue 20)
WORLD = "203.0.113.80"  # TEST-NET-3: never routed; the proxies map it to the backend
KINDS = ("plain-save", "audit")
# client -> (requests per slice, slices, client threads)
SLICES = {"new": (24, 24, 4), "keep": (60, 24, 4)}
LATENCY_REQUESTS = 60
STALL_MS = 20.0  # a keep-alive request slower than this waited for a delayed ACK
CLIENT = r"""
import http.client, json, sys, threading, time
host, body = sys.argv[1], open(sys.argv[2], "rb").read()
headers = {"content-type": "application/json"}
kept = {}

def post(conn):
    conn.request("POST", "/collect", body=body, headers=headers)
    response = conn.getresponse()
    head = time.perf_counter()
    data = response.read()
    if response.status != 200 or data != b"ok":
        raise RuntimeError(f"{response.status} {data[:80]!r}")
    return head

def worker(index, count, new, errors):
    try:
        for _ in range(count):
            if new:
                conn = http.client.HTTPConnection(host, 80, timeout=30)
                post(conn)
                conn.close()
            else:
                post(kept.setdefault(index, http.client.HTTPConnection(host, 80, timeout=30)))
    except Exception as e:
        errors.append(f"{type(e).__name__}: {e}")

def latency(count):
    conn = http.client.HTTPConnection(host, 80, timeout=30)
    post(conn)  # a new connection ACKs quickly at first: measure the ones after
    total, gaps = [], []
    for _ in range(count):
        started = time.perf_counter()
        head = post(conn)
        done = time.perf_counter()
        total.append((done - started) * 1000)
        gaps.append((done - head) * 1000)
    conn.close()
    return {"ms": total, "gap_ms": gaps}

def ready():
    end = time.monotonic() + 20
    while True:
        try:
            conn = http.client.HTTPConnection(host, 80, timeout=3)
            post(conn)
            conn.close()
            return {"ok": True}
        except OSError as e:
            if time.monotonic() > end:
                return {"error": f"no answer through the tunnel: {e}"}
            time.sleep(0.2)

for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "ready":
        out = ready()
    elif cmd["op"] == "latency":
        out = latency(cmd["count"])
    else:
        errors = []
        threads = [threading.Thread(target=worker, args=(i, cmd["count"] // cmd["threads"], cmd["op"] == "new", errors))
                   for i in range(cmd["threads"])]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out = {"seconds": time.perf_counter() - started, "errors": errors[:3]}
    print(json.dumps(out), flush=True)
"""


def summary(values: Sequence[float]) -> tuple[float, float]:
    """(median, 90th percentile) of at least two values."""
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[-1]


def stalled(values: Sequence[float], limit: float = STALL_MS) -> int:
    """How many requests took longer than `limit` ms."""
    return sum(1 for v in values if v > limit)


def slice_ratios(audited: Sequence[float], base: Sequence[float]) -> tuple[float, float, float, float]:
    """Throughput ratio audited/base from per-slice seconds: (over all slices, median of the
    slices' own ratios, lower and upper quartile of those)."""
    ratios = [b / a for a, b in zip(audited, base, strict=True)]
    low, _, high = statistics.quantiles(ratios, n=4)
    return sum(base) / sum(audited), statistics.median(ratios), low, high


class Handset:
    """A namespace behind wireguard-go joined to one proxy, and a client process inside it."""

    def __init__(self, port: int, keyfile: Path, workdir: Path, body: Path) -> None:
        keys = json.loads(keyfile.read_text())
        tunnel = Tunnel(endpoint_host="127.0.0.1", endpoint_port=port,
                        server_public=mitmproxy_rs.wireguard.pubkey(keys["server_key"]),
                        client_private=keys["client_key"], client_public=mitmproxy_rs.wireguard.pubkey(keys["client_key"]),
                        keyfile=keyfile)
        self.netns = Netns("labb" + secrets.token_hex(4)).create()
        self.client: subprocess.Popen[str] | None = None
        try:
            self.tunnel = TunnelClient(self.netns, workdir / f"{self.netns.name}.log")
            self.tunnel.up(parse_wg_quick(tunnel.wg_quick()))
            self.client = subprocess.Popen(self.netns.exec_argv([sys.executable, "-c", CLIENT, WORLD, str(body)]),
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
            answer = self.ask({"op": "ready"})
            if "error" in answer:
                raise NetnsError(answer["error"])
        except BaseException:
            self.close()
            raise

    def ask(self, cmd: dict[str, object]) -> dict:
        assert self.client is not None and self.client.stdin is not None and self.client.stdout is not None
        self.client.stdin.write(json.dumps(cmd) + "\n")
        self.client.stdin.flush()
        line = self.client.stdout.readline()
        if not line:
            raise NetnsError(f"the client in {self.netns.name} ended")
        answer = json.loads(line)
        if answer.get("errors"):
            raise NetnsError(f"requests failed through the tunnel: {answer['errors']}")
        return answer

    def quickack(self, on: bool) -> None:
        """quickack on the tunnel's default routes (what wg_client.py sets) on or off."""
        for family in ("-4", "-6"):
            for route in self.netns.ip(family, "route", "show", "dev", self.tunnel.interface).splitlines():
                if route.startswith("default"):
                    self.netns.ip(family, "route", "change", "default", "dev", self.tunnel.interface,
                                  "quickack", "1" if on else "0")

    def close(self) -> None:
        if self.client is not None:
            if self.client.stdin is not None:
                self.client.stdin.close()
            try:
                self.client.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.client.kill()
                self.client.wait()
        if hasattr(self, "tunnel"):
            self.tunnel.down()
        self.netns.delete()


def start_wireguard(kind: str, workdir: Path, backend_port: int) -> tuple[subprocess.Popen[str], int, Path]:
    keyfile = workdir / f"{kind}-keys.json"
    keyfile.write_text(json.dumps({"server_key": mitmproxy_rs.wireguard.genkey(),
                                   "client_key": mitmproxy_rs.wireguard.genkey()}))
    extra = {"mode": [f"wireguard:{keyfile}@127.0.0.1:0"], "connection_strategy": "lazy",
             "map_remote": [f"|//{WORLD.replace('.', '[.]')}(:80)?/|//127.0.0.1:{backend_port}/"]}
    proc, port = start(kind, workdir, extra)
    return proc, port, keyfile


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    reason = unavailable_reason()
    if reason is not None:
        print(f"   skipped: no namespace behind wireguard-go here: {reason}")
        return
    print(f"   mitmproxy {metadata.version('mitmproxy')}, mitmproxy_rs {metadata.version('mitmproxy_rs')}")
    server, backend_port = backend()
    seconds: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    latency: dict[tuple[str, bool], dict[str, list[float]]] = {}
    proxies: dict[str, subprocess.Popen[str]] = {}
    handsets: dict[str, Handset] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "canaries.json").write_text(json.dumps({"identifiers": {"imei": "490154203237518"}, "planted": []}))
        body = workdir / "body.json"
        body.write_bytes(json.dumps({"events": [{"ts": 1700000000000 + i, "ev": "screen", "id": f"{i:016x}"}
                                                for i in range(40)]}).encode()[:2048])
        try:
            for kind in KINDS:
                proc, port, keyfile = start_wireguard(kind, workdir, backend_port)
                proxies[kind] = proc
                handsets[kind] = Handset(port, keyfile, workdir, body)
            for kind in KINDS:  # warm up
                handsets[kind].ask({"op": "keep", "count": 40, "threads": 4})
                handsets[kind].ask({"op": "new", "count": 20, "threads": 4})
            for op, (count, slices, threads) in SLICES.items():
                for slice_ in range(slices):
                    for kind in KINDS[slice_ % 2:] + KINDS[: slice_ % 2]:
                        pid = proxies[kind].pid
                        before = cpu_seconds(pid)
                        answer = handsets[kind].ask({"op": op, "count": count, "threads": threads})
                        seconds.setdefault((kind, op), []).append(answer["seconds"])
                        cpu.setdefault((kind, op), []).append(cpu_seconds(pid) - before)
            for on in (False, True):
                for kind in KINDS:
                    handsets[kind].quickack(on)
                    latency[(kind, on)] = handsets[kind].ask({"op": "latency", "count": LATENCY_REQUESTS})
        except NetnsError as e:
            print(f"   skipped: the tunnel could not be made or used: {e}")
            return
        finally:
            for handset in handsets.values():
                handset.close()
            for proc in proxies.values():
                stop(proc)
            server.shutdown()
    report(seconds, cpu, latency)


def report(seconds: dict[tuple[str, str], list[float]], cpu: dict[tuple[str, str], list[float]],
           latency: dict[tuple[str, bool], dict[str, list[float]]]) -> None:
    names = {"new": "new connection per request", "keep": "keep-alive"}
    for op, (count, slices, threads) in SLICES.items():
        total = count * slices
        rate = {kind: total / sum(seconds[(kind, op)]) for kind in KINDS}
        per = {kind: sum(cpu[(kind, op)]) / total * 1000 for kind in KINDS}
        overall, median, low, high = slice_ratios(seconds[("audit", op)], seconds[("plain-save", op)])
        print(f"   wireguard {names[op]} ({threads} clients, 2 KB posts): plain saving flows "
              f"{rate['plain-save']:.0f} req/s, audited {rate['audit']:.0f} req/s")
        print(f"   wireguard {op} ratio audited/plain-save: throughput {overall:.2f} over {slices} slices "
              f"({against(overall, TARGET)}; slices: median {median:.2f}, middle half {low:.2f}-{high:.2f}), "
              f"proxy CPU per request {per['plain-save'] / per['audit']:.2f} "
              f"(plain-save {per['plain-save']:.2f} ms, audit {per['audit']:.2f} ms)")
    for kind in KINDS:
        figures = []
        for on in (False, True):
            median, p90 = summary(latency[(kind, on)]["ms"])
            gap, _ = summary(latency[(kind, on)]["gap_ms"])
            figures.append(f"quickack {'on' if on else 'off'}: median {median:.1f} ms, p90 {p90:.1f} ms, "
                           f"head-to-body median {gap:.1f} ms, "
                           f"{stalled(latency[(kind, on)]['ms'])} stalled > {STALL_MS:.0f} ms")
        print(f"   wireguard keep-alive latency, {kind}, {LATENCY_REQUESTS} sequential requests on one "
              f"connection: " + "; ".join(figures))
    print(f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: wall figures are noisy under load)")


if __name__ == "__main__":
    main()

"""WireGuard mode end to end: a real Proxy (contained) in the host namespace, a real
wireguard-go client in a network namespace this test makes, joined by a veth pair with
link-local addresses. From inside the namespace, programs that know no proxy make a DNS
query, a raw TCP push, a UDP datagram and an HTTP request; each is recorded with its
kind, destination and findings, and no packet leaves the namespace but the tunnel's own
UDP (every frame the namespace sends is read off the host end of the veth pair).

Nothing is forwarded or NATed in the host namespace; the namespace, the veth pair and
wireguard-go are removed at teardown.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.servers import IMEI, Server, serve, wait_for

from harness.capture.folder import FLOWS_JSONL, iter_jsonl
from harness.config.lab import LabConfig
from harness.proxy.master import Proxy

WORLD_IP = "203.0.113.10"
ZONE_HOST = "push.vendor-cloud.example"
REFUSED_IP = "198.51.100.7"


def _why_not() -> str | None:
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "making a network namespace, a veth pair and a TUN device needs root"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun: wireguard-go cannot make its interface"
    for tool in ("wireguard-go", "wg", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install --no-install-recommends wireguard-go wireguard-tools iproute2)"
    return None


pytestmark = [pytest.mark.e2e, pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))]


def run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, f"{' '.join(args)}: {done.stderr}"


@dataclass
class Frames:
    """Every frame the namespace sends, read on the host end of the veth pair."""

    ifname: str
    tunnel: tuple[str, int] = ("", 0)
    tunnel_packets: int = 0
    other: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
        self.sock.bind((self.ifname, 0))
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                frame, meta = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if meta[2] == socket.PACKET_OUTGOING:
                continue  # sent by the host towards the namespace
            ethertype = struct.unpack("!H", frame[12:14])[0]
            if ethertype == 0x0806:
                continue  # ARP: the link finding its neighbour, no packet to anywhere
            if ethertype == 0x0800 and frame[14 + 9] == 17:
                header = (frame[14] & 0x0F) * 4
                dst = str(ipaddress.ip_address(frame[30:34]))
                dport = struct.unpack("!H", frame[14 + header + 2: 14 + header + 4])[0]
                if (dst, dport) == self.tunnel:
                    self.tunnel_packets += 1
                    continue
            self.other.append(frame[:64].hex())

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


class RawResponder:
    """A TCP and a UDP responder on one loopback address: they answer `ok` and keep what came."""

    def __init__(self, host: str):
        self.tcp = socket.create_server((host, 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((host, 0))
        self.tcp_seen: list[bytes] = []
        self.udp_seen: list[bytes] = []
        threading.Thread(target=self._tcp, daemon=True).start()
        threading.Thread(target=self._udp, daemon=True).start()

    def _tcp(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(65536)
                self.tcp_seen.append(data)
                conn.sendall(b"<ok/>")

    def _udp(self) -> None:
        while True:
            try:
                data, peer = self.udp.recvfrom(65536)
            except OSError:
                return
            self.udp_seen.append(data)
            self.udp.sendto(b"pong", peer)

    def close(self) -> None:
        self.tcp.close()
        self.udp.close()


CLIENT = r'''
import json, socket, struct, sys, time, urllib.request
world, host, imei, refused = sys.argv[1:5]
out = {}
def retry(fn):
    end = time.time() + 15
    while True:
        try:
            return fn()
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.2)
def dns():
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in host.split(".")) + b"\0" + struct.pack("!HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
    s.sendto(q, ("10.0.0.53", 53)); data = s.recv(512)
    return socket.inet_ntoa(data[-4:])
out["dns"] = retry(dns)
def tcp():
    c = socket.create_connection((out["dns"], 5222), timeout=5)
    c.sendall(b"<stream:stream to='vendor'><imei>" + imei.encode() + b"</imei>")
    data = c.recv(100); c.close(); return data.decode()
out["tcp"] = retry(tcp)
def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
    s.sendto(b"beacon imei=" + imei.encode(), (world, 9999)); return s.recv(100).decode()
out["udp"] = retry(udp)
out["http"] = urllib.request.urlopen(f"http://{host}/v1/track?imei={imei}", timeout=10).read().decode()
try:
    c = socket.create_connection((refused, 5223), timeout=3)
    c.sendall(b"hello")
    out["refused"] = c.recv(10).decode() or "closed"
except OSError as e:
    out["refused"] = type(e).__name__
print(json.dumps(out))
'''


@dataclass
class Namespace:
    name: str
    wg_if: str
    host_if: str
    host_ip: str
    ns_ip: str
    wireguard: subprocess.Popen | None = None


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    tag = secrets.token_hex(3)
    third = int(tag[:2], 16)
    ns = Namespace(f"labwg-{tag}", f"wgt{tag}", f"lhv{tag}", f"169.254.{third}.1", f"169.254.{third}.2")
    try:
        run("ip", "netns", "add", ns.name)
        run("ip", "link", "add", ns.host_if, "type", "veth", "peer", "name", "eth0", "netns", ns.name)
        run("ip", "addr", "add", f"{ns.host_ip}/30", "dev", ns.host_if)
        run("ip", "link", "set", ns.host_if, "up")
        for sysctl in ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"):
            run("ip", "netns", "exec", ns.name, "sysctl", "-q", "-w", sysctl)
        run("ip", "-n", ns.name, "addr", "add", f"{ns.ns_ip}/30", "dev", "eth0")
        run("ip", "-n", ns.name, "link", "set", "eth0", "up")
        run("ip", "-n", ns.name, "link", "set", "lo", "up")
        yield ns
    finally:
        if ns.wireguard is not None:
            ns.wireguard.terminate()
            try:
                ns.wireguard.wait(timeout=5)
            except subprocess.TimeoutExpired:
                ns.wireguard.kill()
        subprocess.run(["ip", "netns", "del", ns.name], capture_output=True, check=False, timeout=30)
        subprocess.run(["ip", "link", "del", ns.host_if], capture_output=True, check=False, timeout=30)


def tunnel_up(ns: Namespace, proxy: Proxy, keydir: Path) -> None:
    tunnel = proxy.tunnel
    ns.wireguard = subprocess.Popen(
        ["ip", "netns", "exec", ns.name, "wireguard-go", ns.wg_if],
        env={**os.environ, "WG_PROCESS_FOREGROUND": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while subprocess.run(["ip", "-n", ns.name, "link", "show", ns.wg_if], capture_output=True, check=False).returncode:
        assert time.time() < deadline, "wireguard-go made no interface"
        time.sleep(0.05)
    key = keydir / "client.key"
    key.write_text(tunnel.client_private + "\n")
    key.chmod(0o600)
    while True:  # its UAPI socket comes a moment after the interface
        done = subprocess.run(
            ["ip", "netns", "exec", ns.name, "wg", "set", ns.wg_if, "private-key", str(key), "peer",
             tunnel.server_public, "endpoint", tunnel.endpoint, "allowed-ips", "0.0.0.0/0"],
            capture_output=True, text=True, check=False, timeout=10)
        if done.returncode == 0:
            break
        assert time.time() < deadline, done.stderr
        time.sleep(0.05)
    run("ip", "-n", ns.name, "addr", "add", "10.0.0.1/32", "dev", ns.wg_if)
    run("ip", "-n", ns.name, "link", "set", ns.wg_if, "mtu", "1420", "up")
    run("ip", "-n", ns.name, "route", "add", "default", "dev", ns.wg_if)


def test_everything_from_the_namespace_is_recorded_and_nothing_leaves(
    tmp_path: Path, namespace: Namespace, canaries_file: Path,
) -> None:
    http_responder: Server = serve("127.0.0.22")
    raw = RawResponder("127.0.0.23")
    zone = tmp_path / "zone.json"
    zone.write_text(json.dumps({"version": 1, "hosts": {ZONE_HOST: {"world_ip": WORLD_IP, "ports": {
        "80": f"127.0.0.22:{http_responder.port}",
        "5222": f"127.0.0.23:{raw.tcp.getsockname()[1]}",
        "9999": f"127.0.0.23:{raw.udp.getsockname()[1]}",
    }}}}))
    lab = LabConfig.model_validate({
        "name": "wg-e2e", "jurisdiction": "IN", "policy": {"watchlist_countries": ["CN"]},
        "proxy": {"mode": "wireguard", "network": "contained", "zone": str(zone),
                  "wireguard_host": namespace.host_ip, "client_allowlist": [f"{namespace.host_ip}/30"]},
        "geo": {"overrides": [{"cidr": f"{WORLD_IP}/32", "country": "CN", "org": "Watch Cloud", "org_country": "CN"}]},
        "state_dir": str(tmp_path / "state"),
    })
    frames = Frames(namespace.host_if)
    capture = tmp_path / "capture"
    try:
        with Proxy(lab, capture_dir=capture, device="virtual:wg", canaries=canaries_file) as proxy:
            frames.tunnel = (namespace.host_ip, proxy.port)
            frames.start()
            tunnel_up(namespace, proxy, tmp_path)
            done = subprocess.run(
                ["ip", "netns", "exec", namespace.name, sys.executable, "-c", CLIENT, WORLD_IP, ZONE_HOST, IMEI, REFUSED_IP],
                capture_output=True, text=True, timeout=90, check=False)
            assert done.returncode == 0, done.stderr
            answers = json.loads(done.stdout)
            wait_for(capture / FLOWS_JSONL, lambda r: r["kind"] == "udp", timeout=20)
    finally:
        if hasattr(frames, "thread"):
            frames.stop()
        http_responder.close()
        raw.close()
    # first: nothing left the namespace but the tunnel
    assert frames.tunnel_packets > 0
    assert frames.other == []
    assert answers == {"dns": WORLD_IP, "tcp": "<ok/>", "udp": "pong", "http": "ok",
                       "refused": answers["refused"]}
    assert answers["refused"] in ("closed", "ConnectionResetError")
    records = list(iter_jsonl(capture / FLOWS_JSONL))
    by_kind = {r["kind"]: r for r in records if r["kind"] in ("dns", "tcp", "udp", "http") and r["server_ip"] != REFUSED_IP}
    assert set(by_kind) == {"dns", "tcp", "udp", "http"}, [r["kind"] for r in records]
    lookups = [r for r in records if r["kind"] == "dns"]
    # the tunnel's resolver and the one resolv.conf names alike: answered from the zone
    assert "10.0.0.53:53" in {r["dns"]["resolver"] for r in lookups}
    assert {r["dns"]["answered_by"] for r in lookups} == {"zone"}
    dns_record = next(r for r in lookups if r["dns"]["type"] == "A")
    assert dns_record["dns"]["name"] == ZONE_HOST and dns_record["dns"]["answered_by"] == "zone"
    assert [a["data"] for a in dns_record["dns"]["answers"]] == [WORLD_IP]
    for kind, port, where in (("tcp", 5222, "tcp"), ("udp", 9999, "udp"), ("http", 80, "url")):
        record = by_kind[kind]
        assert (record["server_ip"], record["server_port"], record["country"]) == (WORLD_IP, port, "CN"), record
        assert record["host"] == ZONE_HOST and record["device"] == "virtual:wg", (kind, record)
        assert ("imei", where) in [(f["id"], f["where"]) for f in record["findings"]], record["findings"]
        assert "watchlist_country" in record["flags"]
    assert by_kind["tcp"]["protocol"] == "xmpp" and by_kind["tcp"]["dns_names"] == [ZONE_HOST]
    assert IMEI.encode() in raw.tcp_seen[0] and IMEI.encode() in raw.udp_seen[0]
    refused = [r for r in records if r["server_ip"] == REFUSED_IP]
    assert refused and refused[0]["kind"] == "tcp" and refused[0]["server_port"] == 5223, refused
    assert any("contained" in note for note in refused[0]["notes"]), refused

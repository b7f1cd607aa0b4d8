"""A handset namespace behind wireguard-go, against a plain `mitmdump --mode wireguard`:
an app's DNS, HTTP, raw TCP and UDP reach mitmproxy through the tunnel; with the tunnel
down nothing leaves; teardown leaves no namespace, interface, socket or process."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest
from support.wg_mitmdump import WgMitmdump

from harness.virtual.netns import Netns, NetnsError, unavailable_reason
from harness.virtual.wg_client import TunnelClient, TunnelConfigError, parse_wg_quick

REASON = unavailable_reason()
needs_netns = pytest.mark.skipif(REASON is not None, reason=f"no handset namespace here: {REASON}")

CLIENT = r"""
import json, socket, sys, urllib.request
out = {}
def attempt(name, fn):
    try:
        out[name] = fn()
    except OSError as e:
        out[name] = "error: " + type(e).__name__ + " " + str(e)
attempt("dns", lambda: socket.gethostbyname("telemetry.vendor-cloud.example"))
attempt("http", lambda: urllib.request.urlopen(urllib.request.Request(
    "http://47.88.1.20/v1/heartbeat", data=b"imei=867432055814427"), timeout=5).read().decode())
def tcp():
    with socket.create_connection(("47.88.1.40", 5222), timeout=5) as s:
        s.sendall(b"<iq><imei>867432055814427</imei></iq>")
        return "sent"
attempt("tcp", tcp)
def udp():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"beacon 867432055814427", ("47.88.1.50", 9999))
        return "sent"
attempt("udp", udp)
print(json.dumps(out))
"""


def run_client(ns: Netns) -> dict:
    done = subprocess.run(ns.exec_argv([sys.executable, "-c", CLIENT]), capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)


@pytest.fixture
def mitm(tmp_path):
    proxy = WgMitmdump(tmp_path)
    yield proxy
    proxy.stop()


@pytest.fixture
def netns():
    ns = Netns("labt" + secrets.token_hex(3)).create()
    yield ns
    ns.delete()


def test_wg_quick_file_parsed_and_bad_ones_refused():
    cfg = parse_wg_quick("[Interface]\nPrivateKey = a\nAddress = 10.0.0.1/32, fd00::1/128\nDNS = 10.0.0.53\n"
                         "[Peer]\nPublicKey = b\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = 127.0.0.1:51820\n")
    assert cfg.endpoint == ("127.0.0.1", 51820)
    assert cfg.addresses == ["10.0.0.1/32", "fd00::1/128"] and cfg.dns == ["10.0.0.53"]
    assert cfg.allowed_ips == ["0.0.0.0/0", "::/0"]
    for bad in ("", "[Interface]\nPrivateKey = a\n", "junk line\n",
                "[Interface]\nPrivateKey = a\n[Peer]\nPublicKey = b\nEndpoint = host\n"):
        with pytest.raises(TunnelConfigError):
            parse_wg_quick(bad)


def test_bad_namespace_name_refused():
    with pytest.raises(NetnsError):
        Netns("../etc")


@needs_netns
def test_dns_http_tcp_udp_of_an_app_reach_mitmproxy_through_the_tunnel(mitm, netns, tmp_path):
    client = TunnelClient(netns, tmp_path / "wg.log")
    client.up(parse_wg_quick(mitm.client_config()))
    try:
        out = run_client(netns)
        assert out["dns"] == "47.88.1.20"  # answered by the proxy side, not a real resolver
        assert out["http"] == "ok"
        recs = mitm.wait_for(lambda rs: {"http", "dns", "tcp", "udp"} <= {r["kind"] for r in rs})
        kinds = {r["kind"]: r for r in recs}
        assert kinds["dns"]["name"] == "telemetry.vendor-cloud.example" and kinds["dns"]["server"] == "10.0.0.53"
        assert kinds["http"]["host"] == "47.88.1.20" and kinds["http"]["body"] == "imei=867432055814427"
        assert (kinds["tcp"]["host"], kinds["tcp"]["port"]) == ("47.88.1.40", 5222)
        assert "867432055814427" in kinds["tcp"]["data"]
        assert (kinds["udp"]["host"], kinds["udp"]["port"]) == ("47.88.1.50", 9999)
        assert client.relay is not None and client.relay.sent > 0
    finally:
        client.down()


KEEP_ALIVE = r"""
import http.client, json, statistics, time
conn = http.client.HTTPConnection("47.88.1.20", 80, timeout=10)
times = []
for _ in range(12):
    started = time.perf_counter()
    conn.request("GET", "/v1/config")
    assert conn.getresponse().read() == b"ok"
    times.append((time.perf_counter() - started) * 1000)
print(json.dumps(statistics.median(times[2:])))
"""


@needs_netns
def test_keep_alive_requests_through_the_tunnel_do_not_stall(mitm, netns, tmp_path):
    # mitmproxy's TCP stack (smoltcp) sends a response's head and body apart and holds the
    # body until the head is ACKed; without quickack on the tunnel's routes the client's
    # delayed ACK made each request on a kept connection wait ~40 ms
    client = TunnelClient(netns, tmp_path / "wg.log")
    client.up(parse_wg_quick(mitm.client_config()))
    try:
        assert all("quickack 1" in route for route in netns.routes()), netns.routes()
        done = subprocess.run(netns.exec_argv([sys.executable, "-c", KEEP_ALIVE]), capture_output=True, timeout=60)
        assert done.returncode == 0, done.stderr.decode()
        assert json.loads(done.stdout) < 20, "ms per keep-alive request"
    finally:
        client.down()


@needs_netns
def test_tunnel_down_lets_no_packet_out(mitm, netns, tmp_path):
    client = TunnelClient(netns, tmp_path / "wg.log")
    client.up(parse_wg_quick(mitm.client_config()))
    client.down()
    assert netns.routes() == []
    assert set(netns.links()) == {"lo"}
    out = run_client(netns)
    for kind in ("dns", "http", "tcp"):
        assert out[kind].startswith("error"), out
    assert out["udp"].startswith("error") and "unreachable" in out["udp"].lower()
    assert mitm.records() == []
    lo = netns.links()["lo"]
    assert lo["tx_packets"] == lo["rx_packets"]  # only loopback, and nothing else to leave by


@needs_netns
def test_teardown_leaves_nothing(mitm, tmp_path):
    ns = Netns("labt" + secrets.token_hex(3)).create()
    client = TunnelClient(ns, tmp_path / "wg.log")
    client.up(parse_wg_quick(mitm.client_config()))
    proc_pid = client._proc.pid
    interface = client.interface
    assert ns.pids() == [proc_pid]
    client.down()
    ns.delete()
    assert not ns.exists() and not ns.resolv_conf.parent.exists()
    assert not (client.relay or False)
    assert subprocess.run(["ip", "link", "show", interface], capture_output=True).returncode != 0
    assert not (subprocess.run(["ps", "-o", "pid=", "-p", str(proc_pid)], capture_output=True).stdout.strip())

"""The virtual internet: zone.json contract, geolocation of world IPs, CA, responders."""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import ssl
import subprocess

import iptocc
import pytest
from geoip2fast import GeoIP2Fast

from harness.virtual.internet import ZONE, InternetCA, start_internet


@pytest.fixture(scope="module")
def inet(tmp_path_factory):
    i = start_internet(tmp_path_factory.mktemp("inet"))
    yield i
    i.stop()


def test_zone_json_is_the_documented_contract(inet):
    doc = json.loads(inet.zone_path.read_text())
    assert doc["version"] == 1 and doc["ca"] == str(inet.ca_pem)
    assert set(doc["hosts"]) == {h.hostname for h in ZONE}
    for name, entry in doc["hosts"].items():
        assert ipaddress.ip_address(entry["world_ip"]).is_global
        raw = {s.partition("/")[2] for s in next(h for h in ZONE if h.hostname == name).raw}
        assert set(entry["ports"]) == {"80", "443"} | raw
        for addr in entry["ports"].values():
            ip, _, port = addr.rpartition(":")
            assert ipaddress.ip_address(ip).is_loopback and int(port) > 0
        assert inet.resolve(name, 443) == entry["ports"]["443"]
    assert inet.resolve("not-in-zone.example", 443) is None


def test_world_ips_geolocate_where_the_story_needs_them():
    geo = GeoIP2Fast()
    for h in ZONE:
        want = h.country.split("/")
        got = [iptocc.country_code(h.world_ip), geo.lookup(h.world_ip).country_code]
        assert got == (want * 2 if len(want) == 1 else want), h.hostname


def _get(inet, host: str, port: int, requests: int = 2) -> list[bytes]:
    ip, _, p = inet.resolve(host, port).rpartition(":")
    sock = socket.create_connection((ip, int(p)), timeout=10)
    if port == 443:
        ctx = ssl.create_default_context(cafile=str(inet.ca_pem))
        sock = ctx.wrap_socket(sock, server_hostname=host)
    out = []
    with sock:
        for i in range(requests):  # keep-alive: several requests on one connection
            body = b'{"i":%d}' % i
            sock.sendall(b"POST /c HTTP/1.1\r\nHost: " + host.encode() + b"\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            buf = b""
            while not buf.endswith(b"}"):
                buf += sock.recv(4096)
            out.append(buf)
    return out


def test_https_responders_verify_with_the_internet_ca_and_keep_alive(inet):
    replies = _get(inet, "analytics.vendor-cloud.example", 443)
    assert len(replies) == 2
    for r in replies:
        head, _, body = r.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK") and b"Connection: keep-alive" in head
        assert json.loads(body) == {"ok": True, "host": "analytics.vendor-cloud.example"}
    assert _get(inet, "cdn2.vendorcdn.example", 80, 1)[0].startswith(b"HTTP/1.1 200 OK")


def test_wrong_hostname_fails_verification(inet):
    ip, _, p = inet.resolve("api.bank.example", 443).rpartition(":")
    ctx = ssl.create_default_context(cafile=str(inet.ca_pem))
    with socket.create_connection((ip, int(p)), timeout=10) as s, pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(s, server_hostname="analytics.vendor-cloud.example")


def test_garbage_gets_an_error_and_the_responder_keeps_serving(inet):
    ip, _, p = inet.resolve("news.portal.example", 80).rpartition(":")
    with socket.create_connection((ip, int(p)), timeout=10) as s:
        s.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    assert _get(inet, "news.portal.example", 80, 1)[0].startswith(b"HTTP/1.1 200 OK")


def test_ca_is_cached_and_named_like_android(tmp_path):
    a, b = InternetCA(tmp_path), InternetCA(tmp_path)
    assert a.cert_pem.read_bytes() == b.cert_pem.read_bytes()
    assert a.server_cert("x.example").chain_pem.read_bytes() == b.server_cert("x.example").chain_pem.read_bytes()
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    out = subprocess.run(["openssl", "x509", "-subject_hash_old", "-noout", "-in", str(a.cert_pem)],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert a.store_name == out + ".0"
    with pytest.raises(ValueError):
        a.server_cert("../../etc/passwd")


def test_server_certificates_embed_scts_from_both_virtual_ct_logs(tmp_path):
    import hashlib

    from cryptography import x509

    from harness.virtual.internet.ca import CT_LOGS

    cert = x509.load_pem_x509_certificate(InternetCA(tmp_path).server_cert("x.example").chain_pem.read_bytes())
    scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value
    assert [s.log_id for s in scts] == [hashlib.sha256(name.encode()).digest() for name in CT_LOGS]
    assert all(s.version == x509.certificate_transparency.Version.v1 for s in scts)


def test_raw_services_answer_tcp_and_udp(inet):
    """The push channel (TCP 5222) and the beacon sink (UDP 9999) the full-capture sends use."""
    host, _, port = inet.resolve("push.vendor-cloud.example", 5222).rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"<iq/>")
        assert s.recv(64) == b"<ok/>"
    host, _, port = inet.resolve("beacon.adsdk.example", 9999).rpartition(":")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(b"ping", (host, int(port)))
        assert s.recv(64) == b"pong"

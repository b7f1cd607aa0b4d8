"""Local servers for the proxy tests: a CA of our own (cryptography) and HTTP/HTTPS
servers on 127.0.0.x that record what reached them."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.capture.folder import iter_jsonl


@dataclass
class TestCA:
    __test__ = False

    cert_path: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def issue(self, directory: Path, names: list[str]) -> tuple[Path, Path]:
        """A server certificate for hostnames and IPs; returns (cert file, key file)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        alt: list[x509.GeneralName] = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        stem = names[0].replace("*", "_")
        cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return cert_path, key_path


def make_ca(directory: Path, name: str = "Lab Test Internet CA") -> TestCA:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / "test-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return TestCA(path, key, cert)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body_bytes: int
    tail: bytes


@dataclass
class Server:
    host: str
    port: int
    seen: list[Seen] = field(default_factory=list)
    httpd: http.server.ThreadingHTTPServer | None = None

    def close(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


def serve(host: str = "127.0.0.1", cert: tuple[Path, Path] | None = None) -> Server:
    """A threaded server answering 200 'ok' and recording each request: HTTP/1.1, or
    with a certificate HTTPS offering h2 and http/1.1 by ALPN."""
    server = Server(host, 0)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            remaining, tail, total = length, b"", 0
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                total += len(chunk)
                remaining -= len(chunk)
                tail = (tail + chunk)[-256:]
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), total, tail))
            self.send_response(200)
            self.send_header("content-type", "text/plain")
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            return

    httpd = _Server((host, 0), Handler, server, cert)
    server.port = httpd.server_address[1]
    server.httpd = httpd
    threading.Thread(target=httpd.serve_forever, name=f"test-server-{host}", daemon=True).start()
    return server


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, record: Server, cert: tuple[Path, Path] | None):
        super().__init__(address, handler)
        self.record = record
        self.tls: ssl.SSLContext | None = None
        if cert is not None:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(str(cert[0]), str(cert[1]))
            self.tls.set_alpn_protocols(["h2", "http/1.1"])

    def finish_request(self, request, client_address):  # runs in the connection's thread
        if self.tls is None:
            return super().finish_request(request, client_address)
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return None
        if request.selected_alpn_protocol() == "h2":
            return _serve_h2(request, self.record)
        return super().finish_request(request, client_address)


def _serve_h2(sock: ssl.SSLSocket, record: Server) -> None:
    import h2.config
    import h2.connection
    import h2.events

    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams: dict[int, tuple[dict[str, str], bytearray]] = {}
    while True:
        try:
            data = sock.recv(65535)
        except OSError:
            return
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes) else v
                           for k, v in event.headers}
                streams[event.stream_id] = (headers, bytearray())
            elif isinstance(event, h2.events.DataReceived):
                streams[event.stream_id][1].extend(event.data)
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                headers, body = streams.pop(event.stream_id)
                record.seen.append(Seen(headers.get(":method", ""), headers.get(":path", ""), headers,
                                        len(body), bytes(body[-256:])))
                conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "text/plain"),
                                                    ("content-length", "2")])
                conn.send_data(event.stream_id, b"ok", end_stream=True)
        sock.sendall(conn.data_to_send())


IMEI = "490154203237518"
CANARIES = {
    "identifiers": {"imei": IMEI, "wifi_mac": "02:1a:11:f0:c3:9e", "android_id": "9774d56d682e549c"},
    "planted": [{"type": "contact", "id": "contact-1", "value": "CANARYc0ntact7Q"}],
}


def wait_for(path: Path, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
    """The first flow record matching `predicate` (records land as flows finish)."""
    deadline = time.monotonic() + timeout
    while True:
        for record in iter_jsonl(path):
            if predicate(record):
                return record
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching record in {path}: {list(iter_jsonl(path))}")
        time.sleep(0.05)

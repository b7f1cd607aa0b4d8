"""HTTP and HTTPS responders of the virtual internet, one pair per zone host on 127.0.0.x,
and a host's raw services (ZoneHost.raw): a TCP push channel that reads what the client
sends and answers `<ok/>`, a UDP sink that answers each datagram with `pong`.

One asyncio loop in one daemon thread serves every listener. Each answers any request
with 200 and a small JSON body, HTTP/1.1 keep-alive, and records nothing.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from concurrent.futures import Future

from harness.virtual.internet.ca import InternetCA
from harness.virtual.internet.zone import ZoneHost

MAX_HEADER = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
IDLE_TIMEOUT = 30.0


class Responders:
    """Listeners for the zone's hosts; `bindings[host][port] == "127.0.0.x:PORT"`."""

    def __init__(self, hosts: list[ZoneHost], ca: InternetCA, first_octet: int = 20) -> None:
        self._hosts = hosts
        self._ca = ca
        self._first = first_octet
        self.bindings: dict[str, dict[int, str]] = {}
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._datagrams: list[asyncio.DatagramTransport] = []
        self._conns: dict[asyncio.Task, asyncio.StreamWriter] = {}
        self._thread = threading.Thread(target=self._loop.run_forever, name="virtual-internet", daemon=True)

    def start(self) -> None:
        self._thread.start()
        fut: Future[None] = asyncio.run_coroutine_threadsafe(self._start_all(), self._loop)
        fut.result(timeout=30)

    async def _start_all(self) -> None:
        for i, host in enumerate(self._hosts):
            ip = f"127.0.0.{self._first + i}"
            cert = self._ca.server_cert(host.hostname)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(cert.chain_pem, cert.key_pem)
            plain = await asyncio.start_server(self._serve_factory(host.hostname), ip, 0)
            tls = await asyncio.start_server(self._serve_factory(host.hostname), ip, 0, ssl=ctx)
            self._servers += [plain, tls]
            self.bindings[host.hostname] = {
                80: f"{ip}:{plain.sockets[0].getsockname()[1]}",
                443: f"{ip}:{tls.sockets[0].getsockname()[1]}",
            }
            for service in host.raw:
                proto, _, port = service.partition("/")
                self.bindings[host.hostname][int(port)] = await self._raw(proto, ip)

    async def _raw(self, proto: str, ip: str) -> str:
        if proto == "udp":
            transport, _ = await self._loop.create_datagram_endpoint(_Pong, local_addr=(ip, 0))
            self._datagrams.append(transport)
            return f"{ip}:{transport.get_extra_info('sockname')[1]}"

        async def push(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await asyncio.wait_for(reader.read(MAX_HEADER), IDLE_TIMEOUT)
                writer.write(b"<ok/>")
                await writer.drain()
            except (ConnectionError, TimeoutError, OSError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(push, ip, 0)
        self._servers.append(server)
        return f"{ip}:{server.sockets[0].getsockname()[1]}"

    def _serve_factory(self, hostname: str):
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._conns[task] = writer
                task.add_done_callback(lambda t: self._conns.pop(t, None))
            try:
                while await self._one_request(hostname, reader, writer):
                    pass
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    TimeoutError, ssl.SSLError, ValueError, OSError):
                pass
            finally:
                writer.close()
        return serve

    async def _one_request(self, hostname: str, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
        if len(head) > MAX_HEADER:
            return False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            return False
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await self._skip_chunked(reader)
        else:
            length = int(headers.get("content-length", "0") or 0)
            if length < 0 or length > MAX_BODY:
                return False
            await reader.readexactly(length)
        body = json.dumps({"ok": True, "host": hostname}).encode()
        close = headers.get("connection", "").lower() == "close" or parts[2] == "HTTP/1.0"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: " + (b"close" if close else b"keep-alive")
                     + b"\r\n\r\n" + body)
        await writer.drain()
        return not close

    @staticmethod
    async def _skip_chunked(reader: asyncio.StreamReader) -> None:
        total = 0
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
            total += size
            if total > MAX_BODY:
                raise ValueError("body too large")
            await reader.readexactly(size + 2)
            if size == 0:
                return

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def close_all() -> None:
            for s in self._servers:
                s.close()
            for d in self._datagrams:
                d.close()
            for w in list(self._conns.values()):
                w.transport.abort()
            await asyncio.gather(*self._conns, return_exceptions=True)
            for s in self._servers:
                await s.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(close_all(), self._loop).result(timeout=10)
        except TimeoutError:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()


class _Pong(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(b"pong", addr)  # type: ignore[attr-defined]

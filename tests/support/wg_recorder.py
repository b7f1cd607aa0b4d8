"""mitmdump addon for tests/support/wg_mitmdump.py: records what arrives through the tunnel
and lets nothing out (HTTP answered here, DNS from a fixed table, raw TCP and UDP sent to
sinks on 127.0.0.1 that read and drop, never to the world address)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from pathlib import Path

from mitmproxy import ctx, dns, http

from harness.virtual.internet.zone import ZONE as VIRTUAL_ZONE

ZONE = {h.hostname: h.world_ip for h in VIRTUAL_ZONE}  # the apps look these up through the tunnel


class Recorder:
    def load(self, loader):
        loader.add_option("wg_record", str, "", "JSON lines of what was seen")

    async def running(self):
        async def swallow(reader, writer):
            await reader.read()
            writer.close()

        class Drop(asyncio.DatagramProtocol):
            pass

        self.tcp_sink = await asyncio.start_server(swallow, "127.0.0.1", 0)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            Drop, local_addr=("127.0.0.1", 0))
        self.sinks = {"tcp": self.tcp_sink.sockets[0].getsockname()[:2],
                      "udp": transport.get_extra_info("sockname")[:2]}
        Path(ctx.options.wg_record).with_name("ready").write_text("1")

    def _write(self, **rec):
        with open(ctx.options.wg_record, "a") as f:
            f.write(json.dumps(rec) + "\n")

    def server_connect(self, data):
        sink = self.sinks.get(data.server.transport_protocol)
        if sink is None or data.server.address[1] in (80, 443):
            data.server.error = "contained: the test lets nothing out"
        else:
            data.server.address = sink

    def request(self, flow: http.HTTPFlow):
        self._write(kind="http", host=flow.request.host, port=flow.request.port, path=flow.request.path,
                    body=flow.request.get_text(strict=False), client=flow.client_conn.peername[0],
                    http_version=flow.request.http_version, authority=flow.request.pretty_host)
        flow.response = http.Response.make(200, b"ok", {"content-type": "text/plain"})

    def dns_request(self, flow):
        q = flow.request.question
        ip = ZONE.get(q.name) if q is not None else None
        self._write(kind="dns", name=q.name if q else None, server=flow.server_conn.address[0])
        if ip is not None and q.type == 1:
            flow.response = flow.request.succeed([dns.ResourceRecord.A(q.name, ipaddress.IPv4Address(ip))])
        else:
            flow.response = flow.request.fail(dns.response_codes.NXDOMAIN)

    def tcp_start(self, flow):
        flow.metadata["original"] = flow.server_conn.address
        self._write(kind="tcp_start", host=flow.server_conn.address[0], port=flow.server_conn.address[1])

    def udp_start(self, flow):
        flow.metadata["original"] = flow.server_conn.address
        self._write(kind="udp_start", host=flow.server_conn.address[0], port=flow.server_conn.address[1])

    def tcp_error(self, flow):
        self._write(kind="tcp_error", error=str(flow.error))

    def udp_error(self, flow):
        self._write(kind="udp_error", error=str(flow.error))

    def tcp_message(self, flow):
        m = flow.messages[-1]
        if m.from_client:
            self._write(kind="tcp", host=flow.metadata["original"][0], port=flow.metadata["original"][1],
                        data=m.content.decode("latin-1"))

    def udp_message(self, flow):
        m = flow.messages[-1]
        if m.from_client:
            self._write(kind="udp", host=flow.metadata["original"][0], port=flow.metadata["original"][1],
                        data=m.content.decode("latin-1"))


addons = [Recorder()]

"""Record every finished flow: flows.jsonl (the capture contract) and flows.mitm.

    mitmdump -s addons/flowlog.py --set audit_capture_dir=captures/run1

HTTP flows are recorded at `response` or `error` (WebSockets at their end), TCP/UDP
flows at their end, DNS flows at their response or error (`kind: dns`), and a
failed TLS handshake (no flow of its own in mitmproxy) becomes a TCP flow with the
error, dispatched as `tcp_error` so the other addons classify it like any flow. Each
record is written and flushed as it completes: a crash loses at most the flow in flight.
Load it after the addons whose verdicts it records.

flows.jsonl is written first, then flows.mitm: flows.jsonl is the capture's record of
what happened (a kill between the two leaves a flow in flows.jsonl only; `lab verify`
names it). A flow is counted (`on_record`) only once it is written, so a run's counts
are the records. `in_flight` counts the flows begun and not yet recorded: the proxy
(harness.proxy.master) waits for them before it lets `done` close the files. A flow
that still finishes after `done` (mitmdump stopped mid-request) is logged as not
recorded and not counted.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from mitmproxy import ctx, dns, exceptions, http, tcp, tls, udp
from mitmproxy import flow as mflow
from mitmproxy.proxy.layers.tcp import TcpErrorHook

from harness.capture import (
    FLOWS_JSONL,
    FLOWS_MITM,
    JsonlWriter,
    json_line,
    make_private_dir,
    open_private_append,
)
from harness.names import clean_host
from harness.proxy.flow_file import FastFlowWriter
from harness.proxy.verdicts import audit_of, flow_record

logger = logging.getLogger(__name__)

RecordCallback = Callable[[dict[str, Any]], None]


def parse_capture_dir(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path} exists and is not a folder")
    return path


class FlowLog:
    def __init__(self, on_record: RecordCallback | None = None) -> None:
        self.on_record = on_record
        self.directory: Path | None = None
        self.jsonl: JsonlWriter | None = None
        self.mitm: BinaryIO | None = None
        self.writer: FastFlowWriter | None = None
        self.device: str | None = None
        self._written: OrderedDict[str, None] = OrderedDict()
        self._live: set[str] = set()  # flows begun and not yet recorded
        self._closed = False  # `done` closed the files: later flows cannot be recorded

    def load(self, loader):
        loader.add_option("audit_capture_dir", str, "", "Capture folder for flows.jsonl and flows.mitm.")
        loader.add_option("audit_device", str, "", "The handset serial recorded with each flow.")

    def configure(self, updated):
        if "audit_device" in updated:
            self.device = ctx.options.audit_device or None
        if "audit_capture_dir" in updated:
            try:
                directory = parse_capture_dir(ctx.options.audit_capture_dir)
            except ValueError as e:
                raise exceptions.OptionsError(f"audit_capture_dir: {e}") from e
            self.close()
            if directory is not None:
                try:
                    self.open(directory)
                except OSError as e:
                    raise exceptions.OptionsError(f"audit_capture_dir: cannot write {directory}: {e}") from e

    def open(self, directory: Path) -> None:
        make_private_dir(directory)
        self.directory = directory
        self._closed = False
        self.jsonl = JsonlWriter(directory / FLOWS_JSONL)
        self.mitm = open_private_append(directory / FLOWS_MITM)  # closed in close()
        self.writer = FastFlowWriter(self.mitm)

    def close(self) -> None:
        if self.jsonl is not None:
            self.jsonl.close()
        if self.mitm is not None and not self.mitm.closed:
            self.mitm.flush()
            self.mitm.close()
        self.jsonl = self.mitm = self.writer = None

    def done(self) -> None:
        self.close()
        self._closed = True

    @property
    def in_flight(self) -> int:
        """Flows begun (request headers, TCP/UDP start) and not recorded yet."""
        return len(self._live)

    # -- recording ------------------------------------------------------------------------

    def record(self, flow: mflow.Flow) -> dict[str, Any] | None:
        if flow.id in self._written:
            return None
        self._written[flow.id] = None
        self._live.discard(flow.id)
        if len(self._written) > 100_000:
            self._written.popitem(last=False)
        if self._closed:
            logger.warning("flow %s finished after the flow log was closed: not recorded", flow.id)
            return None
        record = flow_record(flow, self.device)
        if self.jsonl is not None:
            self.jsonl.write(record)
        if self.writer is not None and self.mitm is not None:
            self._write_mitm(self.writer, flow, record)
            self.mitm.flush()
        if self.on_record is not None:
            self.on_record(record)
        return record

    def _write_mitm(self, writer: FastFlowWriter, flow: mflow.Flow, record: dict[str, Any]) -> None:
        """flows.mitm gets every flow flows.jsonl got: one whose metadata another addon
        made unserialisable is written with its audit record as its only metadata."""
        try:
            writer.add(flow)
            return
        except (TypeError, ValueError) as e:
            logger.warning("flows.mitm: flow %s written without its metadata (%s)", flow.id, e)
        metadata = flow.metadata
        flow.metadata = {"audit": json.loads(json_line(record))}  # plain JSON types only
        try:
            writer.add(flow)
        except (TypeError, ValueError) as e:
            logger.warning("flows.mitm: flow %s not written: %s", flow.id, e)
        finally:
            flow.metadata = metadata

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        self._live.add(flow.id)

    def tcp_start(self, flow: tcp.TCPFlow) -> None:
        self._live.add(flow.id)

    def udp_start(self, flow: udp.UDPFlow) -> None:
        self._live.add(flow.id)

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.websocket is not None:
            return  # an upgraded connection: recorded when it ends, with its messages' findings
        self.record(flow)

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        self.record(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self.record(flow)

    def http_connect_error(self, flow: http.HTTPFlow) -> None:
        # A CONNECT that never got through (upstream unreachable, refused by containment):
        # no request inside it will follow, so this is the only trace of it.
        audit = audit_of(flow)
        audit.setdefault("kind", "error")
        self.record(flow)

    def tcp_end(self, flow: tcp.TCPFlow) -> None:
        self.record(flow)

    def tcp_error(self, flow: tcp.TCPFlow) -> None:
        self.record(flow)

    def udp_end(self, flow: udp.UDPFlow) -> None:
        self.record(flow)

    def udp_error(self, flow: udp.UDPFlow) -> None:
        self.record(flow)

    def dns_request(self, flow: dns.DNSFlow) -> None:
        if flow.live:
            self._live.add(flow.id)

    def dns_response(self, flow: dns.DNSFlow) -> None:
        self.record(flow)

    def dns_error(self, flow: dns.DNSFlow) -> None:
        self.record(flow)

    async def tls_failed_client(self, data: tls.TlsData) -> None:
        await self._tls_failed(data, "client")

    async def tls_failed_server(self, data: tls.TlsData) -> None:
        await self._tls_failed(data, "server")

    async def _tls_failed(self, data: tls.TlsData, side: str) -> None:
        flow = tls_failure_flow(data, side)
        # Every addon sees it as a failed TCP flow (classified, scanned); recorded in tcp_error.
        await ctx.master.addons.trigger_event(TcpErrorHook(flow))
        self.record(flow)  # no-op if tcp_error already recorded it


def tls_failure_flow(data: tls.TlsData, side: str) -> tcp.TCPFlow:
    """A failed TLS handshake as a TCP flow with an error, so it can be classified and saved."""
    client, server = data.context.client, data.context.server
    reason = data.conn.error or "handshake failed"
    flow = tcp.TCPFlow(client, server)
    flow.timestamp_created = client.timestamp_start or flow.timestamp_created
    if side == "client":
        message = f"client rejected the TLS handshake (certificate not trusted or pinned?): {reason}"
    else:
        message = f"upstream TLS handshake failed: {reason}"
    flow.error = mflow.Error(message)
    flow.live = False
    audit = audit_of(flow)
    audit["kind"] = "tls_failed"
    audit["tls_failure"] = {"side": side, "error": reason, "sni": clean_host(data.conn.sni)}
    return flow


addons = [FlowLog()]

"""Find sensitive values in what flows carry: canaries in every encoding, and patterns.

    mitmdump -s addons/sensitive.py --set audit_canaries=captures/run/canaries.json

Each request (and, with audit_scan_responses, each response) is scanned over URL,
headers, cookies and decoded body; findings ({type, id, where, encoding, offset}) go
into flow.metadata["audit"]["findings"] and the flow gets the `sensitive_data` flag.
A body larger than audit_max_body_bytes is never buffered: it streams through, scanned
chunk by chunk for the canaries as sent (not decoded), and the flow says so in a note.
A very large (or compressed) buffered body is scanned on a worker thread, so other flows
are not held up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from mitmproxy import ctx, dns, exceptions, http, tcp, udp

from harness.config import Flag
from harness.errors import CaptureError
from harness.proxy.verdicts import add_flags, add_note, audit_of
from harness.sensitive import Finding, Scanner, ScanResult
from harness.sensitive.body_decode import MAX_DECODED, may_expand

logger = logging.getLogger(__name__)

# Which bodies are scanned on a worker thread, so that the event loop goes on meanwhile
# (the Hyperscan passes there run without the GIL). Handing a scan over costs the process
# 0.1-1.3 ms more CPU (the scan's Python parts then contend for the GIL), which only a
# long scan repays. Measured in `bench proxy`'s setting (seven runs with 1.3 MB bodies,
# two each with 300 and 640 KB), scanning there changed the proxy's MB/s by -0.2% to +11%
# with 1.3 MB bodies (+5% on the median), -4% to +2% with 640 KB, -6% to -9% with 300 KB.
# A body as sent scans in 1-2 ms per MB; a compressed one may decode to 8 times its
# size, so it goes from less.
THREAD_BYTES = 1024 * 1024
THREAD_BYTES_COMPRESSED = 256 * 1024


def parse_scanner(canaries: str, patterns: bool) -> Scanner:
    try:
        return Scanner.from_file(Path(canaries) if canaries else None, patterns=patterns)
    except CaptureError as e:
        raise ValueError(str(e)) from e


def header_value(fields: tuple[tuple[bytes, bytes], ...], name: bytes) -> str | None:
    """`headers.get(name)` read straight off the raw fields (a header sent twice: its
    values joined by ", ", as mitmproxy does); a lookup through `Headers` costs more than
    scanning the header."""
    values = [value for key, value in fields if key.lower() == name]
    return b", ".join(values).decode("utf-8", "surrogateescape") if values else None


class StreamScan:
    """A body streamed through (`message.stream`): each chunk is scanned with the tail
    of the previous one, and passed on unchanged."""

    def __init__(self, scanner: Scanner, where: str):
        self.scanner = scanner
        self.where = where
        self.seen = 0
        self.tail = b""
        self.findings: list[Finding] = []
        self.keep = max(scanner.longest_needle - 1, 0)
        self._reported: set[tuple[str, str, str]] = set()

    def __call__(self, chunk: bytes) -> bytes:
        if chunk:
            data = self.tail + chunk
            base = self.seen - len(self.tail)
            for found in self.scanner.scan_needles(data, self.where):
                key = (found.id, found.type, found.encoding)
                if key not in self._reported:  # one finding per value and encoding
                    self._reported.add(key)
                    self.findings.append(replace(found, offset=base + found.offset))
            self.seen += len(chunk)
            self.tail = data[-self.keep :] if self.keep else b""
        return chunk


class Sensitive:
    def __init__(self) -> None:
        self.scanner: Scanner | None = None
        self.max_body = 8 * 1024 * 1024

    def load(self, loader):
        loader.add_option("audit_canaries", str, "", "canaries.json with the identifiers and planted values.")
        loader.add_option(
            "audit_max_body_bytes", int, 8 * 1024 * 1024,
            "Bodies larger than this stream through and are scanned raw, chunk by chunk.",
        )
        loader.add_option("audit_patterns", bool, True, "Also look for identifiers by shape (IMEI, e-mail, ...).")
        loader.add_option("audit_scan_responses", bool, False, "Also scan response bodies.")

    def configure(self, updated):
        if self.scanner is None or updated & {"audit_canaries", "audit_patterns"}:
            try:
                self.scanner = parse_scanner(ctx.options.audit_canaries, ctx.options.audit_patterns)
            except ValueError as e:
                raise exceptions.OptionsError(f"audit_canaries: {e}") from e
        if "audit_max_body_bytes" in updated:
            if ctx.options.audit_max_body_bytes < 1024:
                raise exceptions.OptionsError("audit_max_body_bytes must be at least 1024")
            self.max_body = ctx.options.audit_max_body_bytes
        if self.scanner is not None:
            # a compressed body may decode to at most 8x the size we buffer (bombs stop there)
            self.scanner.max_decoded = min(MAX_DECODED, 8 * self.max_body)

    # -- streaming large bodies ---------------------------------------------------------

    def _too_large(self, message: http.Message) -> bool:
        length = header_value(message.headers.fields, b"content-length") or ""
        return bool(message.stream) or (length.isdigit() and int(length) > self.max_body)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if not flow.live:  # a flow read from a file: its body is already here
            return
        if self.scanner is not None and self._too_large(flow.request):
            flow.request.stream = StreamScan(self.scanner, "body")

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.live and flow.response is not None and self._too_large(flow.response):
            flow.response.stream = True
            add_note(audit_of(flow), "response body not scanned: streamed (larger than audit_max_body_bytes)")

    # -- scanning -------------------------------------------------------------------------

    def request(self, flow: http.HTTPFlow) -> Coroutine[Any, Any, None] | None:
        if self.scanner is None:
            return None
        audit = audit_of(flow)
        request = flow.request
        stream = request.stream
        body = None
        if isinstance(stream, StreamScan):
            audit["request_bytes"] = stream.seen
            add_note(audit, f"request body streamed ({stream.seen} bytes): scanned raw for canaries, not decoded")
        elif stream:
            add_note(audit, "request body not scanned: streamed (larger than audit_max_body_bytes)")
        else:
            body = request.raw_content
            if body is not None and len(body) > self.max_body:
                add_note(audit, f"request body truncated for scanning: first {self.max_body} of {len(body)} bytes")
                body = body[: self.max_body]
        fields = request.headers.fields  # the headers as sent: not decoded only to be encoded again
        encoding = header_value(fields, b"content-encoding")
        scan = functools.partial(
            self.scanner.scan_message,
            url=request.url,  # the Host header is scanned if it names another host than this
            headers=fields,
            body=body,
            content_type=header_value(fields, b"content-type"),
            content_encoding=encoding,
        )
        streamed = stream.findings if isinstance(stream, StreamScan) else []
        return self._scan(scan, body, encoding, lambda r: self._record(flow, r.findings + streamed, r.notes))

    def response(self, flow: http.HTTPFlow) -> Coroutine[Any, Any, None] | None:
        if self.scanner is None or not ctx.options.audit_scan_responses or flow.response is None:
            return None
        if flow.response.stream:
            return None
        body = flow.response.raw_content
        if body is not None and len(body) > self.max_body:
            add_note(audit_of(flow), f"response body truncated for scanning: first {self.max_body} of {len(body)} bytes")
            body = body[: self.max_body]
        fields = flow.response.headers.fields
        encoding = header_value(fields, b"content-encoding")
        scan = functools.partial(
            self.scanner.scan_message,
            body=body,
            content_type=header_value(fields, b"content-type"),
            content_encoding=encoding,
        )

        def finish(result: ScanResult) -> None:
            findings = [replace(f, where=f"response:{f.where}") for f in result.findings]
            self._record(flow, findings, [f"response {note}" for note in result.notes])

        return self._scan(scan, body, encoding, finish)

    def _scan(
        self, scan: Callable[[], ScanResult], body: bytes | None, content_encoding: str | None,
        finish: Callable[[ScanResult], None],
    ) -> Coroutine[Any, Any, None] | None:
        """Scan here, or a large body on a worker thread: mitmproxy awaits what a hook
        returns, so that flow waits for its scan while the others go on."""
        if body is not None and (
            len(body) >= THREAD_BYTES
            or (len(body) >= THREAD_BYTES_COMPRESSED and may_expand(body, content_encoding))
        ):
            return self._scan_off_loop(scan, finish)
        finish(scan())
        return None

    async def _scan_off_loop(self, scan: Callable[[], ScanResult], finish: Callable[[ScanResult], None]) -> None:
        finish(await asyncio.to_thread(scan))

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        if self.scanner is None or flow.websocket is None or not flow.websocket.messages:
            return
        message = flow.websocket.messages[-1]
        if not message.from_client:
            return
        self._record(flow, self.scanner.scan_text(message.content[: self.max_body], "websocket"), [])

    def tcp_message(self, flow: tcp.TCPFlow) -> None:
        self._scan_payload(flow, "tcp")

    def udp_message(self, flow: udp.UDPFlow) -> None:
        self._scan_payload(flow, "udp")

    def _scan_payload(self, flow: tcp.TCPFlow | udp.UDPFlow, where: str) -> None:
        """What a raw client sends, message by message, up to audit_max_body_bytes per
        flow (with a note when cut); each message is scanned with the tail of the one
        before, so a value split across two is still found."""
        message = flow.messages[-1]
        if self.scanner is None or not message.from_client:
            return
        audit = audit_of(flow)
        scanned = int(audit.get("payload_scanned", 0))
        room = self.max_body - scanned
        if room <= 0:
            return
        content = message.content
        if len(content) > room:
            add_note(audit, f"{where} payload scanned only in its first {self.max_body} bytes (audit_max_body_bytes)")
            content = content[:room]
        audit["payload_scanned"] = scanned + len(content)
        keep = max(self.scanner.longest_needle - 1, 0)
        previous = bytes.fromhex(audit.get("payload_tail", "")) if keep else b""
        data = previous + content
        audit["payload_tail"] = data[-keep:].hex() if keep else ""
        seen = {(f.get("id"), f.get("type"), f.get("encoding")) for f in audit.get("findings", ())}
        findings = [
            replace(f, offset=f.offset - len(previous) + scanned)
            for f in self.scanner.scan_text(data, where) if (f.id, f.type, f.encoding) not in seen
        ]
        self._record(flow, findings, [])

    def dns_request(self, flow: dns.DNSFlow) -> None:
        """A name looked up can carry an identifier (DNS exfiltration): the query is scanned."""
        question = flow.request.question
        if self.scanner is None or question is None:
            return
        self._record(flow, self.scanner.scan_text(question.name.encode("utf-8", "replace"), "dns:query"), [])

    def _record(self, flow, findings: list[Finding], notes: list[str]) -> None:
        audit = audit_of(flow)
        for note in notes:
            add_note(audit, note)
        if not findings:
            return
        stored = audit.setdefault("findings", [])
        for finding in findings:
            item = finding.as_dict()
            if item not in stored:
                stored.append(item)
        add_flags(audit, str(Flag.SENSITIVE_DATA))
        logger.info(
            "sensitive: %s -> %s",
            flow.request.pretty_host if isinstance(flow, http.HTTPFlow) else flow.type,
            ", ".join(f"{f.id} in {f.where} ({f.encoding})" for f in findings),
        )


addons = [Sensitive()]

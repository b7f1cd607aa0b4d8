"""addons/sensitive.py with taddons/tflow: findings, flags, streamed large bodies."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import itertools
import json
from pathlib import Path

import brotli
import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow, tutils
from support.sensitive_cases import CANARIES as TABLE_CANARIES
from support.sensitive_cases import (
    CONTAINERS,
    JSON,
    VALUES,
    Container,
    chain,
    content_type,
    findings_of,
    value_encodings,
    where_of,
)
from support.servers import IMEI

from addons.sensitive import (
    THREAD_BYTES,
    THREAD_BYTES_COMPRESSED,
    Sensitive,
    StreamScan,
    header_value,
)


@pytest.fixture
def addon_ctx(canaries_file: Path):
    addon = Sensitive()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_canaries=str(canaries_file), audit_max_body_bytes=4096)
        yield addon, tctx


def request_flow(path: str = "/", body: bytes = b"", headers: dict[str, str] | None = None):
    req = tutils.treq(path=path.encode(), content=body)
    for name, value in (headers or {}).items():
        req.headers[name] = value
    return tflow.tflow(req=req)


@pytest.mark.parametrize(
    ("path", "body", "headers", "expected"),
    [
        (f"/a?imei={IMEI}", b"", {}, ("imei", "url", "plain")),
        ("/", gzip.compress(json.dumps({"x": hashlib.sha256(IMEI.encode()).hexdigest()}).encode()),
         {"content-encoding": "gzip", "content-type": "application/json"}, ("imei", "body:$.x", "sha256+gzip")),
        ("/", b"", {"cookie": "a=1; m=02:1A:11:F0:C3:9E"}, ("wifi_mac", "cookie:m", "plain")),
        ("/", b"name=CANARYc0ntact7Q", {"content-type": "application/x-www-form-urlencoded"},
         ("contact-1", "body:name", "plain")),
    ],
    ids=["url-query", "gzip-json-sha256", "cookie", "form-body"],  # fixed: gzip bytes carry the time
)
def test_request_findings(addon_ctx, path: str, body: bytes, headers: dict, expected: tuple) -> None:
    addon, _ = addon_ctx
    flow = request_flow(path, body, headers)
    addon.request(flow)
    audit = flow.metadata["audit"]
    assert expected in {(f["id"], f["where"], f["encoding"]) for f in audit["findings"]}
    assert "sensitive_data" in audit["flags"]


def test_header_value_reads_the_raw_fields_as_headers_get_does() -> None:
    headers = http.Headers([
        (b"Content-Type", b"application/json"), (b"content-encoding", b"gzip"), (b"CONTENT-ENCODING", b"br"),
        (b"X-Caf\xc3\xa9", b"\xff\xfe"),
    ])
    for name in ("content-type", "content-encoding", "x-caf\u00e9", "content-length"):
        assert header_value(headers.fields, name.encode()) == headers.get(name)
    assert header_value(headers.fields, b"content-encoding") == "gzip, br"


def test_codings_sent_as_two_headers_are_both_undone(addon_ctx) -> None:
    addon, _ = addon_ctx
    body = brotli.compress(gzip.compress(json.dumps({"device": IMEI}).encode()))
    flow = request_flow("/", body)
    flow.request.headers.add("Content-Encoding", "gzip")
    flow.request.headers.add("content-encoding", "br")
    flow.request.headers["Content-Type"] = "application/json"
    addon.request(flow)
    found = {(f["id"], f["where"], f["encoding"]) for f in flow.metadata["audit"]["findings"]}
    assert ("imei", "body:$.device", "gzip+br") in found


def test_a_large_body_is_scanned_on_a_worker_thread(canaries_file: Path) -> None:
    addon = Sensitive()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_canaries=str(canaries_file))
        body = b"x" * THREAD_BYTES + f"&imei={IMEI}".encode()
        flow = request_flow("/upload", body)
        pending = addon.request(flow)
        assert pending is not None and "findings" not in flow.metadata["audit"]  # not yet
        asyncio.run(pending)  # mitmproxy awaits what a hook returns
        assert ("imei", "body", "plain") in {(f["id"], f["where"], f["encoding"]) for f in flow.metadata["audit"]["findings"]}
        assert addon.request(request_flow("/small", b"imei=" + IMEI.encode())) is None  # small: scanned in place
        tctx.configure(addon, audit_scan_responses=True)
        flow = tflow.tflow(resp=tutils.tresp(content=body))
        pending = addon.response(flow)
        assert pending is not None
        asyncio.run(pending)
        assert ("imei", "response:body") in {(f["id"], f["where"]) for f in flow.metadata["audit"]["findings"]}


def _payload(size: int) -> bytes:
    return b"x" * size + f"&imei={IMEI}".encode()


@pytest.mark.parametrize(
    ("body", "encoding", "threaded"),
    [
        (_payload(THREAD_BYTES - 100), None, False),  # as sent, under 1 MB: a handoff costs more than it saves
        (gzip.compress(_payload(THREAD_BYTES_COMPRESSED), compresslevel=0), "gzip", True),  # may grow
        (gzip.compress(_payload(THREAD_BYTES_COMPRESSED), compresslevel=0), None, True),  # gzip by its magic
        (_payload(THREAD_BYTES_COMPRESSED), "identity", False),
        (gzip.compress(_payload(1000)), "gzip", False),
    ],
    ids=["plain-under-1mb", "gzip-header", "gzip-magic", "identity", "small-gzip"],  # fixed for pytest-xdist
)
def test_which_bodies_go_to_the_worker_thread(canaries_file: Path, body: bytes, encoding: str | None,
                                              threaded: bool) -> None:
    addon = Sensitive()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_canaries=str(canaries_file))
        flow = request_flow("/upload", body)
        if encoding:
            flow.request.headers["content-encoding"] = encoding
        pending = addon.request(flow)
        assert (pending is not None) == threaded
        if pending is not None:
            asyncio.run(pending)
        assert "imei" in {f["id"] for f in flow.metadata["audit"]["findings"]}


def test_clean_request_has_no_findings(addon_ctx) -> None:
    addon, _ = addon_ctx
    flow = request_flow("/nothing", b"hello")
    addon.request(flow)
    assert "findings" not in flow.metadata["audit"]
    assert "flags" not in flow.metadata["audit"]


@pytest.mark.parametrize("split", [1, 7, 14, 15, 100])
def test_large_body_streams_and_is_scanned_across_chunks(addon_ctx, split: int) -> None:
    addon, _ = addon_ctx
    body = b"x" * 5000 + IMEI.encode() + b"y" * 100
    flow = request_flow("/up", b"", {"content-length": str(len(body))})
    addon.requestheaders(flow)
    stream = flow.request.stream
    assert isinstance(stream, StreamScan)
    cut = 5000 + split
    assert stream(body[:cut]) + stream(body[cut:]) + stream(b"") == body
    addon.request(flow)
    audit = flow.metadata["audit"]
    assert audit["findings"] == [{"type": "imei", "id": "imei", "where": "body", "encoding": "plain", "offset": 5000}]
    assert audit["request_bytes"] == len(body)
    assert any("streamed" in note for note in audit["notes"])


def test_body_streamed_by_mitmproxy_is_noted(addon_ctx) -> None:
    addon, _ = addon_ctx
    flow = request_flow("/chunked")
    flow.request.stream = True  # what stream_large_bodies does to a large chunked body
    flow.request.content = None
    addon.request(flow)
    assert any("not scanned" in note for note in flow.metadata["audit"]["notes"])


def test_responses_scanned_only_when_asked(addon_ctx) -> None:
    addon, tctx = addon_ctx
    flow = tflow.tflow(resp=tutils.tresp(content=f"echo {IMEI}".encode()))
    addon.response(flow)
    assert "findings" not in flow.metadata.get("audit", {})
    tctx.configure(addon, audit_scan_responses=True)
    addon.response(flow)
    assert flow.metadata["audit"]["findings"][0]["where"] == "response:body"


def test_tcp_messages_from_the_client(addon_ctx) -> None:
    addon, _ = addon_ctx
    flow = tflow.ttcpflow()
    flow.messages[0].content = f"HELO {IMEI}".encode()
    flow.messages = flow.messages[:1]
    addon.tcp_message(flow)
    assert flow.metadata["audit"]["findings"][0]["where"] == "tcp"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("{not json", "not valid JSON"), ('{"planted": {}}', "planted must be a list")],
)
def test_bad_canaries_are_option_errors(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "canaries.json"
    if content is not None:
        path.write_text(content)
    addon = Sensitive()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match=message):
            tctx.configure(addon, audit_canaries=str(path))


def test_max_body_floor() -> None:
    addon = Sensitive()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="at least 1024"):
            tctx.configure(addon, audit_max_body_bytes=10)


def test_decompression_is_bounded_by_the_body_limit(addon_ctx) -> None:
    addon, _ = addon_ctx  # audit_max_body_bytes=4096: decoded bodies stop at 32 KiB
    bomb = gzip.compress(b"\0" * (1024 * 1024))
    flow = request_flow("/bomb", bomb, {"content-encoding": "gzip"})
    addon.request(flow)
    assert any("exceeds" in note for note in flow.metadata["audit"]["notes"])


def test_websocket_messages_from_the_client(addon_ctx) -> None:
    from mitmproxy import websocket

    addon, _ = addon_ctx
    flow = tflow.twebsocketflow(messages=False)
    flow.websocket.messages.append(websocket.WebSocketMessage(1, True, f"hello {IMEI}".encode()))
    addon.websocket_message(flow)
    flow.websocket.messages.append(websocket.WebSocketMessage(1, False, f"echo {IMEI}".encode()))
    addon.websocket_message(flow)
    (finding,) = flow.metadata["audit"]["findings"]
    assert (finding["where"], finding["offset"]) == ("websocket", 6)


# -- every data type in every container, through mitmproxy ------------------------------------

TABLE_ENCODINGS = ("plain", "sha256", "base64url@1", "url")
# the containers mitmproxy itself applies when a message's content is set (`message.content =`)
MITMPROXY_CODINGS = ("gzip", "deflate", "br", "zstd")


@pytest.fixture
def table_addon(tmp_path: Path):
    path = tmp_path / "canaries.json"
    path.write_text(json.dumps(TABLE_CANARIES))
    addon = Sensitive()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_canaries=str(path), audit_scan_responses=True)
        yield addon


class TableFlow:
    """One flow whose request (or response) carries each body in turn with `headers`;
    with set_content the body is given decoded and mitmproxy applies the Content-Encoding."""

    def __init__(self, side: str, headers: dict[str, str], set_content: bool = False):
        self.side, self.set_content = side, set_content
        self.flow = tflow.tflow(req=tutils.treq(content=b""), resp=tutils.tresp(content=b""))
        self.message = self.flow.request if side == "request" else self.flow.response
        for name, value in headers.items():
            self.message.headers[name] = value

    def scan(self, addon: Sensitive, body: bytes) -> set[tuple[str, str, str, str]]:
        self.flow.metadata.clear()
        if self.set_content:
            self.message.content = body
        else:
            self.message.raw_content = body
        pending = addon.request(self.flow) if self.side == "request" else addon.response(self.flow)
        if pending is not None:
            asyncio.run(pending)
        return findings_of(self.flow.metadata.get("audit", {}).get("findings", []))


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda c: c.name)
def test_every_type_in_every_container_through_the_addon(table_addon: Sensitive, container: Container) -> None:
    """Requests and responses, with and without a Content-Type, the body as sent
    (raw_content) with the Content-Encoding header as sent, or none: each layer named
    once, innermost first, whether the header or magic bytes tell it."""
    wrong = []
    for side, typed in itertools.product(("request", "response"), (True, False)):
        headers = {}
        if container.header is not None:
            headers["Content-Encoding"] = container.header
        ctype = content_type(JSON, container, typed)
        if ctype is not None:
            headers["Content-Type"] = ctype
        where = ("" if side == "request" else "response:") + where_of(JSON, container, typed)
        flow = TableFlow(side, headers)
        for value in VALUES:
            for case, text, named in value_encodings(value.text):
                if case not in TABLE_ENCODINGS:
                    continue
                found = flow.scan(table_addon, container.wrap(JSON.build(text)))
                expected = {(value.type, value.id, where, chain(named, *container.layers))}
                if found != expected:
                    wrong.append((side, typed, value.name, case, sorted(found), sorted(expected)))
    assert wrong == []


@pytest.mark.parametrize("side", ["request", "response"])
@pytest.mark.parametrize("coding", MITMPROXY_CODINGS)
def test_a_body_mitmproxy_encoded_names_its_coding_once(table_addon: Sensitive, coding: str, side: str) -> None:
    """mitmproxy encodes a message's content by its Content-Encoding (what a flow read from
    a HAR or built by an addon holds): the scanner undoes that coding once, and names it once."""
    prefix = "" if side == "request" else "response:"
    flow = TableFlow(side, {"Content-Encoding": coding, "Content-Type": JSON.content_type}, set_content=True)
    wrong = []
    for value in VALUES:
        for case, text, named in value_encodings(value.text):
            if case not in TABLE_ENCODINGS:
                continue
            found = flow.scan(table_addon, JSON.build(text))
            expected = {(value.type, value.id, prefix + JSON.where, chain(named, coding))}
            if found != expected:
                wrong.append((value.name, case, sorted(found), sorted(expected)))
    assert wrong == []

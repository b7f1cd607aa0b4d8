"""harness.flow_file writes exactly what mitmproxy's FlowWriter writes."""

from __future__ import annotations

import enum
import io

import pytest
from mitmproxy import io as mio
from mitmproxy.io import tnetstring
from mitmproxy.test import tflow

from harness.proxy.flow_file import FastFlowWriter, dumps


def _flows():
    http = tflow.tflow(resp=True)
    http.metadata["audit"] = {"flags": ["foreign"], "findings": [{"type": "imei", "offset": 3}],
                              "country_sources": {"iptocc": None, "geoip2fast": "US"}, "score": 0.5,
                              "host": "ünïcode.example", "n": -12, "t": True}
    big = tflow.tflow(resp=True)
    big.request.content = bytes(range(256)) * 8192  # 2 MB: written in pieces, not copied
    modified = tflow.tflow(resp=True)
    modified.backup()
    modified.request.path = "/changed"
    return [http, big, modified, tflow.tflow(err=True), tflow.ttcpflow(), tflow.tudpflow(),
            tflow.twebsocketflow(), tflow.tdnsflow()]


# Fixed ids: a flow's id is random, and pytest-xdist needs every worker to collect the same names.
@pytest.mark.parametrize("flow", _flows(), ids=["http-audit-metadata", "http-2mb", "http-modified", "http-error",
                                                "tcp", "udp", "websocket", "dns"])
def test_same_bytes_as_mitmproxy(flow) -> None:
    state = flow.get_state()
    assert dumps(state) == tnetstring.dumps(state)
    assert FastFlowWriter(io.BytesIO()).encode(flow) == tnetstring.dumps(flow.get_state())


def test_a_connection_is_encoded_again_when_it_changes() -> None:
    writer = FastFlowWriter(io.BytesIO())
    first = tflow.tflow(resp=True)
    second = tflow.tflow(resp=True, client_conn=first.client_conn, server_conn=first.server_conn)
    assert writer.encode(first) == tnetstring.dumps(first.get_state())
    assert writer.encode(second) == tnetstring.dumps(second.get_state())  # from the cache
    # what changes on a keep-alive connection between its flows
    first.server_conn.timestamp_end = 1_700_000_999.5
    first.server_conn.error = "connection reset"
    first.client_conn.alpn_offers.append(b"h2")  # a list changed in place
    assert writer.encode(second) == tnetstring.dumps(second.get_state())


def test_the_connection_cache_is_bounded() -> None:
    writer = FastFlowWriter(io.BytesIO(), connections=4)
    for _ in range(10):
        writer.encode(tflow.tflow(resp=True))
    assert len(writer._connections) == 4


def test_mitmproxy_reads_what_we_write() -> None:
    buffer = io.BytesIO()
    writer = FastFlowWriter(buffer)
    flows = _flows()
    for flow in flows:
        writer.add(flow)
    buffer.seek(0)
    read = list(mio.FlowReader(buffer).stream())
    assert [f.id for f in read] == [f.id for f in flows]
    assert read[0].metadata["audit"]["host"] == "ünïcode.example"
    assert read[1].request.content == flows[1].request.content


class Level(enum.IntEnum):
    HIGH = 2


@pytest.mark.parametrize(
    "value",
    [
        {"a": [None, True, False, 0, -7, 2**70, 1.5, float("inf"), "ü", b"\xff", Level.HIGH]},
        ((b"host", b"x"), (b"k", "text"), (b"big", b"v" * 5000), (b"a", b"b", b"c"), ("s", b"t")),
        {"h": ((b"Accept", b"*/*"),), "nested": {"l": [[b"x", b"y"], (1, 2.0)], "e": {}, "t": ()}},
        [b"w" * 4095, b"w" * 4096, {"k": b"w" * 4096}],
    ],
)
def test_scalars_pairs_and_containers_as_mitmproxy_writes_them(value) -> None:
    assert dumps(value) == tnetstring.dumps(value)


@pytest.mark.parametrize("value", [object(), {1.5j: 1}, [set()]])
def test_unserialisable_values_are_refused(value) -> None:
    with pytest.raises(ValueError, match="unserializable"):
        dumps(value)


def _tls_connections(tmp_path):
    from mitmproxy import certs

    store = certs.CertStore.from_store(tmp_path, "mitmproxy", 2048)
    leaf = store.get_cert("api.example", []).cert
    flow = tflow.tflow(resp=True)
    client, server = flow.client_conn, flow.server_conn
    client.mitmcert, client.sni, client.tls_version = leaf, "api.example", "TLSv1.3"
    client.alpn_offers, client.cipher_list = [b"h2", b"http/1.1"], ["TLS_AES_128_GCM_SHA256"]
    server.certificate_list = [leaf, store.default_ca]
    server.via = ("http", ("127.0.0.1", 8080))
    server.error = "upstream closed"
    return flow


def test_connection_states_equal_mitmproxys_with_certificates(tmp_path) -> None:
    from harness.proxy.connection_state import ConnectionStates

    flow = _tls_connections(tmp_path)
    states = ConnectionStates()
    for conn in (flow.client_conn, flow.server_conn):
        assert states.state(conn) == conn.get_state()
        assert states.state(conn) == conn.get_state()  # PEM from the cache this time
    assert FastFlowWriter(io.BytesIO()).encode(flow) == tnetstring.dumps(flow.get_state())


def test_an_invalid_connection_value_gets_mitmproxys_own_error(tmp_path) -> None:
    from harness.proxy.connection_state import ConnectionStates

    flow = _tls_connections(tmp_path)
    flow.client_conn.tls_version = "TLSv9"  # not one of the Literal's values
    with pytest.raises(ValueError, match="tls_version"):
        ConnectionStates().state(flow.client_conn)

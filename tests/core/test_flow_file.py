"""harness.flow_file writes exactly what mitmproxy's FlowWriter writes."""

from __future__ import annotations

import io

import pytest
from mitmproxy import io as mio
from mitmproxy.io import tnetstring
from mitmproxy.test import tflow

from harness.flow_file import FastFlowWriter, dumps


def _flows():
    http = tflow.tflow(resp=True)
    http.metadata["audit"] = {"flags": ["foreign"], "findings": [{"type": "imei", "offset": 3}],
                              "country_sources": {"iptocc": None, "geoip2fast": "US"}, "score": 0.5,
                              "host": "ünïcode.example", "n": -12, "t": True}
    return [http, tflow.tflow(err=True), tflow.ttcpflow(), tflow.tudpflow(), tflow.twebsocketflow(), tflow.tdnsflow()]


@pytest.mark.parametrize("flow", _flows(), ids=lambda f: f.type)
def test_same_bytes_as_mitmproxy(flow) -> None:
    state = flow.get_state()
    assert dumps(state) == tnetstring.dumps(state)


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


@pytest.mark.parametrize("value", [object(), {1.5j: 1}, [set()]])
def test_unserialisable_values_are_refused(value) -> None:
    with pytest.raises(ValueError, match="unserializable"):
        dumps(value)

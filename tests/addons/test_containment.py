"""addons/containment.py and harness.zone with taddons/tflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.proxy import server_hooks
from mitmproxy.test import taddons, tflow

from addons.containment import REFUSED, Containment
from harness.capture.zone import parse_zone_data

ZONE = {
    "version": 1,
    "hosts": {"Analytics.Vendor-Cloud.example.": {"world_ip": "203.0.113.10",
                                                  "ports": {"443": "127.0.0.21:18443", "80": "127.0.0.21:18080"}}},
}


@pytest.fixture
def zone_file(tmp_path: Path) -> Path:
    path = tmp_path / "zone.json"
    path.write_text(json.dumps(ZONE))
    return path


def connect(addon: Containment, host: str, port: int):
    server = tflow.tserver_conn()
    server.address = (host, port)
    server.sni = None
    data = server_hooks.ServerConnectionHookData(server=server, client=tflow.tclient_conn())
    addon.server_connect(data)
    return server


@pytest.mark.parametrize(
    ("host", "port", "address", "error"),
    [
        ("analytics.vendor-cloud.example", 443, ("127.0.0.21", 18443), None),
        ("ANALYTICS.vendor-cloud.example.", 80, ("127.0.0.21", 18080), None),
        ("203.0.113.10", 443, ("127.0.0.21", 18443), None),
        ("analytics.vendor-cloud.example", 8443, ("analytics.vendor-cloud.example", 8443), REFUSED),
        ("exfil.example", 443, ("exfil.example", 443), REFUSED),
        ("8.8.8.8", 53, ("8.8.8.8", 53), REFUSED),
    ],
)
def test_server_connect(zone_file: Path, host: str, port: int, address: tuple, error: str | None) -> None:
    addon = Containment()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_zone=str(zone_file))
        server = connect(addon, host, port)
        assert server.address == address
        if error is None:
            assert server.error is None
            assert server.sni == host.lower().rstrip(".")
        else:
            assert error in server.error


def test_flows_keep_the_world_ip(zone_file: Path) -> None:
    addon = Containment()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_zone=str(zone_file))
        flow = tflow.tflow(resp=True)
        flow.server_conn = connect(addon, "analytics.vendor-cloud.example", 443)
        addon.response(flow)
        audit = flow.metadata["audit"]
        assert (audit["world_ip"], audit["world_port"]) == ("203.0.113.10", 443)
        assert audit["contained"] == {"responder": "127.0.0.21:18443"}
        refused = tflow.tflow()
        refused.server_conn = connect(addon, "exfil.example", 443)
        addon.http_connect_error(refused)
        assert refused.metadata["audit"]["contained"] == {"refused": True}
        assert "nothing left the lab" in refused.metadata["audit"]["notes"][0]


def test_without_a_zone_nothing_changes() -> None:
    addon = Containment()
    with taddons.context(addon):
        server = connect(addon, "exfil.example", 443)
        assert server.address == ("exfil.example", 443) and server.error is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected an object"),
        ({"version": 2, "hosts": {}}, "version"),
        ({"hosts": {"a.example": {"world_ip": "nope", "ports": {"80": "127.0.0.1:1"}}}}, "not an IP"),
        ({"hosts": {"a.example": {"world_ip": "203.0.113.1", "ports": {}}}}, "ports"),
        ({"hosts": {"a.example": {"world_ip": "203.0.113.1", "ports": {"80": "10.0.0.1:80"}}}}, "not on loopback"),
        ({"hosts": {"a.example": {"world_ip": "203.0.113.1", "ports": {"80": "127.0.0.1:0"}}}}, "bad port"),
        ({"hosts": {"a.example": {"world_ip": "203.0.113.1", "ports": {"http": "127.0.0.1:80"}}}}, "not a port"),
    ],
)
def test_bad_zones(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_zone_data(data)


def test_bad_zone_file_is_an_option_error(tmp_path: Path) -> None:
    path = tmp_path / "zone.json"
    path.write_text(json.dumps({"version": 1, "ca": str(tmp_path / "missing.pem"), "hosts": {}}))
    addon = Containment()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="does not exist"):
            tctx.configure(addon, audit_zone=str(path))


def test_a_zone_nested_too_deeply_is_an_options_error_not_a_recursion_error(tmp_path: Path) -> None:
    zone = tmp_path / "zone.json"
    zone.write_text("[" * 100_000)
    with taddons.context(Containment()) as tctx:
        with pytest.raises(exceptions.OptionsError, match="audit_zone: .*nested more than"):
            tctx.configure(tctx.master.addons.get("containment"), audit_zone=str(zone))

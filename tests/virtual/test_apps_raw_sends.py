"""Sends that only full capture sees (behaviours tcp://, udp://, dns://, quic://): their
schema, and a real app JVM in the handset namespace whose raw TCP push channel, UDP beacon,
DNS lookup and HTTP/3 upload all reach a plain `mitmdump --mode wireguard` through the
tunnel; outside the namespace the same app runs without error reaching nothing real."""

from __future__ import annotations

import base64

import pytest
from support.wg_mitmdump import WgMitmdump

from harness.virtual.apps.behaviours import BehaviourError, parse_behaviours
from harness.virtual.apps.runner import wait_for
from harness.virtual.netns import unavailable_reason
from harness.virtual.wg_client import parse_wg_quick

REASON = unavailable_reason()

RAW_APP = {"name": "com.vendor.pushd", "behaviours": {"sdk": "com.vendor.push.Channel", "sends": [
    {"id": "push", "url": "tcp://push.vendor-cloud.example:5222",
     "fields": [{"name": "imei", "read": "imei", "encoding": "base64"}]},
    {"id": "beacon", "url": "udp://beacon.adsdk.example:9999", "body": "form",
     "fields": [{"name": "aid", "read": "android_id"}]},
    {"id": "lookup", "url": "dns://collect.partner-metrics.example"},
    {"id": "lbs", "url": "quic://lbs.vendor-cloud.example/v1/report",
     "fields": [{"name": "imei", "read": "imei"}]},
]}}


@pytest.mark.parametrize(("url", "error"), [
    ("tcp://push.vendor-cloud.example", "names its port"),
    ("udp://beacon.adsdk.example", "names its port"),
    ("dns://collect.partner-metrics.example/x", "only the host"),
    ("dns://collect.partner-metrics.example:53", "only the host"),
    ("ftp://x.example/", "tcp, udp, dns or quic URL"),
])
def test_raw_send_urls_checked(url, error):
    with pytest.raises(BehaviourError, match=error):
        parse_behaviours("p", {"sends": [{"id": "s", "url": url}]})


def test_raw_sends_have_no_query_string():
    with pytest.raises(BehaviourError, match="json, form or protobuf"):
        parse_behaviours("p", {"sends": [{"id": "s", "url": "tcp://a.example:1", "body": "query"}]})
    assert parse_behaviours("p", RAW_APP["behaviours"]).sends[3].url.startswith("quic://")


def _log(runner) -> str:
    return runner.log_path.read_text(errors="replace") if runner.log_path.exists() else ""


@pytest.mark.e2e
@pytest.mark.skipif(REASON is not None, reason=f"no handset namespace here: {REASON}")
def test_raw_tcp_udp_dns_and_http3_reach_mitmproxy_through_the_tunnel(apps, tmp_path):
    mitm = WgMitmdump(tmp_path / "mitm")
    state, runner = apps([RAW_APP])
    try:
        runner.network.up(parse_wg_quick(mitm.client_config()))
        runner.start("com.vendor.pushd")
        recs = mitm.wait_for(lambda rs: {"tcp", "udp"} <= {r["kind"] for r in rs}
                             and "collect.partner-metrics.example" in {r.get("name") for r in rs}
                             and any(r.get("http_version") == "HTTP/3" for r in rs), 30)
        by_kind = {r["kind"]: r for r in recs if r["kind"] != "dns"}
        # the apps look names up as a phone does: through the tunnel's resolver
        asked = {r["name"] for r in recs if r["kind"] == "dns"}
        assert {"push.vendor-cloud.example", "beacon.adsdk.example", "lbs.vendor-cloud.example"} <= asked
        assert (by_kind["tcp"]["host"], by_kind["tcp"]["port"]) == ("47.88.1.40", 5222)
        imei = state.identifiers["imei"]
        assert base64.b64encode(imei.encode()).decode() in by_kind["tcp"]["data"]
        assert (by_kind["udp"]["host"], by_kind["udp"]["port"]) == ("8.209.64.20", 9999)
        assert "aid=" in by_kind["udp"]["data"]
        [h3] = [r for r in recs if r.get("http_version") == "HTTP/3"]
        assert h3["authority"] == "lbs.vendor-cloud.example" and h3["path"] == "/v1/report"
        assert imei in h3["body"], _log(runner)
    finally:
        runner.close()
        mitm.stop()


@pytest.mark.e2e
def test_raw_sends_outside_the_namespace_stay_on_loopback(apps):
    """Explicit mode: the same app runs; DNS asks only the zone; nothing errors the app."""
    state, runner = apps([RAW_APP])
    pid = runner.start("com.vendor.pushd")
    want = ("POST tcp://push.vendor-cloud.example:5222 -> ", "POST udp://beacon.adsdk.example:9999 -> ",
            "POST dns://collect.partner-metrics.example -> 1",  # the zone answered, no real resolver
            "quic://lbs.vendor-cloud.example/v1/report failed: java.io.IOException: HTTP/3 upload failed: ")
    assert wait_for(lambda: all(w in _log(runner) for w in want), 30), _log(runner)
    assert runner.pid_of("com.vendor.pushd") == pid  # the app goes on


@pytest.mark.e2e
def test_without_namespaces_the_tunnel_stays_down_and_the_apps_run_as_before(apps):
    """A machine that cannot make namespaces: the WireGuard app logs why, nothing moves."""
    state, runner = apps([RAW_APP, {"name": "com.wireguard.android", "activities": [".activity.MainActivity"]}])
    runner.network.reason = "network namespaces need root (run as root, as CI does)"
    app = runner.wireguard
    state.files.write("/data/data/com.wireguard.android/files/lab.conf",
                      b"[Interface]\nPrivateKey = a\nAddress = 10.0.0.1/32\n[Peer]\nPublicKey = b\n"
                      b"Endpoint = 127.0.0.1:51820\nAllowedIPs = 0.0.0.0/0\n")
    state.appops[("com.wireguard.android", "android:activate_vpn")] = "allow"
    state.settings["secure"].update(always_on_vpn_app="com.wireguard.android", always_on_vpn_lockdown="1")
    pid = runner.start("com.vendor.pushd")
    message = app.set_up("lab")
    assert message.startswith("tunnel lab not started: network namespaces need root"), message
    assert not runner.network.contained and runner.pid_of("com.vendor.pushd") == pid
    assert any(tag == "WireGuard/TunnelManager" and "not started" in msg for *_, tag, msg in state.log)

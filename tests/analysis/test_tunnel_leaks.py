"""WireGuard mode's cross-check: a Frida connect the proxy saw no flow for is a leak around
the tunnel (`tunnel_leak`), not a proxy bypass; explicit-mode captures keep their bypasses."""

from __future__ import annotations

from support.capture_builder import BYPASS_HOST, CaptureBuilder, build_capture
from support.wireguard_capture import wireguard, write_wireguard

from harness.analysis import analyse


def test_connects_the_proxy_saw_are_no_leak_and_no_bypass(tmp_path):
    b = wireguard(CaptureBuilder(tmp_path / "wg"))
    a = analyse([write_wireguard(b)])
    assert a.bypassed.empty  # every connect went to a real address: none of them is a proxy bypass
    assert a.tunnel_leaks.empty
    assert a.summary["counts"]["tunnel_leaks"] == 0
    assert a.summary["tunnel_check"]["line"] == "Frida saw 5 connections; all went through the tunnel"
    assert not (a.verdict["kind"] == "tunnel_leak").any()
    assert not (a.verdict["kind"] == "bypass").any()


def test_a_connect_the_proxy_never_saw_is_a_tunnel_leak_named_with_app_ip_and_port(tmp_path):
    b = wireguard(CaptureBuilder(tmp_path / "wg"))
    b.connect("com.vendor.telemetry", None, "198.51.100.77", 8883, at=80, api="libc.connect")  # MQTT, around
    b.connect("com.vendor.telemetry", None, "8.209.64.20", 443, at=95, api="libc.connect")  # 55 s after its flow
    a = analyse([write_wireguard(b)])
    leaks = a.tunnel_leaks
    assert [(r.app, r.ip, r.port) for r in leaks.itertuples()] == [
        ("com.vendor.telemetry", "198.51.100.77", 8883), ("com.vendor.telemetry", "8.209.64.20", 443)]
    assert leaks["destination"].tolist() == ["198.51.100.77", "beacon.adsdk.example"]  # the DNS map names it
    assert leaks["flags"].str.startswith("tunnel_leak").all()
    assert a.bypassed.empty
    assert a.summary["counts"]["tunnel_leaks"] == 2
    assert a.summary["tunnel_check"]["line"] == "Frida saw 7 connections; 2 went around the tunnel (leak)"
    first, second = a.verdict["finding"].tolist()[:2]
    assert first.startswith("1 connection went around the tunnel (leak): com.vendor.telemetry to ")
    assert {first.split(" to ")[1].split(" — ")[0], second.split(" to ")[1].split(" — ")[0]} == {
        "198.51.100.77:8883", "beacon.adsdk.example (8.209.64.20:443)"}
    assert set(a.verdict["kind"][:2]) == {"tunnel_leak"} and set(a.verdict["severity"][:2]) == {"high"}
    assert a.verdict["evidence_hooks"][0].startswith(f"{b.run_id}#h")


def test_explicit_mode_keeps_its_bypasses_and_has_no_leaks(tmp_path):
    a = analyse([build_capture(tmp_path / "explicit")])
    assert a.bypassed["destination"].tolist() == [BYPASS_HOST]
    assert a.tunnel_leaks.empty and a.tunnel_check is None
    assert a.summary["tunnel_check"] is None and a.summary["counts"]["tunnel_leaks"] == 0
    assert not (a.verdict["kind"] == "tunnel_leak").any()
    assert (a.verdict["kind"] == "bypass").sum() == 1


def test_only_the_wireguard_run_of_two_is_cross_checked(tmp_path):
    explicit = build_capture(tmp_path / "explicit")
    b = wireguard(CaptureBuilder(tmp_path / "wg", run_id="run-wg"))
    b.connect("com.vendor.telemetry", None, "198.51.100.77", 8883, at=80, api="libc.connect")
    a = analyse([explicit, write_wireguard(b)])
    assert a.bypassed["run_id"].unique().tolist() == ["run-vendor-1.0"]
    assert a.tunnel_leaks["run_id"].tolist() == ["run-wg"]
    assert a.tunnel_check == {"runs": ["run-wg"], "connections": 6, "leaks": 1}

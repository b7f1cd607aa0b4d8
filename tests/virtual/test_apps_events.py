"""System events reach the virtual apps (real JVMs): a running app gets them on its watch
connection, one not running is started for them; timers keep a fixed rate."""

from __future__ import annotations

import json

import pytest
from support.apps_kit import proxy_to

from harness.virtual.apps.behaviours import BehaviourError, parse_behaviours
from harness.virtual.telephony import insert_sim, remove_sim

FIRMWARE = {
    "autostart": True,
    "sdk": "com.vendor.services.core.Dispatcher",
    "sends": [
        {"id": "activation", "url": "http://activation.vendor-cloud.example/v1/activate",
         "when": ["sim_inserted"], "fields": [{"name": "imsi", "read": "imsi"},
                                              {"name": "iccid", "read": "iccid"}]},
        {"id": "config", "url": "http://config.vendor-cloud.example/v1/settings", "method": "GET",
         "body": "query", "when": ["settings_opened"], "fields": [{"name": "fw", "value": "1.0.0"}]},
    ],
}


def paths(proxy) -> list[str]:
    return [r.request_line.split()[1].split("?")[0] for r in proxy.requests]


@pytest.mark.e2e
def test_a_running_app_gets_the_event_and_runs_only_its_sends(apps, plain_proxy):
    state, runner = apps([{"name": "com.vendor.services", "system": True, "behaviours": FIRMWARE}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    remove_sim(state)
    runner.boot()
    pid = runner.pid_of("com.vendor.services")
    assert pid is not None
    assert runner.broadcast("account_added") == []  # nobody listens
    assert insert_sim(state)
    assert runner.broadcast("sim_inserted") == ["com.vendor.services"]
    (req,) = proxy.wait(1)
    assert req.request_line == "POST http://activation.vendor-cloud.example/v1/activate HTTP/1.1"
    assert json.loads(req.body) == {"imsi": "310260000000001", "iccid": "8901260000000000019"}
    assert runner.pid_of("com.vendor.services") == pid  # the same process, not a new one
    runner.broadcast("settings_opened")
    proxy.wait(2)
    assert paths(proxy) == ["http://activation.vendor-cloud.example/v1/activate",
                            "http://config.vendor-cloud.example/v1/settings"]


@pytest.mark.e2e
def test_an_app_not_running_is_started_for_the_event(apps, plain_proxy):
    behaviours = {**FIRMWARE, "autostart": False}
    state, runner = apps([{"name": "com.vendor.services", "behaviours": behaviours}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    remove_sim(state)
    assert runner.running() == {}
    runner.broadcast("sim_inserted")  # the SIM is still out: the activation carries no IMSI
    assert runner.pid_of("com.vendor.services") is not None
    (req,) = proxy.wait(1)
    assert json.loads(req.body) == {"imsi": "", "iccid": ""}
    assert "for sim_inserted" in runner.log_path.read_text()


@pytest.mark.e2e
def test_a_timer_keeps_a_fixed_rate(apps, plain_proxy):
    sends = [{"id": "keepalive", "url": "http://push.vendor-cloud.example/v1/keepalive", "every": "1s",
              "fields": [{"name": "did", "read": "android_id"}]}]
    state, runner = apps([{"name": "com.vendor.services", "behaviours": {"sends": sends}}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    runner.start("com.vendor.services")
    proxy.wait(6, timeout=30)
    gaps = [b - a for a, b in zip(proxy.arrivals, proxy.arrivals[1:], strict=False)][:5]
    assert abs(sum(gaps) / len(gaps) - 1.0) < 0.05, gaps


def test_triggers_and_every_in_a_spec():
    b = parse_behaviours("p.k", {"sends": [
        {"id": "a", "url": "https://h.example/a", "when": ["boot", "sim_inserted", "location_enabled"],
         "every": "5s"},
        {"id": "b", "url": "https://h.example/b", "every": "1500ms"},
        {"id": "c", "url": "https://h.example/c", "every": "2m"},
    ]})
    assert [s.every for s in b.sends] == [5.0, 1.5, 120.0]
    assert b.sends[0].when == ["boot", "sim_inserted", "location_enabled"]


@pytest.mark.parametrize("send", [
    {"id": "a", "url": "https://h.example/a", "when": ["sim_inserterd"]},
    {"id": "a", "url": "https://h.example/a", "every": "5 seconds"},
    {"id": "a", "url": "https://h.example/a", "every": "0.5s"},
])
def test_bad_triggers_are_refused(send):
    with pytest.raises(BehaviourError, match=r"^p\.k: behaviours\.sends\.0"):
        parse_behaviours("p.k", {"sends": [send]})

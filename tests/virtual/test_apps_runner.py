"""The app runner without adb: real JVMs, the handset state, a plain proxy socket."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from support.apps_kit import IMEI, pid_alive, proxy_to

from harness.virtual.apps.runner import wait_for

pytestmark = pytest.mark.e2e

HTTP_SEND = {
    "sdk": "com.vendor.analytics.Tracker",
    "sends": [{"id": "ids", "url": "http://analytics.vendor-cloud.example/v2/collect?src=wx", "every": 1,
               "fields": [{"name": "did", "read": "imei", "encoding": "sha256"},
                          {"name": "imei", "read": "imei"},
                          {"name": "contacts", "read": "contacts", "encoding": "base64"},
                          {"name": "clip", "read": "clipboard"}]}],
}


def test_launch_gives_a_real_pid_named_for_the_package(apps):
    state, runner = apps([{"name": "com.example.idle"}])
    pid = runner.start("com.example.idle")
    assert runner.pid_of("com.example.idle") == pid
    assert runner.running() == {"com.example.idle": pid}
    assert runner.start("com.example.idle") == pid  # already running: same process
    # right after fork the child's cmdline can still be empty: wait for the exec
    assert wait_for(lambda: Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0] == b"com.example.idle", 10)
    assert wait_for(lambda: Path(f"/proc/{pid}/comm").read_text().strip() == "om.example.idle", 10)
    runner.stop("com.example.idle")
    assert not pid_alive(pid)
    assert runner.pid_of("com.example.idle") is None


def test_request_arrives_at_the_proxy_with_encoded_identifiers(apps, plain_proxy):
    state, runner = apps([{"name": "com.vendor.weather", "behaviours": HTTP_SEND}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    runner.start("com.vendor.weather")
    req = proxy.wait(1)[0]
    # An HTTP proxy request: absolute URI, Host of the zone hostname, a Dalvik User-Agent.
    assert req.request_line == "POST http://analytics.vendor-cloud.example/v2/collect?src=wx HTTP/1.1"
    assert req.header("Host") == "analytics.vendor-cloud.example"
    assert req.header("User-Agent").startswith("Dalvik/2.1.0 (Linux; U; Android 13; VX-1 Build/TQ3A")
    body = json.loads(req.body)
    assert body["did"] == hashlib.sha256(IMEI.encode()).hexdigest()
    assert body["imei"] == IMEI
    contacts = json.loads(base64.b64decode(body["contacts"]))
    assert {"display_name": "Alice Canary", "data1": "+15555550111"}.items() <= contacts[0].items()
    assert body["clip"] == ""


def test_values_planted_after_launch_are_read_at_call_time(apps, plain_proxy):
    state, runner = apps([{"name": "com.vendor.weather", "behaviours": HTTP_SEND}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    runner.start("com.vendor.weather")
    proxy.wait(1)
    with state.lock:
        state.clipboard = "CANARY-CLIP-7731"
        state.add_contact("Bob Planted", "+15555550999")
    assert wait_for(lambda: any(b"CANARY-CLIP-7731" in r.body for r in proxy.requests), 20)
    last = json.loads(next(r.body for r in proxy.requests if b"CANARY-CLIP-7731" in r.body))
    names = [c["display_name"] for c in json.loads(base64.b64decode(last["contacts"]))]
    assert "Bob Planted" in names


def test_body_formats_and_encodings_match_python(apps, plain_proxy):
    fields = [{"name": f"f_{enc.replace('+', '_')}", "read": "imei", "encoding": enc}
              for enc in ("plain", "base64", "hex", "md5", "sha1", "sha256", "gzip+base64")]
    sends = [
        {"id": "json-gz", "url": "http://api.weather.example/a", "body": "json", "gzip": True, "fields": fields},
        {"id": "form", "url": "http://api.weather.example/b", "body": "form", "fields": fields},
        {"id": "proto", "url": "http://api.weather.example/c", "body": "protobuf", "fields": fields[:2]},
        {"id": "query", "url": "http://api.weather.example/d", "method": "GET", "body": "query",
         "fields": fields[:3]},
    ]
    state, runner = apps([{"name": "com.example.enc", "behaviours": {"user_agent": "okhttp", "sends": sends}}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    runner.start("com.example.enc")
    reqs = {urlsplit(r.request_line.split()[1]).path: r for r in proxy.wait(4)}
    want = {
        "f_plain": IMEI, "f_base64": base64.b64encode(IMEI.encode()).decode(), "f_hex": IMEI.encode().hex(),
        "f_md5": hashlib.md5(IMEI.encode()).hexdigest(), "f_sha1": hashlib.sha1(IMEI.encode()).hexdigest(),
        "f_sha256": hashlib.sha256(IMEI.encode()).hexdigest(),
    }
    a = reqs["/a"]
    assert a.header("Content-Encoding") == "gzip" and a.header("User-Agent") == "okhttp/4.12.0"
    body = json.loads(gzip.decompress(a.body))
    assert {k: body[k] for k in want} == want
    assert gzip.decompress(base64.b64decode(body["f_gzip_base64"])) == IMEI.encode()
    form = {k: v[0] for k, v in parse_qs(reqs["/b"].body.decode()).items()}
    assert {k: form[k] for k in want} == want
    assert reqs["/c"].header("Content-Type") == "application/x-protobuf"
    b64 = want["f_base64"].encode()
    assert reqs["/c"].body == b"\x0a" + bytes([len(IMEI)]) + IMEI.encode() + b"\x12" + bytes([len(b64)]) + b64
    d = reqs["/d"]
    assert d.request_line.startswith("GET http://api.weather.example/d?f_plain=" + IMEI + "&f_base64=")
    assert d.body == b""


def test_https_goes_through_connect_with_the_zone_hostname(apps, plain_proxy):
    send = {"sends": [{"id": "s", "url": "https://analytics.vendor-cloud.example/v1/e", "fields": []}]}
    state, runner = apps([{"name": "com.example.tls", "behaviours": send}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    runner.start("com.example.tls")
    req = proxy.wait(1)[0]
    assert req.request_line == "CONNECT analytics.vendor-cloud.example:443 HTTP/1.1"
    assert req.header("Host") == "analytics.vendor-cloud.example:443"


def test_proxy_ignoring_sdk_connects_directly_and_the_proxy_sees_nothing(apps, plain_proxy):
    sends = [{"id": "direct", "url": "https://beacon.adsdk.example/b", "ignore_proxy": True,
              "sdk": "com.adsdk.core.Beacon", "fields": [{"name": "aid", "read": "advertising_id"}]},
             {"id": "proxied", "url": "http://api.weather.example/p", "fields": []}]
    state, runner = apps([{"name": "com.example.ads", "behaviours": {"sends": sends}}])
    proxy = plain_proxy(state.device_loopback)
    proxy_to(state, proxy)
    runner.start("com.example.ads")
    proxy.wait(1)
    log = runner.log_path
    assert wait_for(lambda: "Beacon: POST https://beacon.adsdk.example/b -> 200" in log.read_text(), 20)
    assert [r.request_line.split()[1] for r in proxy.requests] == ["http://api.weather.example/p"]


def test_unset_proxy_means_direct_and_unknown_hosts_fail(apps):
    sends = [{"id": "a", "url": "https://api.weather.example/x", "fields": []},
             {"id": "b", "url": "https://no-such-host.example/x", "fields": []}]
    state, runner = apps([{"name": "com.example.direct", "behaviours": {"sends": sends}}])
    state.settings["global"]["http_proxy"] = ":0"
    runner.start("com.example.direct")
    text = lambda: runner.log_path.read_text()  # noqa: E731
    assert wait_for(lambda: "POST https://api.weather.example/x -> 200" in text(), 20)
    assert wait_for(lambda: "Unable to resolve host \"no-such-host.example\"" in text(), 20)

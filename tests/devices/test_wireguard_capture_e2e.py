"""Full capture of a virtual handset, end to end: the lab's Proxy in WireGuard mode
(contained, the handset's zone), the WireGuard-app procedure (devices/wireguard.py) on
virtual:vendor-1.1, and the firmware's traffic that never reads a proxy setting recorded
in flows.jsonl: DNS of the watch-list partner, the raw TCP push channel with the IMEI
(base64), the ad SDK's UDP beacon and the HTTP/3 location upload. Then restore."""

from __future__ import annotations

import json

import pytest
from support.full_capture import around_the_proxy

from harness.capture.folder import FLOWS_JSONL, iter_jsonl
from harness.config.lab import LabConfig
from harness.devices import Journal, open_device, restore
from harness.devices.wireguard import set_up
from harness.proxy.master import Proxy
from harness.virtual.apps.runner import wait_for
from harness.virtual.netns import unavailable_reason

REASON = unavailable_reason()
IMEI, ANDROID_ID = "867432055814427", "9f2c41a7d3e8b056"  # vendor-1.1's
pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(REASON is not None, reason=f"no handset namespace here: {REASON}")]


def _records(capture) -> list[dict]:
    path = capture / FLOWS_JSONL
    return list(iter_jsonl(path)) if path.exists() else []




def test_firmware_traffic_around_the_proxy_is_recorded_through_the_tunnel(virtual_handset, adb_server, tmp_path):
    vh = virtual_handset("vendor-1.1")
    lab = LabConfig.model_validate({
        "name": "wg-virtual", "jurisdiction": "IN", "policy": {"watchlist_countries": ["CN"]},
        "proxy": {"mode": "wireguard", "network": "contained"}, "state_dir": str(tmp_path / "state")})
    handset = open_device(vh.serial, lab, client=adb_server.client)
    journal = Journal.create(handset.serial, tmp_path / "state")
    capture = tmp_path / "capture"
    canaries = tmp_path / "canaries.json"
    canaries.write_text(json.dumps({"identifiers": {"imei": IMEI, "android_id": ANDROID_ID}}))
    with Proxy(lab, capture_dir=capture, device=vh.serial, zone=vh.process.zone_path, mode="wireguard",
               canaries=canaries) as proxy:
        set_up(handset, journal, "lab", proxy.tunnel.wg_quick())
        vh.shell("am start -n com.vendor.adsdk/.AdActivity")
        vh.shell("cmd location set-location-enabled false")
        vh.shell("cmd location set-location-enabled true")  # the firmware uploads the fix over HTTP/3
        assert wait_for(lambda: set(around_the_proxy(_records(capture))) == {"dns", "tcp", "udp", "h3"}, 60), \
            sorted({(r["kind"], r.get("server_port")) for r in _records(capture)})
        restore(handset, journal)
    seen = around_the_proxy(_records(capture))
    assert seen["tcp"]["server_ip"] == "47.88.1.40"
    assert ("imei", "base64") in {(f["id"], f.get("encoding")) for f in seen["tcp"]["findings"]}, seen["tcp"]
    assert seen["udp"]["server_ip"] == "8.209.64.20"
    assert seen["h3"]["server_ip"] == "47.88.1.50"
    assert seen["dns"]["dns"]["answered_by"] == "zone"

"""`lab doctor`'s capture path check in WireGuard mode: the tunnel up, end to end.

What a run does, for a few seconds: a WireGuard proxy (harness.proxy.master.Proxy, this
handset's keys) recording into a temporary folder deleted afterwards; the tunnel
`lab-doctor` installed through the WireGuard app (devices/wireguard.set_up, journaled:
the tunnel file, "Allow remote control apps", VPN consent, always-on lockdown, the tunnel
up); then on the handset

    printf 'GET /lab-doctor/TOKEN HTTP/1.0\\r\\nHost: lab-doctor.invalid\\r\\n\\r\\n' | nc -w 2 192.0.2.1 80

(toybox nc, again until PROBE_SECONDS have passed: the app brings its tunnel up on its own
time). The check passes when the proxy recorded that request (its flows.jsonl holds the
token); everything is undone through the journal, as `lab restore` would.

The probe's proxy is contained: its zone has one host, lab-doctor.invalid at 192.0.2.1
(TEST-NET-1, RFC 5737), whose port 80 is a listener on this computer's loopback
(capture_probe.ProbeListener). The probe goes nowhere else, and whatever else the
handset sends while the tunnel is up is refused by the proxy: nothing leaves the lab.

A failure says which part: the WireGuard app missing; the tunnel not installed (the app
never opened); the VPN consent refused; the tunnel not brought up (remote control
refused: nc finds no route); the tunnel up but nothing reaching the proxy (nc times out:
the endpoint unreachable, e.g. a firewall on the lab network).
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from pathlib import Path

from harness.capture import FLOWS_JSONL
from harness.config import LabConfig, NetworkMode
from harness.config.proxy import CaptureMode
from harness.devices import wireguard
from harness.devices.capture_probe import ProbeListener
from harness.devices.doctor import Check, Status, passed
from harness.devices.handset import Handset
from harness.devices.info import RootMethod
from harness.devices.journal import Journal
from harness.devices.restore import restore
from harness.devices.shellquote import W, cmd
from harness.errors import DeviceError, DeviceLostError, ProxyError
from harness.proxy.master import Proxy

NAME = "capture path (WireGuard)"
TUNNEL = "lab-doctor"  # the probe's tunnel in the WireGuard app (a run's is "lab")
PROBE_HOST = "lab-doctor.invalid"
PROBE_IP = "192.0.2.1"  # TEST-NET-1: routed nowhere but into the tunnel
PROBE_PORT = 80
PROBE_SECONDS = 6.0
NC_SECONDS = 2
EXPLICIT = "or set proxy.mode: explicit in lab.yaml (the proxy setting: apps that read it only)"


def check_tunnel(handset: Handset, lab: LabConfig, journal: Journal, *, virtual: bool) -> Check:
    """The WireGuard capture path of this handset, tried and undone (the journal is restored
    whatever happened, so the next doctor's journal check finds nothing left)."""
    try:
        check = _try(handset, lab, journal, virtual)
    finally:
        undone = _undo(handset, journal)
    return undone or check


def _try(handset: Handset, lab: LabConfig, journal: Journal, virtual: bool) -> Check:
    if not wireguard.installed(handset):
        return Check(NAME, Status.FAIL, f"the WireGuard app ({wireguard.PACKAGE}) is not installed: no tunnel "
                     "can carry the handset's traffic to the proxy",
                     "install it (Google Play, or the APK from https://download.wireguard.com/android-client/: "
                     f"`adb install`) and open it once; {EXPLICIT}")
    if RootMethod(handset.root) == RootMethod.NONE:
        return Check(NAME, Status.WARN, "not tried: the handset is not rooted, so the tunnel is imported by the "
                     "technician (`lab run` shows it as a QR code)",
                     "after importing it, check that the WireGuard app shows a recent handshake")
    with tempfile.TemporaryDirectory(prefix="lab-doctor-") as folder:
        listener = ProbeListener()
        try:
            proxy = Proxy(_probe_lab(lab, Path(folder), listener.port), capture_dir=Path(folder) / "capture",
                          device=handset.serial, mode=CaptureMode.WIREGUARD, drain_grace=0.2,
                          close_timeout=2.0).start()
        except ProxyError as e:
            listener.close()
            return Check(NAME, Status.FAIL, f"the probe's WireGuard server did not start: {e}",
                         "check proxy.wireguard_host / wireguard_interface / wireguard_port in lab.yaml "
                         "(a port a running `lab run` holds is taken)")
        try:
            return _probe(handset, proxy, journal, virtual)
        finally:
            proxy.stop()
            listener.close()


def _probe_lab(lab: LabConfig, folder: Path, port: int) -> LabConfig:
    zone = folder / "zone.json"
    zone.write_text(json.dumps({"version": 1, "hosts": {
        PROBE_HOST: {"world_ip": PROBE_IP, "ports": {str(PROBE_PORT): f"127.0.0.1:{port}"}}}}))
    proxy = lab.proxy.model_copy(update={"mode": CaptureMode.WIREGUARD, "network": NetworkMode.CONTAINED,
                                         "zone": zone})
    return lab.model_copy(update={"proxy": proxy})


def _probe(handset: Handset, proxy: Proxy, journal: Journal, virtual: bool) -> Check:
    tunnel = proxy.tunnel
    token = secrets.token_hex(8)
    request = f"GET /lab-doctor/{token} HTTP/1.0\\r\\nHost: {PROBE_HOST}\\r\\n\\r\\n"
    line = cmd(W("printf"), request) + " | " + cmd(W("nc"), W("-w"), W(str(NC_SECONDS)), W(PROBE_IP),
                                                   W(str(PROBE_PORT)))
    flows = Path(proxy.capture_dir or ".") / FLOWS_JSONL
    said = ""
    seen = no_nc = installed = False
    consent: str | None = None
    app_said = ""
    try:
        wireguard.set_up(handset, journal, TUNNEL, tunnel.wg_quick())
        installed = True
        started = time.monotonic()  # from the tunnel switched on, as a run waits for its first flow
        while not seen and time.monotonic() - started < PROBE_SECONDS:
            result = handset.sh(line, check=False, timeout=NC_SECONDS * 4)
            said = result.output.strip()[:120]
            if result.exit_status == 127:
                no_nc = True
                break
            seen = _recorded(flows, token, 1.0 if result.ok else 0.2)
        if not seen and not no_nc:
            consent = wireguard.appop_mode(handset)
            app_said = _app_said(handset)
    except DeviceLostError:
        raise
    except DeviceError as e:
        if installed:
            return Check(NAME, Status.FAIL, f"the probe through the tunnel failed: {e}",
                         "reconnect the cable, `adb kill-server`, then `lab doctor` again")
        return Check(NAME, Status.FAIL, f"the probe tunnel could not be installed through the WireGuard app: {e}",
                     f"open the WireGuard app once (it makes its files folder), then `lab doctor` again; {EXPLICIT}")
    if no_nc:
        return Check(NAME, Status.WARN, f"the handset has no `nc` to send a probe with ({said[:80]})",
                     "check by hand: the WireGuard app shows the tunnel with a recent handshake and `lab run` "
                     "records flows")
    details = {"endpoint": tunnel.endpoint, "probe": f"{PROBE_IP}:{PROBE_PORT}", "nc": said or "no answer"}
    if seen:
        return passed(NAME, f"a connection from the handset to {PROBE_IP}:{PROBE_PORT} came through the WireGuard "
                      f"tunnel to the proxy ({tunnel.endpoint}) after {time.monotonic() - started:.1f} s",
                      **details)
    if consent not in ("allow", None) or "ACTIVATE_VPN" in app_said:
        return Check(NAME, Status.FAIL, f"the tunnel did not come up: the WireGuard app's VPN consent is refused "
                     f"(appops ACTIVATE_VPN: {consent}){_quote(app_said)}",
                     "on the phone open the WireGuard app, switch a tunnel on once and accept \"Connection "
                     "request\"; a device policy (work profile, MDM) may forbid VPNs; " + EXPLICIT,
                     {**details, "appop": consent, "app": app_said})
    if "unreachable" in said.lower() or "CONTROL_TUNNELS" in app_said or "remote control" in app_said:
        return Check(NAME, Status.FAIL, "the tunnel did not come up in the WireGuard app: the handset has no "
                     f"route out ({said or 'no answer'}){_quote(app_said)}",
                     "in the WireGuard app: Settings > Advanced > \"Allow remote control apps\" must stay on "
                     "(the harness sets it as root); a tunnel the app refuses is named in `adb logcat -d | grep "
                     f"WireGuard`; {EXPLICIT}", {**details, "app": app_said})
    host, _, port = tunnel.endpoint.rpartition(":")
    loopback = "" if virtual or not host.startswith("127.") else (
        f"a phone cannot reach {host} (this computer's loopback): set proxy.wireguard_interface; ")
    return Check(NAME, Status.FAIL,
                 f"the WireGuard tunnel carried nothing to the proxy ({tunnel.endpoint}) within {PROBE_SECONDS:.0f} "
                 f"s: a probe connection from the handset to {PROBE_IP}:{PROBE_PORT} was not seen "
                 f"({said or 'no answer'}): the endpoint is unreachable from the handset",
                 f"{loopback}the handset must reach {tunnel.endpoint} over UDP: check proxy.wireguard_interface "
                 f"(the lab interface the phone is on) and client_allowlist (the phone's network) in lab.yaml, "
                 f"and that no firewall on the lab network or on this computer drops UDP port {port} "
                 f"(`sudo iptables -S INPUT`, ufw); {EXPLICIT}", details)


def _recorded(flows: Path, token: str, wait: float) -> bool:
    """Whether the proxy wrote a flow holding the probe's token (within `wait` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            if token in flows.read_text(errors="replace"):
                return True
        except FileNotFoundError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def _app_said(handset: Handset) -> str:
    """The WireGuard app's (or the broadcast's) last word in the log, if any."""
    out = handset.sh(cmd(W("logcat"), W("-d"), W("-v"), W("brief"), W("-t"), W("300")), check=False).stdout
    lines = [line.strip() for line in out.splitlines()
             if "WireGuard" in line or "CONTROL_TUNNELS" in line or "ACTIVATE_VPN" in line]
    return lines[-1][:200] if lines else ""


def _quote(app_said: str) -> str:
    return f"; the log says: {app_said}" if app_said else ""


def _undo(handset: Handset, journal: Journal) -> Check | None:
    try:
        restore(handset, journal)
    except DeviceLostError:
        raise
    except DeviceError as e:
        return Check(NAME, Status.FAIL, f"the probe tunnel could not be undone: {e}",
                     f"`lab restore --device {handset.serial}` (the journal names what is left)")
    return None

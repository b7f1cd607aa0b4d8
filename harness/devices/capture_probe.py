"""`lab doctor`'s capture path check: does a connection from the handset reach the proxy?

In explicit mode the handset's apps reach a proxy bound to the host's loopback through
`adb reverse tcp:PORT tcp:PORT` (proxy_setting.py). The probe does exactly that with a
listener of its own standing in for the proxy: a journaled reverse forward, then on the
handset `echo 'GET http://lab-doctor.invalid/TOKEN HTTP/1.0' | nc -w 5 127.0.0.1 PORT`
(toybox nc), and the listener must see that request line (it answers 204, as a proxy
would); the forward is removed again. In WireGuard mode the capture path is the tunnel's
(run/tunnel_probe.py).
"""

from __future__ import annotations

import secrets
import socket
import threading

from harness.devices.doctor import Check, Status, passed
from harness.devices.handset import Handset
from harness.devices.journal import Journal
from harness.devices.proxy_setting import ensure_reverse
from harness.devices.restore import restore
from harness.devices.shellquote import W, cmd
from harness.errors import DeviceError, DeviceLostError

PROBE_HOST = "lab-doctor.invalid"
WAIT_SECONDS = 5


class ProbeListener:
    """A one-connection-at-a-time TCP listener on the host's loopback that records the
    request lines it receives and answers `204 No Content`."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._sock = socket.create_server((host, 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self.lines: list[str] = []
        self.seen = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="doctor-probe", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(WAIT_SECONDS)
                try:
                    data = conn.recv(4096)
                    if data:
                        self.lines.append(data.split(b"\n", 1)[0].decode("latin-1").strip())
                        self.seen.set()
                    conn.sendall(b"HTTP/1.0 204 No Content\r\nConnection: close\r\n\r\n")
                except OSError:
                    continue

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


def check_capture_path(handset: Handset, journal: Journal) -> Check:
    listener = ProbeListener()
    token = secrets.token_hex(8)
    request = f"GET http://{PROBE_HOST}/{token} HTTP/1.0"
    try:
        try:
            ensure_reverse(handset, journal, listener.port)
            line = cmd(W("echo"), request) + " | " + cmd(W("nc"), W("-w"), W(str(WAIT_SECONDS)), W("127.0.0.1"),
                                                         listener.port)
            result = handset.sh(line, check=False, timeout=WAIT_SECONDS * 4)
        finally:
            restore(handset, journal)
        listener.seen.wait(WAIT_SECONDS if result.ok else 0.5)
    except DeviceLostError:
        raise
    except DeviceError as e:
        return Check("capture path", Status.FAIL, f"adb reverse tcp:{listener.port} failed: {e}",
                     "reconnect the cable, `adb kill-server`, then `adb reverse --list` must work")
    finally:
        listener.close()
    if any(token in line for line in listener.lines):
        return passed("capture path", f"a request from the handset to 127.0.0.1:{listener.port} reached a "
                      "listener on this computer through adb reverse (as the explicit proxy is reached)",
                      port=listener.port)
    if result.exit_status == 127:
        return Check("capture path", Status.WARN, "the handset has no `nc` to send a probe with "
                     f"({result.output.strip()[:80]})", "check by hand: a browser on the phone with the "
                     "proxy set shows http://mitm.it")
    said = result.output.strip()[:120] or "no answer"
    return Check("capture path", Status.FAIL,
                 f"a connection from the handset to 127.0.0.1:{listener.port} did not reach this computer "
                 f"through adb reverse ({said}): apps' traffic would not reach the proxy",
                 "check `adb reverse --list`; a firewall or VPN app on the phone (AFWall+, NetGuard, an "
                 "always-on VPN) may block the loopback: `adb shell su -c 'iptables -S OUTPUT'`; "
                 "reconnect the cable, `adb kill-server`", {"port": listener.port, "nc": said})

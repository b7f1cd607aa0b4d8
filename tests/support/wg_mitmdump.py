"""A plain `mitmdump --mode wireguard:KEYFILE@127.0.0.1:PORT` for the namespace tests, with a
recording addon (wg_recorder.py) that contains everything: HTTP answered by the addon, DNS
answered from a fixed table, every upstream TCP/UDP connection refused, so nothing leaves
this machine. `records()` reads what mitmproxy saw (one JSON line per event)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

from mitmproxy_rs import wireguard

RECORDER = Path(__file__).with_name("wg_recorder.py")
MITMDUMP = Path(sys.executable).with_name("mitmdump")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WgMitmdump:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.server_key, self.client_key = wireguard.genkey(), wireguard.genkey()
        self.port = free_udp_port()
        self.record_path = tmp / "seen.jsonl"
        keyfile = tmp / "wg-keys.json"
        keyfile.write_text(json.dumps({"server_key": self.server_key, "client_key": self.client_key}))
        self.proc = subprocess.Popen(
            [str(MITMDUMP), "-q", "--mode", f"wireguard:{keyfile}@127.0.0.1:{self.port}",
             "--set", "connection_strategy=lazy", "--set", f"confdir={tmp / 'confdir'}",
             "-s", str(RECORDER), "--set", f"wg_record={self.record_path}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(tmp / "mitmdump.log", "wb"))  # noqa: SIM115
        deadline = time.monotonic() + 20
        while not (tmp / "ready").exists() and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((tmp / "mitmdump.log").read_text())
            time.sleep(0.05)

    def client_config(self, endpoint_host: str = "127.0.0.1") -> str:
        """The wg-quick file mitmproxy prints at start-up, for this server."""
        return (f"[Interface]\nPrivateKey = {self.client_key}\nAddress = 10.0.0.1/32\nDNS = 10.0.0.53\n\n"
                f"[Peer]\nPublicKey = {wireguard.pubkey(self.server_key)}\nAllowedIPs = 0.0.0.0/0\n"
                f"Endpoint = {endpoint_host}:{self.port}\n")

    def records(self) -> list[dict]:
        if not self.record_path.exists():
            return []
        return [json.loads(line) for line in self.record_path.read_text().splitlines() if line.strip()]

    def wait_for(self, predicate, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recs = self.records()
            if predicate(recs):
                return recs
            time.sleep(0.05)
        return self.records()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

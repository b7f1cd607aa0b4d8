"""`lab virtual list|serve`, `python -m harness.virtual`, and the launcher's process hygiene."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli.main import main
from harness.virtual.launcher import HandsetStartError, start_handset
from harness.virtual.protocol import A_CNXN, A_VERSION, MAX_PAYLOAD, pack


def test_lab_virtual_list() -> None:
    result = CliRunner().invoke(main, ["virtual", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert {"reference", "vendor-1.0", "vendor-1.1", "rooted-a14", "rooted-a15", "rooted-a16"} <= set(rows)
    assert (rows["rooted-a15"]["sdk"], rows["rooted-a16"]["sdk"]) == (35, 36)
    assert rows["rooted-a15"]["rooted"] is True and rows["rooted-a16"]["rooted"] is True
    assert rows["vendor-1.0"]["sdk"] == 33 and rows["vendor-1.0"]["rooted"] is True
    assert rows["vendor-1.0"]["fingerprint"] != rows["vendor-1.1"]["fingerprint"]
    text = CliRunner().invoke(main, ["virtual", "list"]).output
    assert "reference" in text and "Android 14" in text
    assert "rooted-a15" in text and "rooted-a16" in text and "Android 16" in text


def test_lab_virtual_serve_unknown_handset() -> None:
    result = CliRunner().invoke(main, ["virtual", "serve", "--handset", "no-such-phone"])
    assert result.exit_code == 2 and "no built-in handset" in result.output


def _cnxn_ok(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(pack(A_CNXN, A_VERSION, MAX_PAYLOAD, b"host::\0"))
        return s.recv(4) == b"CNXN"


@pytest.mark.e2e
def test_lab_virtual_serve_prints_serial_and_stops_on_sigterm(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([str(Path(sys.executable).parent / "lab"), "virtual", "serve", "--handset", "reference",
                             "--ready-file", str(ready)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        serial = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert serial.startswith("127.0.0.1:")
        assert json.loads(ready.read_text())["serial"] == serial
        assert _cnxn_ok(int(serial.rsplit(":", 1)[1]))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


@pytest.mark.e2e
def test_launcher_start_stop_leaves_nothing(tmp_path: Path, live_session_ids) -> None:
    handset = start_handset("vendor-1.0", tmp_path / "h")
    try:
        assert handset.alive and handset.serial == f"127.0.0.1:{handset.port}"
        assert handset.ready["handset"] == "vendor-1.0"
        assert handset.device_loopback.startswith("127.") and handset.device_loopback != "127.0.0.1"
        assert json.loads((tmp_path / "h" / "ready.json").read_text())["pid"] == handset.pid
        assert _cnxn_ok(handset.port)
    finally:
        handset.stop()
    assert not handset.alive
    deadline = time.monotonic() + 5
    while handset.pid in live_session_ids() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert handset.pid not in live_session_ids(), "a process of the handset's session outlived it"


def test_launcher_reports_a_bad_spec(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nbuild: {}\n")
    with pytest.raises(HandsetStartError, match="build"):
        start_handset(str(bad), tmp_path / "h", timeout=30)

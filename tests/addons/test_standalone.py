"""Each addon loads alone in the real mitmdump (`mitmdump -s addons/<name>.py`), and all
of them as one (`addons/audit.py`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.servers import IMEI, Server

from harness.capture.folder import iter_jsonl

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
MITMDUMP = Path(sys.executable).parent / "mitmdump"
LISTENING = re.compile(r"proxy listening at 127\.0\.0\.1:(\d+)")


def run_mitmdump(workdir: Path, addon: str, options: list[str], url: str) -> tuple[str, int]:
    """Start mitmdump with one addon, send one request through it, stop it: (output, curl rc)."""
    args = [str(MITMDUMP), "-s", str(ROOT / "addons" / f"{addon}.py"), "--listen-host", "127.0.0.1",
            "-p", "0", "--set", f"confdir={workdir / 'mitmdump-conf'}"]
    for option in options:
        args += ["--set", option]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        port = None
        while port is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if match := LISTENING.search(line):
                port = int(match.group(1))
        if port is None:
            proc.wait(timeout=10)
            return "".join(lines) + proc.stdout.read(), -1
        curl = shutil.which("curl")
        assert curl
        done = subprocess.run([curl, "-sS", "--max-time", "10", "-x", f"http://127.0.0.1:{port}", url],
                              capture_output=True, text=True, timeout=20, check=False)
        time.sleep(0.3)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
    return "".join(lines) + out, done.returncode


def test_destinations_alone_prints_verdicts(workdir: Path, http_server: Server) -> None:
    output, rc = run_mitmdump(workdir, "destinations", ["audit_jurisdiction=IN"],
                              f"http://127.0.0.6:{http_server.port}/alone")
    assert rc == 0, output
    assert "destination 127.0.0.6 (127.0.0.6) loopback" in output
    assert "cleartext" in output
    assert "Traceback" not in output


def test_sensitive_alone_prints_findings(workdir: Path, http_server: Server, canaries_file: Path) -> None:
    output, rc = run_mitmdump(workdir, "sensitive", [f"audit_canaries={canaries_file}"],
                              f"http://127.0.0.6:{http_server.port}/s?imei={IMEI}")
    assert rc == 0, output
    assert "imei in url (plain)" in output


def test_flowlog_alone_records(workdir: Path, http_server: Server) -> None:
    capture = workdir / "alone-capture"
    url = f"http://127.0.0.6:{http_server.port}/logged"
    output, rc = run_mitmdump(workdir, "flowlog", [f"audit_capture_dir={capture}", "audit_device=abc"], url)
    assert rc == 0, output
    (record,) = list(iter_jsonl(capture / "flows.jsonl"))
    assert (record["url"], record["device"], record["status"]) == (url, "abc", 200)
    assert (capture / "flows.mitm").stat().st_size > 0


def test_containment_alone_refuses_hosts_outside_the_zone(workdir: Path, http_server: Server) -> None:
    zone = workdir / "alone-zone.json"
    zone.write_text(json.dumps({"version": 1, "hosts": {
        "inside.example": {"world_ip": "203.0.113.5", "ports": {"80": f"127.0.0.6:{http_server.port}"}}}}))
    output, rc = run_mitmdump(workdir, "containment", [f"audit_zone={zone}"], "http://outside.example/x")
    assert "contained: refused outside.example:80" in output
    output, rc = run_mitmdump(workdir, "containment", [f"audit_zone={zone}"], "http://inside.example/x")
    assert rc == 0, output
    assert http_server.seen[-1].headers["Host"] == "inside.example"


def test_all_addons_as_one(workdir: Path, http_server: Server, canaries_file: Path) -> None:
    capture = workdir / "audit-capture"
    url = f"http://127.0.0.6:{http_server.port}/all?imei={IMEI}"
    output, rc = run_mitmdump(
        workdir, "audit", ["audit_jurisdiction=IN", f"audit_canaries={canaries_file}", f"audit_capture_dir={capture}"], url,
    )
    assert rc == 0, output
    assert "destination 127.0.0.6 (127.0.0.6) loopback" in output and "imei in url (plain)" in output
    (record,) = list(iter_jsonl(capture / "flows.jsonl"))
    assert record["url"] == url and {"sensitive_data", "cleartext"} <= set(record["flags"])
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("addon", "option", "message"),
    [
        ("destinations", "audit_jurisdiction=XX", "not an ISO 3166"),
        ("destinations", "audit_geo_overrides=nonsense", "CIDR=CC"),
        ("containment", "audit_zone=/nonexistent/zone.json", "cannot read"),
        ("sensitive", "audit_canaries=/nonexistent/canaries.json", "cannot read"),
        ("clientguard", "audit_client_allowlist=not-a-cidr", "not a CIDR"),
        ("audit", "audit_jurisdiction=XX", "not an ISO 3166"),
    ],
)
def test_bad_options_are_clear_errors(workdir: Path, http_server: Server, addon: str, option: str, message: str) -> None:
    # mitmproxy's script loader prints the OptionsError (with its traceback) and exits.
    output, rc = run_mitmdump(workdir, addon, [option], f"http://127.0.0.6:{http_server.port}/")
    assert re.search(rf"OptionsError: .*{re.escape(message)}", output), output

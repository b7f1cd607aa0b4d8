"""`lab run` figures: setup latency (command start to first step) on a virtual handset,
and the harness's cost on 100 flows (through the contained proxy with every addon and
the capture writers) against the same 100 requests sent straight to the responders."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from harness.capture import make_private_dir
from harness.config import LabConfig
from harness.proxy.master import Proxy
from harness.virtual.internet import start_internet

LAB_BIN = str(Path(sys.executable).parent / "lab")
FLOWS = 100
HOST = "analytics.vendor-cloud.example"


def setup_latency(root: Path, tries: int = 2) -> list[float]:
    """Seconds from `lab run` starting to its first step starting, per try."""
    lab = {"name": "bench", "jurisdiction": "IN", "proxy": {"network": "contained"},
           "captures_dir": str(root / "captures"), "state_dir": str(root / "state")}
    profile = {"name": "setup", "steps": [{"wait": "1s"}]}
    root.mkdir(parents=True, exist_ok=True)
    (root / "lab.yaml").write_text(yaml.safe_dump(lab))
    (root / "profile.yaml").write_text(yaml.safe_dump(profile))
    figures = []
    for _ in range(tries):
        started = time.time()
        out = subprocess.run([LAB_BIN, "run", "profile.yaml", "--device", "virtual:vendor-1.0",
                              "--quiet", "--json"], cwd=root, capture_output=True, text=True,
                             timeout=300, check=False, env=os.environ)
        if out.returncode != 0:
            raise RuntimeError(out.stderr or out.stdout)
        run_dir = Path(json.loads(out.stdout)[0]["run_dir"])
        manifest = json.loads((run_dir / "run.json").read_text())
        figures.append(manifest["steps"][0]["start"] - started)
    return figures


def _send(client: httpx.Client, url: str, n: int) -> float:
    body = {"did": "0" * 64, "event": "app_open"}
    started = time.perf_counter()
    for _ in range(n):
        client.post(url, json=body).raise_for_status()
    return time.perf_counter() - started


def harness_cost(root: Path) -> tuple[float, float]:
    """(direct seconds, through-the-harness seconds) for FLOWS HTTPS requests."""
    internet = start_internet(root / "internet")
    try:
        responder = internet.resolve(HOST, 443)
        assert responder is not None
        direct_url = f"https://{responder}/v2/collect"
        with httpx.Client(verify=False, headers={"Host": HOST}) as client:
            _send(client, direct_url, 5)
            direct = _send(client, direct_url, FLOWS)
        lab = LabConfig.model_validate({
            "name": "bench", "jurisdiction": "IN", "state_dir": str(root / "state"),
            "proxy": {"network": "contained", "zone": str(internet.zone_path)},
        })
        capture = make_private_dir(root / "capture")
        with Proxy(lab, capture_dir=capture, device="bench") as proxy:
            ca = str(proxy.ca_cert_path)
            with httpx.Client(proxy=proxy.url, verify=ca) as client:
                _send(client, f"https://{HOST}/v2/collect", 5)
                through = _send(client, f"https://{HOST}/v2/collect", FLOWS)
        return direct, through
    finally:
        internet.stop()


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-run-"))
    try:
        latencies = setup_latency(root / "setup")
        print(f"setup latency (lab run start -> first step, virtual:vendor-1.0): "
              f"{', '.join(f'{s:.1f} s' for s in latencies)} (median {statistics.median(latencies):.1f} s)")
        direct, through = harness_cost(root / "cost")
        print(f"{FLOWS} HTTPS flows, one keep-alive client: direct {direct * 1000 / FLOWS:.2f} ms/flow, "
              f"through the harness {through * 1000 / FLOWS:.2f} ms/flow "
              f"(+{(through - direct) * 1000 / FLOWS:.2f} ms/flow, x{through / direct:.1f})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

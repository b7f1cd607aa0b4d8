"""`bench report` prints the peak RSS of the report's own process (issue 23): Linux keeps
the largest RSS across execve, so getrusage in the child (RUSAGE_SELF), os.wait4 and
RUSAGE_CHILDREN in the parent all report at least the parent's RSS at the fork: a
benchmark run after a big one printed the big one's peak."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.bench_report import generate

ROOT = Path(__file__).resolve().parents[2]
PARENT_MB = 1200


def test_the_peak_rss_is_the_report_process_own_not_its_parent(tmp_path):
    capture = generate(tmp_path / "c", 1000)
    ballast = bytearray(PARENT_MB << 20)  # this process is big when it starts the child
    ballast[:: 4096] = b"\1" * len(ballast[:: 4096])
    child = subprocess.run([sys.executable, "-m", "bench.bench_report", "--child", str(capture), "--formats", "json"],
                           capture_output=True, text=True, check=True, cwd=ROOT)
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert 20 < result["peak_rss_mb"] < PARENT_MB / 2, result
    del ballast

"""Hook throughput: events/s from a hot hooked method into hooks.jsonl, batched.

Two targets, each measured unhooked (its own call rate) and then hooked through the real
pipeline (agent batching -> frida -> bounded queue -> writer thread -> hooks.jsonl):
- native: a C loop calling connect() (EBADF, nothing leaves the process), hooked by
  network.js's libc connect hook (sockaddr parsed, one net:connect event per call);
- Java: the test app's TelephonyManager.getImei() in a tight loop (a real JVM), hooked by
  sensitive.js (one hook:event per call, with and without the Java stack), and with the
  agent's events switched off: the cost of frida's Java bridge alone (the ceiling).
Losses: the agent's `emitted` counter against what reached hooks.jsonl plus every counted
drop (hook:dropped records); an uncounted loss is printed as such.
Targets on this machine: >= 100k events/s native, >= 15k events/s Java (with the stack).
Each line ends with the 1-minute load average: on a shared 2-core machine, run it several
times and read the range.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from harness.capture import iter_jsonl
from harness.instrument import AgentOptions, Instrumentation

ROOT = Path(__file__).resolve().parent.parent
SUPPORT = ROOT / "tests"
sys.path.insert(0, str(SUPPORT))  # tests/support: the instrument tests' Java target and its helpers

from support.jvm_app import compile_tracker, start_tracker, stop_process  # noqa: E402

MEASURE_S = 3.0


class CallRate:
    """Reads the target's "calls N NANOS" lines; rate over any window."""

    def __init__(self, process: subprocess.Popen[str]):
        self.samples: list[tuple[float, int]] = []
        self._process = process
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "calls":
                self.samples.append((time.monotonic(), int(parts[1])))

    def rate(self, start: float, end: float) -> float:
        window = [s for s in self.samples if start <= s[0] <= end]
        if len(window) < 2:
            return 0.0
        (t0, n0), (t1, n1) = window[0], window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0


def _measure(process: subprocess.Popen[str], package: str, hook_sets: list[str],
             options: AgentOptions, label: str, events: bool = True,
             target: int | None = None) -> None:
    calls = CallRate(process)
    time.sleep(0.8)
    start = time.monotonic()
    time.sleep(1.2)
    unhooked = calls.rate(start, time.monotonic())
    with tempfile.TemporaryDirectory(prefix="bench-hooks-") as capture:
        inst = Instrumentation("local", "virtual:bench", Path(capture), hook_sets, options=options)
        try:
            inst.attach(package, process.pid)
            if not events:  # hooks stay in, the agent records nothing: the hook's own cost
                inst.set_enabled(package, False)
            time.sleep(0.5)  # hooks in, first batches through
            t0, e0 = time.monotonic(), inst.stats.events
            time.sleep(MEASURE_S)
            t1, e1 = time.monotonic(), inst.stats.events
            hooked_calls = calls.rate(t0, t1)
        finally:
            stats = inst.close()
        final = inst.agent_stats(package)
        records = list(iter_jsonl(Path(capture) / "hooks.jsonl"))
    written = sum(1 for r in records if r.get("type") != "hook:dropped")
    dropped = sum(int(r.get("count", 0)) for r in records if r.get("type") == "hook:dropped")
    emitted = int(final["emitted"]) if final else -1
    uncounted = emitted - written - dropped if emitted >= 0 else None
    load = f"load {os.getloadavg()[0]:.2f}"
    if not events:
        print(f"   {label}: unhooked {unhooked:,.0f} calls/s | hooked, no events {hooked_calls:,.0f} "
              f"calls/s | {load}", flush=True)
        return
    rate = (e1 - e0) / (t1 - t0)
    verdict = "" if target is None else (
        f" (target >= {target:,}: {'met' if rate >= target else 'MISSED'})")
    print(f"   {label}: unhooked {unhooked:,.0f} calls/s | hooked {hooked_calls:,.0f} calls/s | "
          f"into hooks.jsonl {rate:,.0f} events/s{verdict} | {load}", flush=True)
    batches = int(final["batches"]) if final else 0
    print(f"   {label}: emitted {emitted:,} written {written:,} dropped (counted) {dropped:,} "
          f"[agent {stats.dropped_agent:,}, host queue {stats.dropped_host:,}] "
          f"uncounted {uncounted if uncounted is not None else 'unknown'} | {batches:,} batches",
          flush=True)


def bench_native(work: Path) -> None:
    if shutil.which("gcc") is None:
        print("   native: skipped (no gcc)")
        return
    binary = work / "hot_connect"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(SUPPORT / "instrument" / "fixtures" / "native" / "hot_connect.c")],
                   check=True, capture_output=True)
    process = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, text=True)
    try:
        _measure(process, "bench.native", ["network"], AgentOptions(java_bridge=False),
                 "native connect()", target=100_000)
    finally:
        stop_process(process)


def bench_java(work: Path) -> None:
    classes = compile_tracker(work / "classes")
    runs = ((24, True, "Java getImei() + stack", 15_000), (0, True, "Java getImei(), no stack", None),
            (0, False, "Java getImei(), bridge only", None))
    for depth, events, label, target in runs:
        process = start_tracker(classes, "hot", "356938035643809")
        try:
            _measure(process, "com.vendor.analytics", ["sensitive"],
                     AgentOptions(stack_depth=depth), label, events, target)
        finally:
            stop_process(process)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-hooks-build-") as tmp:
        work = Path(tmp)
        bench_native(work)
        bench_java(work)


if __name__ == "__main__":
    main()

"""AppSession teardown against a real Frida session on a real process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from support.frida_attach import attach
from support.jvm_app import stop_process

from harness.capture.folder import iter_jsonl
from harness.instrument import AgentOptions, Instrumentation

pytestmark = pytest.mark.e2e


def test_close_returns_when_the_app_is_frozen_and_notes_the_silent_agent(tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    assert sleep
    process = subprocess.Popen([sleep, "60"], stdin=subprocess.DEVNULL)
    try:
        inst = Instrumentation("local", "virtual:test", tmp_path, ["network"],
                               options=AgentOptions(java_bridge=False))
        attach(inst, "com.vendor.frozen", process.pid)
        os.kill(process.pid, signal.SIGSTOP)  # the agent's thread stops with the app: no rpc answers
        closer = threading.Thread(target=inst.close, daemon=True)
        started = time.monotonic()
        closer.start()
        closer.join(10.0)  # close's 5 s budget, a second each for unload and detach, a margin
        assert not closer.is_alive(), "close() hung on an agent that does not answer"
        assert time.monotonic() - started < 10.0
    finally:
        stop_process(process)  # SIGKILL ends a stopped process too
    notes = [r for r in iter_jsonl(tmp_path / "hooks.jsonl")
             if r["type"] == "hook:error" and r.get("where") == "teardown"]
    assert len(notes) == 1 and notes[0]["package"] == "com.vendor.frozen"
    assert "did not answer stop" in notes[0]["value"]
    assert inst.stats.sessions == {"com.vendor.frozen": "detached"}

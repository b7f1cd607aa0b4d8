"""Attaching the harness's instrumentation as the run session does (harness/run/session.py):
a loaded machine can time out an attach ("unexpectedly timed out while waiting for stop",
"sync up with agent"), so it is tried again, ATTACH_TRIES times in all."""

from __future__ import annotations

from harness.errors import InstrumentError
from harness.instrument import Instrumentation
from harness.instrument.session import SessionInfo
from harness.run.session import ATTACH_TRIES


def attach(inst: Instrumentation, package: str, pid: int) -> SessionInfo:
    for _ in range(ATTACH_TRIES - 1):
        try:
            return inst.attach(package, pid)
        except InstrumentError:
            continue
    return inst.attach(package, pid)  # the last try's error is the test's

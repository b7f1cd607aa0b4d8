"""Serve one handset in this process until SIGTERM/SIGINT (used by __main__ and `lab virtual serve`)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.virtual.handset import Handset
from harness.virtual.spec import load_spec


def write_ready(path: Path, info: dict[str, object]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True))
    os.replace(tmp, path)


async def serve(name_or_path: str, port: int = 0, ready_file: Path | None = None,
                runtime_dir: Path | None = None, announce: Callable[[str], None] = print) -> None:
    spec = load_spec(name_or_path)
    runtime = runtime_dir or Path(tempfile.mkdtemp(prefix=f"vhandset-{spec.name}-"))
    runtime.mkdir(parents=True, exist_ok=True)
    handset = Handset(spec, runtime, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        bound = await handset.start()
        serial = f"127.0.0.1:{bound}"
        info = {"serial": serial, "port": bound, "pid": os.getpid(), "handset": spec.name,
                "device_loopback": handset.state.device_loopback,
                "zone_path": str(handset.zone_path) if handset.zone_path else None,
                "runtime_dir": str(runtime)}
        if ready_file is not None:
            write_ready(ready_file, info)
        announce(serial)
        await stop.wait()
    finally:
        await handset.stop()


def run(name_or_path: str, port: int = 0, ready_file: Path | None = None,
        runtime_dir: Path | None = None, announce: Callable[[str], None] = print) -> None:
    asyncio.run(serve(name_or_path, port, ready_file, runtime_dir, announce))

"""Stopping mitmproxy without losing the flows it is still carrying.

mitmproxy's own shutdown sends `done` to the addons while its connections are still
live: a flow that finishes after that (a response already on its way to the client)
comes after the flow log closed its files. `drain` runs before `done`:

1. stop listening, so no new connection starts;
2. give the flows in flight up to `grace` seconds to finish (idle keep-alive
   connections carry none, so an idle proxy stops at once);
3. close the connections still open: each flow they carry ends as an error (the client
   got no answer) and is recorded as such; wait for their hooks to finish.

Only then may `done` close the capture files: every flow a client got an answer for
has been recorded by then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

POLL = 0.02


async def drain(master: Any, in_flight: Callable[[], int], grace: float, close_timeout: float) -> bool:
    """Stop accepting, let flows finish, close the rest; True if nothing was left behind."""
    loop = asyncio.get_running_loop()
    server = master.addons.get("proxyserver")
    if server is None:
        return in_flight() == 0
    for instance in list(server.servers):
        if instance.is_running:
            try:
                await instance.stop()
            except OSError as e:
                logger.warning("stopping %s: %s", instance.mode.description, e)
    deadline = loop.time() + grace
    while in_flight() and loop.time() < deadline:
        await asyncio.sleep(POLL)
    seen: dict[int, Any] = {}
    deadline = loop.time() + close_timeout
    while loop.time() < deadline:
        for handler in list(server.connections.values()):
            seen[id(handler)] = handler
            _close(handler)
        hooks_running = any(handler.hook_tasks for handler in seen.values())
        if not server.connections and not hooks_running and not in_flight():
            return True
        await asyncio.sleep(POLL)
    logger.warning("proxy stopped with %d connection(s) and %d flow(s) still open",
                   len(server.connections), in_flight())
    return False


def _close(handler: Any) -> None:
    """Close a client connection the way its own timeout would: cancel its reader."""
    transport = handler.transports.get(handler.client)
    task = transport.handler if transport is not None else None
    if task is not None and not task.done() and not task.cancelling():
        task.cancel("proxy stopping")

"""Where a campaign's runs execute, placed by Dask distributed (no scheduler of our own).

A handset host runs `lab worker`: a Dask worker whose resources are its handsets
(`handset:<serial>`, 1 each) and whose `lab-host` plugin carries the host's name and
lab.yaml. A run is a task submitted with `resources={"handset:<serial>": 1}`: the
scheduler gives it only to the worker that has that handset, and never two at once
there. `lab campaign run` is the client: of a cluster (`--scheduler tcp://HOST:8786`),
or embedded: a scheduler and one worker with this host's handsets, in this process.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distributed import Client, Event, Future, Worker
from distributed.diagnostics.plugin import WorkerPlugin

from harness.errors import DeviceError

RESOURCE_PREFIX = "handset:"
PLUGIN_NAME = "lab-host"
CONNECT_SECONDS = 30.0


def resource(serial: str) -> str:
    """The Dask resource a worker offers for a handset (1 of it) and a run asks for."""
    return f"{RESOURCE_PREFIX}{serial}"


class LabHost(WorkerPlugin):
    """What a worker's tasks need to know of their host: its name, lab.yaml, working
    folder, handsets, and whether the worker is stopping (its runs then wind down)."""

    name = PLUGIN_NAME

    def __init__(self, label: str, lab_path: Path, handsets: list[str]):
        self.label = label
        self.lab_path = Path(lab_path).absolute()
        self.cwd = Path.cwd()
        self.handsets = list(handsets)
        self.stopping = threading.Event()

    def __reduce__(self) -> Any:  # the event is this process's own; a copy starts afresh
        return (LabHost, (self.label, self.lab_path, self.handsets))


def lab_host(worker: Worker) -> LabHost:
    plugin = worker.plugins.get(PLUGIN_NAME)
    if not isinstance(plugin, LabHost):
        raise DeviceError(f"worker {worker.address} is not a `lab worker` (it has no {PLUGIN_NAME} plugin)")
    return plugin


def host_name(name: str | None = None) -> str:
    return name or platform.node() or "localhost"


@dataclass(frozen=True)
class WorkerView:
    """A worker as the client sees it: address, host name, the handsets it offers."""

    address: str
    host: str
    handsets: tuple[str, ...] = field(default_factory=tuple)


class Placement:
    """A Dask client and what a campaign asks of it."""

    def __init__(self, client: Client, mode: str, host: str | None = None):
        self.client = client
        self.mode = mode  # "embedded" or the scheduler's address
        self.host = host  # embedded: this host's name (the worker's name is Dask's own)
        self.topics: list[str] = []

    def submit(self, fn: Callable[..., Any], arg: Any, key: str, handset: str) -> Future:
        return self.client.submit(fn, arg, key=key, resources={resource(handset): 1}, pure=False, retries=0)

    def workers(self) -> list[WorkerView]:
        views = []
        for address, info in self.client.scheduler_info(n_workers=-1)["workers"].items():
            handsets = tuple(sorted(r[len(RESOURCE_PREFIX):] for r in info.get("resources") or {}
                                    if r.startswith(RESOURCE_PREFIX)))
            views.append(WorkerView(address, self.host or str(info.get("name") or address), handsets))
        return views

    def subscribe(self, topic: str, handler: Callable[[Any], None]) -> None:
        self.client.subscribe_topic(topic, handler)
        self.topics.append(topic)

    def close(self) -> None:
        """Unsubscribe (the scheduler would send the client's own leaving to it), then close."""
        for topic in self.topics:
            self.client.unsubscribe_topic(topic)
        self.topics.clear()
        self.client.close()

    def event(self, name: str) -> Event:
        return Event(name, client=self.client)

    @property
    def connected(self) -> bool:
        return self.client.status == "running"

    def cancel(self, futures: list[Future]) -> None:
        if futures:
            self.client.cancel(futures)


@contextmanager
def connect(scheduler: str) -> Iterator[Placement]:
    """A client of the cluster at `scheduler` (tcp://HOST:8786)."""
    try:
        client = Client(scheduler, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, TimeoutError) as e:
        raise DeviceError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from e
    placement = Placement(client, scheduler)
    try:
        yield placement
    finally:
        placement.close()


@contextmanager
def embedded(host: LabHost) -> Iterator[Placement]:
    """A scheduler and one worker in this process, offering this host's handsets."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=1, processes=False, threads_per_worker=max(1, len(host.handsets)),
                           resources={resource(s): 1 for s in host.handsets}, plugins={host},
                           dashboard_address=None, silence_logs=logging.ERROR,
                           scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})  # not :8787
    placement = Placement(Client(cluster, set_as_default=False), "embedded", host.label)
    try:
        yield placement
    finally:
        placement.close()
        cluster.close()


async def serve_worker(scheduler: str, host: LabHost, on_ready: Callable[[str], None]) -> None:
    """`lab worker`: a Dask worker offering `host`'s handsets until the scheduler closes it
    or SIGINT/SIGTERM: then its runs wind down (teardown, restore) before it leaves."""
    worker = Worker(scheduler, name=host.label, nthreads=max(1, len(host.handsets)),
                    resources={resource(s): 1 for s in host.handsets}, plugins={host},
                    death_timeout=CONNECT_SECONDS, dashboard=False)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await worker
    except (OSError, TimeoutError) as e:
        raise DeviceError(f"cannot reach the Dask scheduler at {scheduler}: {e}") from e
    on_ready(worker.address)
    finished = asyncio.ensure_future(worker.finished())
    stop = asyncio.ensure_future(stopping.wait())
    await asyncio.wait([finished, stop], return_when=asyncio.FIRST_COMPLETED)
    if stop.done() and not finished.done():
        host.stopping.set()  # each running task sends its `lab run` SIGINT
        while worker.state.executing_count and not finished.done():
            await asyncio.sleep(0.2)
        await worker.close(reason="lab worker stopped")
    stop.cancel()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)

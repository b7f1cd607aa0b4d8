"""The audit addons as one: mitmproxy dispatches each event once, to this, and it calls
each addon's hook in turn, isolated from the others.

    mitmdump -s addons/audit.py --set audit_jurisdiction=IN --set audit_capture_dir=captures/run1

mitmproxy visits every addon for every event (a flow makes eight: requestheaders,
request, responseheaders, response and an `update` after each), through a coroutine,
a context manager and two generators per visit: some 2 µs each, whether the addon has
the hook or not. Five addons cost a quarter of what their work costs. Here the hooks
are looked up once, and an event reaches only the addons that have it.

An addon's exception is caught and logged with its traceback by mitmproxy's own
`safecall`, and the next addon still runs: a bug in the scanner must not keep
flowlog from recording the flow. A hook may return an awaitable (the scanner does for
a large body): it is awaited before the next addon runs, as mitmproxy would.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from mitmproxy import hooks
from mitmproxy.addonmanager import safecall
from mitmproxy.proxy import layers, server_hooks  # noqa: F401 - they define their hooks in hooks.all_hooks

from addons.clientguard import ClientGuard
from addons.containment import Containment
from addons.destinations import Destinations
from addons.dnsmap import DnsMap
from addons.flowlog import FlowLog, RecordCallback
from addons.quic import Quic
from addons.sensitive import Sensitive

Hook = Callable[..., Any]

# called by the chain itself, not dispatched: an error there is the user's to see
_OWN = frozenset({"load", "configure"})


class Audit:
    """Addons called in the order given; one mitmproxy addon in their place."""

    def __init__(self, *children: Any):
        self.children = children  # not `addons`: mitmproxy would dispatch to them too
        self._calls: dict[str, tuple[Hook, ...]] = {}
        for name in hooks.all_hooks:
            if name in _OWN:
                continue
            calls = tuple(hook for child in children if callable(hook := getattr(child, name, None)))
            if calls:
                self._calls[name] = calls
                # mitmproxy looks a hook up by name on each event: it finds this
                setattr(self, name, functools.partial(self._dispatch, calls))

    @classmethod
    def standard(cls, on_record: RecordCallback | None = None) -> Audit:
        """The lab's addons, in the order their verdicts build on each other."""
        return cls(
            ClientGuard(), Quic(), Containment(), DnsMap(), Destinations(), Sensitive(), FlowLog(on_record=on_record),
        )

    def dispatch_table(self) -> dict[str, int]:
        """Event name -> how many addons it reaches."""
        return {name: len(calls) for name, calls in self._calls.items()}

    def load(self, loader) -> None:
        for child in self.children:
            if hasattr(child, "load"):
                child.load(loader)

    def configure(self, updated) -> None:
        # an OptionsError goes to mitmproxy, which refuses the options it was given
        for child in self.children:
            if hasattr(child, "configure"):
                child.configure(updated)

    def _dispatch(self, calls: Sequence[Hook], *args: Any) -> Awaitable[None] | None:
        for index, hook in enumerate(calls):
            result = _call(hook, args)
            if result is not None:  # a hook to await: it, then the rest, in order
                return _finish(result, calls[index + 1 :], args)
        return None


def _call(hook: Hook, args: tuple[Any, ...]) -> Awaitable[Any] | None:
    """Call a hook; what it returns to be awaited, or None."""
    try:
        result = hook(*args)
    except Exception:
        # mitmproxy's own policy, only when something went wrong (a context manager
        # around every call would cost more than the call): AddonHalt and OptionsError
        # go on, anything else is logged and the next addon runs
        with safecall():
            raise
        return None
    return result if result is not None and inspect.isawaitable(result) else None


async def _finish(pending: Awaitable[Any], rest: Sequence[Hook], args: tuple[Any, ...]) -> None:
    await _settle(pending)
    for hook in rest:
        result = _call(hook, args)
        if result is not None:
            await _settle(result)


async def _settle(pending: Awaitable[Any]) -> None:
    with safecall():
        await pending


addons = [Audit.standard()]

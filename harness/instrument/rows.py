"""Compact rows from the agents' Java hooks, turned into hooks.jsonl lines.

A row is `[site, ts, value, thread, stack]` or `[site, ts, value, thread, stack, {extra}]`
(protocol.js). What repeats travels once, as a definition in a batch's `defs`
(`[[kind, id, value] ...]`): a site (`[type, api, category]`), a thread name, a stack's
frames. A row's `thread` and `stack` are definition ids, or the value itself when the agent
ran out of ids. `Dictionary` keeps one session's definitions, encoded to JSON once;
`format_events` writes a batch's events (rows and plain objects) as JSON lines with the
session's device, package and pid, the same records as `HookSink._enrich` + JSON would give.
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring  # type: ignore[attr-defined]  # C, ensure_ascii=False
from typing import TYPE_CHECKING, Any

from harness.capture import json_line

if TYPE_CHECKING:
    from harness.instrument.origin import Origin


class Dictionary:
    """One agent session's definitions: filled on frida's thread, read on the writer's."""

    def __init__(self, origin: Origin):
        self.origin = origin
        self._origin_json = (
            ',"device":' + json_line(origin.device) + ',"package":' + json_line(origin.package)
            + ',"pid":' + json_line(origin.pid)
        )
        self.sites: dict[int, tuple[str, str]] = {}  # id -> (after ts, after stack)
        self.threads: dict[int, str] = {}  # id -> JSON
        self.stacks: dict[int, str] = {}  # id -> JSON

    def define(self, defs: Any) -> int:
        """Add the definitions of one batch; returns how many were malformed (skipped)."""
        if not isinstance(defs, list):
            return 1
        bad = 0
        for item in defs:
            if not (isinstance(item, list) and len(item) == 3 and type(item[1]) is int):
                bad += 1
                continue
            kind, key, value = item
            if kind == "site" and isinstance(value, list) and len(value) == 3:
                type_, api, category = value
                self.sites[key] = (
                    self._origin_json + ',"api":' + json_line(api) + ',"category":' + json_line(category)
                    + ',"value":',
                    ',"type":' + json_line(type_) + ',"thread":',
                )
            elif kind == "thread" and (value is None or isinstance(value, str)):
                self.threads[key] = json_line(value)
            elif kind == "stack" and isinstance(value, list):
                self.stacks[key] = json_line(value)
            else:
                bad += 1
        return bad

    def line(self, row: list[Any]) -> str | None:
        """One row as a JSON line; None when it is not a well-formed row of this session."""
        if not 5 <= len(row) <= 6:
            return None
        site, ts, value, thread, stack = row[:5]
        try:
            after_ts, after_stack = self.sites[site]
            stack_json = self.stacks[stack] if type(stack) is int else (
                json_line(stack) if isinstance(stack, list) else None)
            thread_json = self.threads[thread] if type(thread) is int else (
                "null" if thread is None else encode_basestring(thread) if isinstance(thread, str)
                else None)
        except (KeyError, TypeError):
            return None
        if stack_json is None or thread_json is None or type(ts) not in (int, float):
            return None
        value_json = encode_basestring(value) if type(value) is str else json_line(value)
        extra = ""
        if len(row) == 6:
            if not isinstance(row[5], dict):
                return None
            extra = json_line(row[5])[1:-1]
            if extra:
                extra = "," + extra
        return ('{"ts":' + repr(ts) + after_ts + value_json + ',"stack":' + stack_json + after_stack
                + thread_json + extra + "}\n")


def format_events(
    events: list[Any], dictionary: Dictionary | None, enrich: Callable[[Any], dict[str, Any]]
) -> str:
    """A batch's events as JSON lines: rows through the dictionary, anything else through
    `enrich` (plain event objects; a malformed row becomes what enrich makes of it)."""
    out = []
    for event in events:
        if type(event) is list and dictionary is not None:
            line = dictionary.line(event)
            if line is not None:
                out.append(line)
                continue
        out.append(json_line(enrich(event)) + "\n")
    return "".join(out)

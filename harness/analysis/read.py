"""Read a capture folder into Arrow tables, fast and tolerant (the first step of analysis).

flows.jsonl can hold a million lines, so it is parsed by pyarrow's JSON reader in blocks
against a fixed schema (the contract's fields; unknown extra fields are ignored). A block
that the fast reader refuses (a garbled or torn line, a value of an unexpected type) is
parsed again line by line in Python, where each garbled line (torn, not JSON, nested
more than bounded_json.MAX_DEPTH levels deep) is counted and named by its line number and
each ill-typed value becomes null, so one bad line never costs the rest of the file.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.json as pajson

from harness.capture import (
    CANARIES_JSON,
    FLOWS_JSONL,
    FORMAT,
    FORMAT_VERSION,
    HOOKS_JSONL,
    JOURNAL_JSON,
    RUN_JSON,
    ZONE_JSON,
    Zone,
    parse_zone_data,
    read_json,
)
from harness.capture.bounded_json import loads as bounded_loads
from harness.capture.flow_files import compare_flow_files
from harness.errors import CaptureError

BLOCK_BYTES = 16 << 20
NAMED_LINES = 10  # garbled lines named in a warning (all are counted)

GEO_SOURCES = ("overrides", "iptocc", "geoip2fast", "mmdb", "zone", "dns")

FINDING_TYPE = pa.struct([
    ("type", pa.string()), ("id", pa.string()), ("where", pa.string()),
    ("encoding", pa.string()), ("offset", pa.int64()),
])

DNS_ANSWER = pa.struct([("name", pa.string()), ("type", pa.string()), ("data", pa.string()), ("ttl", pa.int64())])

FLOW_SCHEMA = pa.schema([
    ("id", pa.string()), ("ts_start", pa.float64()), ("ts_end", pa.float64()),
    ("device", pa.string()), ("client_ip", pa.string()), ("client_port", pa.int64()),
    ("ts_client_connect", pa.float64()), ("host", pa.string()),
    ("sni", pa.string()), ("server_ip", pa.string()), ("server_port", pa.int64()),
    ("scheme", pa.string()), ("method", pa.string()), ("url", pa.string()),
    ("http_version", pa.string()), ("status", pa.int64()),
    ("request_bytes", pa.int64()), ("response_bytes", pa.int64()),
    ("tls", pa.struct([("intercepted", pa.bool_()), ("version", pa.string()),
                       ("failure", pa.string())])),
    ("country", pa.string()),
    ("country_sources", pa.struct([(s, pa.string()) for s in GEO_SOURCES])),
    ("country_confidence", pa.string()), ("org", pa.string()), ("org_country", pa.string()),
    ("flags", pa.list_(pa.string())), ("findings", pa.list_(FINDING_TYPE)),
    ("app", pa.string()),
    ("attribution", pa.struct([("method", pa.string()), ("confidence", pa.string())])),
    ("kind", pa.string()), ("notes", pa.list_(pa.string())),
    # full-device capture (WireGuard mode): raw TCP/UDP/QUIC and DNS records
    ("protocol", pa.string()), ("transport", pa.string()), ("payload_sni", pa.string()),
    ("dns_names", pa.list_(pa.string())),
    ("dns", pa.struct([("name", pa.string()), ("type", pa.string()), ("answers", pa.list_(DNS_ANSWER)),
                       ("rcode", pa.string()), ("resolver", pa.string())])),
])

HOOK_SCHEMA = pa.schema([
    ("type", pa.string()), ("ts", pa.float64()), ("device", pa.string()),
    ("package", pa.string()), ("pid", pa.int64()), ("thread", pa.string()),
    ("api", pa.string()), ("category", pa.string()), ("value", pa.string()),
    ("stack", pa.list_(pa.string())), ("host", pa.string()), ("ip", pa.string()),
    ("port", pa.int64()), ("proxied", pa.bool_()), ("bypassed_proxy", pa.bool_()),
    ("error", pa.string()), ("library", pa.string()),  # unpin:* events: the bypass's library
])


@dataclass
class ReadStats:
    records: int = 0
    garbled: int = 0
    coerced_blocks: int = 0
    garbled_lines: list[str] = field(default_factory=list)  # the first NAMED_LINES: "line N: why"

    def skip(self, number: int, why: str) -> None:
        self.garbled += 1
        if len(self.garbled_lines) < NAMED_LINES:
            self.garbled_lines.append(f"line {number}: {why}")


@dataclass
class RawCapture:
    """One capture folder, read: the manifest, canaries and two Arrow tables."""

    path: Path
    run: dict[str, Any]
    canaries: dict[str, Any]
    flows: pa.Table
    hooks: pa.Table
    flow_stats: ReadStats = field(default_factory=ReadStats)
    hook_stats: ReadStats = field(default_factory=ReadStats)
    warnings: list[str] = field(default_factory=list)
    journal: dict[str, Any] = field(default_factory=dict)
    zone: Zone | None = None

    @property
    def run_id(self) -> str:
        return str(self.run.get("run_id") or self.run.get("id") or self.path.name)


# --- Python fallback: coerce one record to a schema -------------------------------------


def _coerce(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_string(typ):
        if isinstance(value, str):
            return value
        return json.dumps(value, sort_keys=True, default=str) if isinstance(value, dict | list) else str(value)
    if pa.types.is_floating(typ):
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if pa.types.is_integer(typ):
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value if -(2**63) <= value < 2**63 else None
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return None
    if pa.types.is_boolean(typ):
        return value if isinstance(value, bool) else None
    if pa.types.is_list(typ):
        if not isinstance(value, list):
            return None
        return [_coerce(v, typ.value_type) for v in value]
    if pa.types.is_struct(typ):
        if not isinstance(value, dict):
            return None
        return {typ.field(i).name: _coerce(value.get(typ.field(i).name), typ.field(i).type)
                for i in range(typ.num_fields)}
    return None


def _frame_text(frame: Any) -> Any:
    """A stack frame given as an object ({class, method, file, line}) becomes Java's text form."""
    if isinstance(frame, dict):
        cls = frame.get("class") or frame.get("className") or "?"
        method = frame.get("method") or frame.get("methodName") or "?"
        where = frame.get("file") or frame.get("fileName") or "Unknown Source"
        line = frame.get("line") or frame.get("lineNumber")
        return f"{cls}.{method}({where}:{line})" if line is not None else f"{cls}.{method}({where})"
    return frame


def _slow_block(block: bytes, first_line: int, schema: pa.Schema, stats: ReadStats) -> pa.Table:
    rows = []
    names = schema.names
    for number, line in enumerate(block.decode("utf-8", errors="replace").split("\n"), first_line):
        if not line.strip():
            continue
        try:
            record = bounded_loads(line)
        except json.JSONDecodeError as e:
            stats.skip(number, e.msg)
            continue
        if not isinstance(record, dict):
            stats.skip(number, "not a JSON object")
            continue
        if isinstance(record.get("stack"), list):
            record["stack"] = [_frame_text(f) for f in record["stack"]]
        rows.append({n: _coerce(record.get(n), schema.field(n).type) for n in names})
    stats.records += len(rows)
    stats.coerced_blocks += 1
    return pa.Table.from_pylist(rows, schema=schema)


def _blocks(path: Path, size: int) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, whole lines of about `size` bytes)."""
    line = 1
    with path.open("rb") as fh:
        rest = b""
        while True:
            chunk = fh.read(size)
            if not chunk:
                if rest:
                    yield line, rest
                return
            chunk = rest + chunk
            cut = chunk.rfind(b"\n")
            if cut < 0:
                rest = chunk
                continue
            rest = chunk[cut + 1:]
            yield line, chunk[:cut + 1]
            line += chunk.count(b"\n", 0, cut + 1)


def read_jsonl_table(path: Path, schema: pa.Schema, stats: ReadStats | None = None,
                     block_bytes: int = BLOCK_BYTES) -> pa.Table:
    """Read a JSON-lines file into a table of `schema`; garbled lines are counted in `stats`."""
    stats = stats if stats is not None else ReadStats()
    if not path.exists():
        return schema.empty_table()
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    read_options = pajson.ReadOptions(block_size=1 << 20)
    try:  # the common case, a clean file: one multi-threaded read
        table = pajson.read_json(path, read_options=read_options, parse_options=options)
        table = table.select(schema.names).cast(schema)
        stats.records += table.num_rows
        return table
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    tables = []
    for first_line, block in _blocks(path, block_bytes):
        try:
            table = pajson.read_json(io.BytesIO(block), read_options=read_options, parse_options=options)
            table = table.select(schema.names).cast(schema)
            stats.records += table.num_rows
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            table = _slow_block(block, first_line, schema, stats)
        tables.append(table)
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables)


# --- the folder -------------------------------------------------------------------------


def check_manifest(path: Path) -> dict[str, Any]:
    """The run.json of a capture folder, or a CaptureError naming why it is not one."""
    if not path.is_dir():
        raise CaptureError(f"{path}: not a capture folder (no such directory)")
    manifest = path / RUN_JSON
    if not manifest.exists():
        if (path / FLOWS_JSONL).exists():
            return {}
        raise CaptureError(f"{path}: not a capture folder (no {RUN_JSON} or {FLOWS_JSONL})")
    run = read_json(manifest)
    if not isinstance(run, dict):
        raise CaptureError(f"{manifest}: not a capture manifest (expected a JSON object)")
    fmt = run.get("format", FORMAT)
    if fmt != FORMAT:
        raise CaptureError(f"{manifest}: unknown format {str(fmt)[:60]!r} (expected {FORMAT!r})")
    version = run.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CaptureError(f"{manifest}: format_version {str(version)[:20]!r} is not a number")
    if version > FORMAT_VERSION:
        raise CaptureError(
            f"{manifest}: format_version {version} is newer than this harness reads "
            f"({FORMAT_VERSION}); upgrade the harness"
        )
    return run


def read_capture(path: Path | str) -> RawCapture:
    """Read one capture folder; raises CaptureError if it is not one."""
    path = Path(path)
    run = check_manifest(path)
    warnings = []
    if not run:
        warnings.append(f"{path.name}: no {RUN_JSON} (an interrupted run?); reporting its flows")
    canaries = _optional_object(path / CANARIES_JSON, warnings)
    journal = _optional_object(path / JOURNAL_JSON, warnings)
    zone = None
    zone_data = _optional_object(path / ZONE_JSON, warnings)
    if zone_data:
        try:
            zone = parse_zone_data(zone_data, f"{path.name}/{ZONE_JSON}")
        except ValueError as e:
            warnings.append(f"{e}; ignored")
    flow_stats, hook_stats = ReadStats(), ReadStats()
    flows = read_jsonl_table(path / FLOWS_JSONL, FLOW_SCHEMA, flow_stats)
    hooks = read_jsonl_table(path / HOOKS_JSONL, HOOK_SCHEMA, hook_stats)
    for name, stats in ((FLOWS_JSONL, flow_stats), (HOOKS_JSONL, hook_stats)):
        if stats.garbled:
            more = "; ..." if stats.garbled > len(stats.garbled_lines) else ""
            warnings.append(f"{path.name}/{name}: {stats.garbled} garbled line(s) skipped "
                            f"({'; '.join(stats.garbled_lines)}{more})")
    # flows.jsonl is the record; a flow in one file and not the other is named (flow_files)
    flow_files = compare_flow_files(path, [i for i in flows.column("id").to_pylist() if isinstance(i, str)])
    if flow_files is not None:
        warnings += [f"{path.name}: {line}" for line in flow_files.lines()]
    return RawCapture(path, run, canaries, flows, hooks, flow_stats, hook_stats, warnings, journal, zone)


def _optional_object(path: Path, warnings: list[str]) -> dict[str, Any]:
    """An optional JSON object of the capture: absent or unreadable is a warning, not an error."""
    if not path.exists():
        return {}
    try:
        loaded = read_json(path)
    except CaptureError as e:
        warnings.append(f"{e}; ignored")
        return {}
    if not isinstance(loaded, dict):
        warnings.append(f"{path.parent.name}/{path.name} is not a JSON object; ignored")
        return {}
    return loaded

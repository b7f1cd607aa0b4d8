"""Writing flows.mitm: mitmproxy's flow file format (tnetstring), byte for byte.

mitmproxy's own `io.FlowWriter` builds each flow's state (`flow.get_state()`: every
connection field converted through its type hints, the metadata deep-copied) and
serialises it with a pure-Python deque walk. On the proxy's hot path (every flow is
written as it completes) that costs more than all the audit addons together, so
`FastFlowWriter` produces the same bytes for less:

- `emit` builds a tnetstring with C-level formatting, about twice as fast, in chunks
  written one after the other, so a large body is never copied into a larger string;
- a connection's state comes from converters compiled once per class
  (`harness.proxy.connection_state`), and the client and server connections, which every
  flow of a keep-alive connection repeats, are encoded once and reused while their
  fields are unchanged;
- the metadata is encoded as it is, without the deep copy (encoding does not change it).

The output is checked against mitmproxy's encoder in the tests; `mitmweb -r` reads it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, BinaryIO

from mitmproxy import connection, http, tcp, udp, version
from mitmproxy import flow as mflow

from harness.proxy.connection_state import ConnectionStates


class Encoded(bytes):
    """A value already in tnetstring form: written as it is."""


def dumps(value: Any) -> bytes:
    """tnetstring of a flow state (None, bool, int, float, bytes, str, list, tuple, dict)."""
    chunks: list[bytes] = []
    emit(value, chunks)
    return b"".join(chunks)


def emit(value: Any, out: list[bytes]) -> int:
    """Append the tnetstring of `value` to `out` as chunks and return its length.

    A large body is appended as it is, never copied into a bigger string: the chunks are
    written to the file one after the other (copying a 1 MB body costs more than the
    whole encoding of a small flow). Inside a dict or list, a scalar (and a header's
    pair of bytes) becomes one chunk, with its key in a dict, without recursing: a flow
    has some eighty values."""
    kind = type(value)
    if kind is dict:
        at = len(out)
        out.append(b"")  # the length prefix, known once the items are in
        size = 0
        # mitmproxy writes a dict's items last first; so do we, to stay byte-identical
        for k, v in reversed(value.items()):
            if type(k) is not str:
                size += emit(k, out) + emit(v, out)
                continue
            key = k.encode("utf8")
            item = _scalar(v)
            if item is None:  # the key, then the value's chunks
                item = b"%d:%s;" % (len(key), key)
                out.append(item)
                size += len(item) + emit(v, out)
            else:  # key and value in one chunk
                item = b"%d:%s;%s" % (len(key), key, item)
                out.append(item)
                size += len(item)
        return _close(out, at, size, b"}")
    if kind is list or kind is tuple:
        at = len(out)
        out.append(b"")
        size = 0
        for v in value:
            item = _scalar(v)
            if item is None:
                size += emit(v, out)
            else:
                out.append(item)
                size += len(item)
        return _close(out, at, size, b"]")
    item = _scalar(value)
    if item is not None:
        out.append(item)
        return len(item)
    if kind is bytes:  # large: appended as it is
        head = b"%d:" % len(value)
        out += (head, value, b",")
        return len(head) + len(value) + 1
    if kind is Encoded:
        out.append(value)
        return len(value)
    if isinstance(value, int):
        data = str(value).encode()
    elif isinstance(value, float):
        data = repr(value).encode()
    elif isinstance(value, bytes | str | list | tuple | dict):  # subclasses: the slow, general path
        from mitmproxy.io import tnetstring

        data = tnetstring.dumps(value)
        out.append(data)
        return len(data)
    else:
        raise ValueError(f"unserializable object: {value!r} ({kind})")
    item = b"%d:%s%s" % (len(data), data, b"#" if isinstance(value, int) else b"^")
    out.append(item)
    return len(item)


_BIG = 4096  # %-formatting is quickest for small values; a large one is not copied


def _scalar(value: Any) -> bytes | None:
    """The tnetstring of a small value in one piece (a pair of bytes too: a header),
    or None for a container or a large body (see `emit`)."""
    kind = type(value)
    if kind is str:
        data = value.encode("utf8")
        return b"%d:%s;" % (len(data), data)
    if kind is bytes:
        return b"%d:%s," % (len(value), value) if len(value) < _BIG else None
    if value is None:
        return b"0:~"
    if kind is bool:
        return b"4:true!" if value else b"5:false!"
    if kind is int:
        data = b"%d" % value
        return b"%d:%s#" % (len(data), data)
    if kind is float:
        data = repr(value).encode()
        return b"%d:%s^" % (len(data), data)
    if kind is tuple and len(value) == 2:
        first, second = value
        if type(first) is bytes and type(second) is bytes and len(first) + len(second) < _BIG:
            inner = b"%d:%s,%d:%s," % (len(first), first, len(second), second)
            return b"%d:%s]" % (len(inner), inner)
    return None


def _close(out: list[bytes], at: int, size: int, tag: bytes) -> int:
    """Fill in a container's length prefix (its slot at `at`) and end it with its tag."""
    head = b"%d:" % size
    out[at] = head
    out.append(tag)
    return len(head) + size + 1


_FAST_FLOWS = (http.HTTPFlow, tcp.TCPFlow, udp.UDPFlow)


class FastFlowWriter:
    """Like mitmproxy.io.FlowWriter: `add(flow)` appends one flow to a binary file."""

    def __init__(self, fo: BinaryIO, connections: int = 1024):
        self.fo = fo
        self._size = connections
        self._connections: OrderedDict[str, tuple[tuple[Any, ...], Encoded]] = OrderedDict()
        self._states = ConnectionStates()

    def add(self, flow: mflow.Flow) -> None:
        chunks = self.chunks(flow)
        if len(chunks) > 1 and max(map(len, chunks)) >= _BIG:
            self.fo.writelines(chunks)  # a large body among them: written as it is, not copied
        else:
            self.fo.write(b"".join(chunks))  # one write beats a hundred small ones five times

    def encode(self, flow: mflow.Flow) -> bytes:
        """The bytes mitmproxy writes for `flow`: tnetstring of `flow.get_state()`."""
        return b"".join(self.chunks(flow))

    def chunks(self, flow: mflow.Flow) -> list[bytes]:
        """`encode(flow)` in pieces, a large body among them as it is."""
        out: list[bytes] = []
        if type(flow) not in _FAST_FLOWS or flow._backup is not None:  # a modified flow: rare
            emit(flow.get_state(), out)
            return out
        # the keys in Flow.get_state's order: the order decides the bytes
        state: dict[str, Any] = {
            "version": version.FLOW_FORMAT_VERSION,
            "type": flow.type,
            "id": flow.id,
            "error": flow.error.get_state() if flow.error else None,
            "client_conn": self._connection(flow.client_conn),
            "server_conn": self._connection(flow.server_conn),
            "intercepted": flow.intercepted,
            "is_replay": flow.is_replay,
            "marked": flow.marked,
            "metadata": flow.metadata,
            "comment": flow.comment,
            "timestamp_created": flow.timestamp_created,
            "backup": None,
        }
        if isinstance(flow, http.HTTPFlow):
            state["request"] = flow.request.get_state()
            state["response"] = flow.response.get_state() if flow.response else None
            state["websocket"] = flow.websocket.get_state() if flow.websocket else None
        else:
            state["messages"] = [m.get_state() for m in flow.messages]
        emit(state, out)
        return out

    def _connection(self, conn: connection.Connection) -> Encoded:
        signature = self._states.signature(conn)
        cached = self._connections.get(conn.id)
        if cached is not None and cached[0] == signature:
            self._connections.move_to_end(conn.id)
            return cached[1]
        encoded = Encoded(dumps(self._states.state(conn)))
        self._connections[conn.id] = (signature, encoded)
        self._connections.move_to_end(conn.id)
        if len(self._connections) > self._size:
            self._connections.popitem(last=False)
        return encoded

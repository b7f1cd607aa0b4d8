"""The control channel between the handset and its app JVMs (a Unix socket, JSON lines).

Every stub call in a JVM (TelephonyManager.getImei, ContentResolver.query, ...) asks this
server, which answers from the handset state at that moment: a contact planted or a
clipboard text set after the app started is what the next read returns. A second
connection per JVM ("watch") is never answered; when the handset process ends, the JVM
sees end of stream and halts, so no JVM outlives its handset. On that connection the
handset writes system events (`{"event": "sim_inserted"}`, see `notify`), as Android
delivers a broadcast to a running app's receivers.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import socketserver
import tempfile
import threading
from pathlib import Path
from typing import Any, Protocol

MAX_LINE = 1 << 20


class Answers(Protocol):
    def answer(self, package: str, query: str, arg: str | None) -> Any: ...


class ControlServer:
    """A threaded Unix-socket server; `path` is what the JVMs get as -Dlabvirt.ctl."""

    def __init__(self, answers: Answers) -> None:
        # Unix socket paths are limited to 107 bytes: keep it short, under /tmp.
        base = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        self._dir = Path(tempfile.mkdtemp(prefix="vh-", dir=base))
        self.path = self._dir / "ctl"
        self._answers = answers
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        self._watchers: dict[str, Any] = {}  # package -> the wfile of its watch connection
        self._pending: dict[str, list[str]] = {}  # events for a JVM not yet watching
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                with server._conns_lock:
                    server._conns.add(self.connection)
                try:
                    server._serve(self.rfile, self.wfile)
                except (OSError, ValueError):
                    pass
                finally:
                    with server._conns_lock:
                        server._conns.discard(self.connection)

        class Server(socketserver.ThreadingUnixStreamServer):
            daemon_threads = True

        self._server = Server(str(self.path), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="app-control", daemon=True)
        self._thread.start()

    def _serve(self, rfile: Any, wfile: Any) -> None:
        while True:
            line = rfile.readline(MAX_LINE)
            if not line:
                return
            try:
                req = json.loads(line)
                query, package, arg = str(req["q"]), str(req.get("pkg", "")), req.get("arg")
            except (ValueError, KeyError, TypeError) as e:
                wfile.write(json.dumps({"error": f"bad request: {e}"}).encode() + b"\n")
                continue
            if query == "watch":
                self._watch(package, wfile)
                try:
                    while rfile.read(4096):
                        pass
                finally:
                    with self._conns_lock:
                        if self._watchers.get(package) is wfile:
                            del self._watchers[package]
                return
            try:
                resp = {"value": self._answers.answer(package, query, None if arg is None else str(arg))}
            except (LookupError, ValueError, TypeError) as e:
                resp = {"error": f"{type(e).__name__}: {e}"}
            wfile.write(json.dumps(resp, default=str).encode() + b"\n")
            wfile.flush()

    def _watch(self, package: str, wfile: Any) -> None:
        with self._conns_lock:
            self._watchers[package] = wfile
            pending = self._pending.pop(package, [])
            for event in pending:
                self._send_event(wfile, event)

    @staticmethod
    def _send_event(wfile: Any, event: str) -> bool:
        try:
            wfile.write(json.dumps({"event": event}).encode() + b"\n")
            wfile.flush()
        except (OSError, ValueError):
            return False
        return True

    def notify(self, package: str, event: str) -> None:
        """Deliver a system event to the package's JVM: now if it watches, else when it does."""
        with self._conns_lock:
            wfile = self._watchers.get(package)
            if wfile is None or not self._send_event(wfile, event):
                self._pending.setdefault(package, []).append(event)

    def forget(self, package: str) -> None:
        """Drop events kept for a JVM that ended before it watched."""
        with self._conns_lock:
            self._pending.pop(package, None)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._conns_lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

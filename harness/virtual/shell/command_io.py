"""What a shell command sees and raises: its I/O, and Usage for arguments it refuses.

A leaf: the interpreter (interp.py) and every command module import it."""

from __future__ import annotations

from collections.abc import Callable


class IO:
    """A command's stdin (bytes, or a callable read only if the command reads stdin)
    and its stdout/stderr buffers."""

    def __init__(self, stdin: bytes | Callable[[], bytes] = b"", out: bytearray | None = None,
                 err: bytearray | None = None) -> None:
        self._stdin = stdin
        self.out = out if out is not None else bytearray()
        self.err = err if err is not None else bytearray()

    @property
    def stdin(self) -> bytes:
        if callable(self._stdin):
            self._stdin = self._stdin()
        return self._stdin

    @stdin.setter
    def stdin(self, value: bytes) -> None:
        self._stdin = value

    def lazy_stdin(self) -> bytes | Callable[[], bytes]:
        """The stdin without reading it (to hand on to the first command of a pipeline)."""
        return self._stdin

    def write(self, text: str) -> None:
        self.out += text.encode("utf-8", "surrogateescape")

    def error(self, text: str) -> None:
        self.err += text.encode("utf-8", "surrogateescape")


class Usage(Exception):
    """A command's arguments are wrong: print `message` to stderr, exit with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code

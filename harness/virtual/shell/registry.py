"""The command table of the virtual shell and the I/O a command sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from harness.virtual.shell.interp import Shell
    from harness.virtual.state import HandsetState


class ShellHost(Protocol):
    """What the shell needs from the handset: its state, its app host, a reboot."""

    state: HandsetState
    apps: Any

    def request_reboot(self) -> None: ...


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


Command = Callable[["Shell", list[str], IO], int]
COMMANDS: dict[str, Command] = {}


def command(*names: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        for name in names:
            COMMANDS[name] = fn
        return fn
    return register


class Usage(Exception):
    """A command's arguments are wrong: print `message` to stderr, exit with `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code

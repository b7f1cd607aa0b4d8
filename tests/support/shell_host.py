"""A handset state + shell without ADB, for fast shell tests."""

from __future__ import annotations

from harness.virtual.apps import NullAppHost
from harness.virtual.shell import Shell
from harness.virtual.spec import load_spec
from harness.virtual.state import HandsetState


class Host:
    def __init__(self, name: str = "reference") -> None:
        self.state = HandsetState(load_spec(name), "127.77.9.1")
        self.apps = NullAppHost()
        self.reboots = 0

    def request_reboot(self) -> None:
        self.reboots += 1

    def run(self, cmd: str, uid: int = 2000) -> tuple[str, str, int]:
        out, err, code = Shell(self, uid).run_script(cmd)
        return out.decode(), err.decode(), code

"""The virtual handset's apps: real JVM processes (runner.py), one per running app.

The shell (`am start`, `monkey -p`, `am force-stop`, `pidof`, `ps`, `reboot`) and the
handset's boot talk to apps only through the AppHost protocol below. `make_app_host`
returns the real runner (AppRunner); NullAppHost serves tests of the shell alone.
"""

from __future__ import annotations

from typing import Any, Protocol


class AppHost(Protocol):
    def start(self, package: str, activity: str | None = None, reason: str = "launch") -> int:
        """Start the app's process if not running; return its real PID."""

    def stop(self, package: str) -> None:
        """End the app's process (am force-stop); no error if not running."""

    def pid_of(self, package: str) -> int | None: ...

    def running(self) -> dict[str, int]:
        """package -> PID of every live app process."""

    def boot(self) -> None:
        """Start the system apps that run at boot."""

    def broadcast(self, event: str) -> list[str]:
        """Deliver a system event (behaviours.EVENTS) to every app with a send on it; a
        running app gets it at once, one not running is started for it. Returns them."""

    def shutdown(self) -> None:
        """End every app process (reboot, handset stop). Leaves no stray JVM."""


class NullAppHost:
    """No processes: used until the runner exists, and by tests of the shell alone."""

    def __init__(self) -> None:
        self._pids: dict[str, int] = {}
        self.events: list[str] = []  # every event broadcast, in order (tests of the shell)

    def start(self, package: str, activity: str | None = None, reason: str = "launch") -> int:
        return self._pids.setdefault(package, 10000 + len(self._pids))

    def stop(self, package: str) -> None:
        self._pids.pop(package, None)

    def pid_of(self, package: str) -> int | None:
        return self._pids.get(package)

    def running(self) -> dict[str, int]:
        return dict(self._pids)

    def boot(self) -> None:
        return None

    def broadcast(self, event: str) -> list[str]:
        self.events.append(event)
        return []

    def shutdown(self) -> None:
        self._pids.clear()


def make_app_host(state: Any, internet: Any) -> AppHost:
    """The app host for a handset state and its virtual internet: real JVMs per app."""
    from harness.virtual.apps.runner import AppRunner

    return AppRunner(state, internet)

"""The harness's error tree.

Library code raises these; only the CLI boundary (`harness.cli.main`) turns them into a
one-line message and an exit code. Each class carries the exit code it maps to.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness reports to a user."""

    exit_code = 2


class ConfigError(HarnessError):
    """lab.yaml or a profile is malformed: the message names file:line:column and key path."""

    exit_code = 2


class CaptureError(HarnessError):
    """A capture folder is missing, garbled, of an unknown format, or fails verification."""

    exit_code = 2


class DeviceError(HarnessError):
    """A handset is missing, offline, unauthorized, lost mid-run, or a command failed."""

    exit_code = 3


class DeviceNotFoundError(DeviceError):
    """No handset matched the requested serial (or none / several are attached)."""


class DeviceOfflineError(DeviceError):
    """The handset is attached but offline or unauthorized."""


class DeviceLostError(DeviceError):
    """The handset disappeared in the middle of a run."""


class PreflightError(DeviceError):
    """`lab doctor`'s quick checks failed before a run: the message names each with its fix."""


class DeviceCommandError(DeviceError):
    """A command on the handset failed; the message carries its output."""

    def __init__(self, message: str, output: str = "", exit_status: int | None = None):
        super().__init__(message)
        self.output = output
        self.exit_status = exit_status


class UnsafeValueError(HarnessError):
    """A value that would reach a handset shell failed validation (e.g. `x;reboot`)."""

    exit_code = 2


class InstrumentError(HarnessError):
    """Frida could not attach, spawn, or load an agent (e.g. a frida-server version mismatch)."""

    exit_code = 3


class ProxyError(HarnessError):
    """mitmproxy could not start or was configured unsafely."""

    exit_code = 3


class NotBuiltError(HarnessError):
    """A command whose implementation has not landed yet. It says so; it never pretends."""

    exit_code = 2


class QueryError(HarnessError):
    """A query of a capture store is not valid SQL, fails, or is not read-only (`lab query`)."""

    exit_code = 2

"""Frida instrumentation: agents that trace which apps read sensitive data (hooks.jsonl)."""

from harness.instrument.agents import Part
from harness.instrument.device import AdbServer, ServerInfo, check_server, resolve_device
from harness.instrument.instrumentation import AgentOptions, Instrumentation, InstrumentStats
from harness.instrument.session import SessionInfo, SessionState

__all__ = [
    "AdbServer", "AgentOptions", "InstrumentStats", "Instrumentation", "Part", "ServerInfo",
    "SessionInfo", "SessionState", "check_server", "resolve_device",
]

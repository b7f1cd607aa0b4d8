"""Agent sources: one script per session, assembled from separate .js files."""

from __future__ import annotations

import pytest

from harness.config.lab import HookSet
from harness.errors import InstrumentError
from harness.instrument.agents import AGENTS_DIR, Part, agent_source, java_bridge_path, parse_parts


def test_parts_match_the_profile_hook_sets() -> None:
    assert {p.value for p in Part} == {h.value for h in HookSet}
    assert parse_parts(["unpin", "network", "sensitive", "network"]) == (
        Part.SENSITIVE, Part.NETWORK, Part.UNPIN)


def test_unknown_hook_set_is_refused() -> None:
    with pytest.raises(InstrumentError, match="unknown hook set 'keylogger'"):
        parse_parts(["keylogger"])


def test_source_is_bridge_then_protocol_then_parts() -> None:
    source = agent_source([Part.SENSITIVE, Part.UNPIN])
    bridge = java_bridge_path().read_text(encoding="utf-8")
    order = [source.index(bridge[:200])] + [source.index(f"{name} ----") for name in (
        "protocol.js", "javacontext.js", "javahooks.js", "sensitive.js", "unpin.js")]
    assert order == sorted(order)
    assert "network.js ----" not in source
    assert (AGENTS_DIR / "unpin.js").read_text(encoding="utf-8") in source


def test_native_only_source_has_no_bridge() -> None:
    source = agent_source([Part.NETWORK], java=False)
    assert "var bridge=" not in source and "network.js ----" in source


def test_unpin_libraries_are_checked_and_reach_the_agent_options() -> None:
    from harness.instrument.agents import UNPIN_LIBRARIES, parse_unpin_libraries
    from harness.instrument.instrumentation import AgentOptions

    assert parse_unpin_libraries(None) is None
    assert parse_unpin_libraries(["webview", "conscrypt-ct", "webview"]) == ("webview", "conscrypt-ct")
    with pytest.raises(InstrumentError, match="unknown unpin library 'frida'"):
        parse_unpin_libraries(["frida"])
    # unpin.js knows the same libraries, in the same order
    source = (AGENTS_DIR / "unpin.js").read_text(encoding="utf-8")
    listed = source[source.index("const UNPIN_LIBRARIES = ["):].split("]")[0]
    assert [name.strip().strip('"') for name in listed.split("[", 1)[1].split(",")] == list(UNPIN_LIBRARIES)
    assert AgentOptions().for_agent([Part.UNPIN])["unpinLibraries"] is None
    assert AgentOptions(unpin_libraries=("webview",)).for_agent([Part.UNPIN])["unpinLibraries"] == ["webview"]
    assert "unpinLibraries" not in AgentOptions().for_agent([Part.SENSITIVE])
    with pytest.raises(InstrumentError):
        AgentOptions(unpin_libraries=("x",)).for_agent([Part.UNPIN])

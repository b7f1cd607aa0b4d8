"""addons/clientguard.py with taddons/tflow: only listed clients may use the proxy."""

from __future__ import annotations

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons, tflow

from addons.clientguard import ClientGuard, client_allowed, parse_allowlist


@pytest.mark.parametrize(
    ("allowlist", "peer", "allowed"),
    [
        ([], "203.0.113.5", True),
        (["10.0.5.0/24"], "10.0.5.9", True),
        (["10.0.5.0/24"], "10.0.6.9", False),
        (["10.0.5.0/24,127.0.0.0/8"], "127.0.0.1", True),
        (["10.0.5.0/24"], "::ffff:10.0.5.9", True),
        (["fd00::/8"], "fd00::1", True),
        (["fd00::/8"], "10.0.5.9", False),
        (["10.0.5.0/24"], "not-an-ip", False),
    ],
)
def test_client_allowed(allowlist: list[str], peer: str, allowed: bool) -> None:
    assert client_allowed(peer, parse_allowlist(allowlist)) is allowed


def test_refused_client_is_disconnected() -> None:
    addon = ClientGuard()
    with taddons.context(addon) as tctx:
        tctx.configure(addon, audit_client_allowlist=["10.0.5.0/24"])
        client = tflow.tclient_conn()  # 127.0.0.1
        addon.client_connected(client)
        assert client.error and "allowlist" in client.error
        client = tflow.tclient_conn()
        client.peername = ("10.0.5.7", 5555)
        addon.client_connected(client)
        assert client.error is None


def test_bad_cidr_is_an_option_error() -> None:
    addon = ClientGuard()
    with taddons.context(addon) as tctx:
        with pytest.raises(exceptions.OptionsError, match="not a CIDR"):
            tctx.configure(addon, audit_client_allowlist=["10.0.0.0/33"])

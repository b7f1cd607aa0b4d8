"""harness.proxy.master.Proxy: binding rules, start/stop, errors without tracebacks."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config.lab import LabConfig
from harness.errors import ProxyError
from harness.proxy.master import Proxy


def lab(tmp_path: Path, **proxy: object) -> LabConfig:
    return LabConfig.model_validate(
        {"name": "unit lab/1", "jurisdiction": "IN", "proxy": proxy, "state_dir": str(tmp_path / "state")}
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_open_proxy_on_a_lab_network_is_refused(tmp_path: Path, host: str) -> None:
    with pytest.raises(ProxyError, match="needs client_allowlist or auth"):
        Proxy(lab(tmp_path), listen_host=host)


@pytest.mark.parametrize("allowlist", [["0.0.0.0/0"], ["::/0"], ["0.0.0.0/1", "128.0.0.0/1"]])
def test_an_allowlist_of_every_address_is_no_guard(tmp_path: Path, allowlist: list[str]) -> None:
    # lab.yaml listens on loopback (valid); the caller asks for a lab network address
    loopback = lab(tmp_path, client_allowlist=allowlist)
    with pytest.raises(ProxyError, match="refusing to listen on 0.0.0.0: client_allowlist admits every"):
        Proxy(loopback, listen_host="0.0.0.0")
    guarded = lab(tmp_path, client_allowlist=allowlist, auth="lab:s3cret")
    assert Proxy(guarded, listen_host="0.0.0.0").listen_host == "0.0.0.0"


def test_non_loopback_with_allowlist_is_accepted(tmp_path: Path) -> None:
    proxy = Proxy(lab(tmp_path, listen_host="0.0.0.0", client_allowlist=["10.0.5.0/24"]))
    assert proxy.listen_host == "0.0.0.0"
    assert proxy.audit_options()["audit_client_allowlist"] == ["10.0.5.0/24"]


def test_contained_mode_needs_a_zone(tmp_path: Path) -> None:
    with pytest.raises(ProxyError, match="zone"):
        Proxy(lab(tmp_path, network="contained"))


def test_confdir_is_per_lab(tmp_path: Path) -> None:
    proxy = Proxy(lab(tmp_path))
    assert proxy.confdir == tmp_path / "state" / "mitmproxy" / "unit_lab_1"
    assert proxy.ca_cert_path.name == "mitmproxy-ca-cert.pem"


def test_options_from_the_lab(tmp_path: Path) -> None:
    config = LabConfig.model_validate({
        "name": "x", "jurisdiction": "IN",
        "policy": {"watchlist_countries": ["CN"], "allowed_domains": ["*.gov.in"]},
        "geo": {"overrides": [{"cidr": "203.0.113.0/24", "country": "CN", "org": "Org", "org_country": "CN"}]},
        "proxy": {"auth": "user:secret", "max_body_bytes": 4096},
        "state_dir": str(tmp_path),
    })
    proxy = Proxy(config, device="SER1", canaries=tmp_path / "c.json", capture_dir=tmp_path / "cap")
    audit, mitm = proxy.audit_options(), proxy.mitm_options()
    assert audit["audit_geo_overrides"] == ["203.0.113.0/24=CN:Org:CN"]
    assert audit["audit_watchlist"] == ["CN"] and audit["audit_allowed_domains"] == ["*.gov.in"]
    assert (audit["audit_device"], audit["audit_max_body_bytes"]) == ("SER1", 4096)
    assert mitm["proxyauth"] == "user:secret" and mitm["stream_large_bodies"] == "4096"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port that something else listens on for the test's life."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.e2e
def test_start_stop_and_port_in_use(tmp_path: Path, busy_port: int, capfd: pytest.CaptureFixture[str]) -> None:
    with Proxy(lab(tmp_path), capture_dir=tmp_path / "cap") as first:
        assert first.port > 0
        assert first.ca_cert_path.is_file() and first.ca_keypair_path.is_file()
        with pytest.raises(ProxyError, match="another Proxy"):
            Proxy(lab(tmp_path)).start()
    with pytest.raises(ProxyError, match="could not start"):
        Proxy(lab(tmp_path), port=busy_port).start()
    with Proxy(lab(tmp_path)) as again:  # the process slot is free again after failures
        assert again.port > 0
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.e2e
def test_client_allowlist_turns_away_other_clients(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl
    with Proxy(lab(tmp_path, client_allowlist=["10.9.9.0/24"])) as proxy:
        done = subprocess.run([curl, "-sS", "--max-time", "5", "-x", proxy.url, "http://127.0.0.1:9/"],
                              capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode != 0
    assert any("not in the allowlist" in line for line in proxy.log_tail)


@pytest.mark.e2e
def test_canaries_set_while_running(tmp_path: Path) -> None:
    import json

    import httpx

    from harness.capture.folder import iter_jsonl

    canaries = tmp_path / "canaries.json"
    canaries.write_text(json.dumps({"identifiers": {"imei": "490154203237518"}}))
    with Proxy(lab(tmp_path), capture_dir=tmp_path / "cap") as proxy:
        proxy.set_canaries(canaries)
        with pytest.raises(ProxyError, match="cannot load canaries"):
            proxy.set_canaries(tmp_path / "missing.json")
        with httpx.Client(proxy=proxy.url, trust_env=False, timeout=10) as client:
            response = client.get("http://127.0.0.1:9/?imei=490154203237518")
        assert response.status_code == 502  # nothing listens there; the flow is recorded anyway
        stats = proxy.stats.snapshot()
    (record,) = list(iter_jsonl(tmp_path / "cap" / "flows.jsonl"))
    assert record["findings"][0]["id"] == "imei"
    assert stats["findings"] == 1

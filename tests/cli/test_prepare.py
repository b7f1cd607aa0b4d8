"""`lab prepare` installs the CA the lab's proxy made, from where the proxy keeps it, and
says what it did not do and why (text and --json); against the virtual handset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.device_ca import make_ca

from harness.cli.main import main
from harness.cli.prepare_skips import lab_ca
from harness.config import load_lab
from harness.devices.ca import cert_pem
from harness.proxy.master import CA_CERT, Proxy


def write_lab(tmp_path: Path) -> Path:
    lab = tmp_path / "lab.yaml"
    lab.write_text(f"name: My Lab\njurisdiction: IN\nstate_dir: {tmp_path / 'state'}\n")
    return lab


def invoke(adb_server, *args: object):
    env = {"ANDROID_ADB_SERVER_PORT": str(adb_server.port), "ANDROID_SERIAL": None}
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_the_ca_is_looked_for_where_the_proxy_keeps_it(tmp_path):
    lab = load_lab(write_lab(tmp_path))
    assert lab_ca(lab) == Proxy(lab).ca_cert_path == tmp_path / "state" / "mitmproxy" / "My_Lab" / CA_CERT


@pytest.mark.e2e
def test_prepare_installs_the_proxy_ca_from_its_default_confdir(tmp_path, virtual_handset, adb_server):
    vh = virtual_handset("reference")
    lab = write_lab(tmp_path)
    ca = lab_ca(load_lab(lab))
    ca.parent.mkdir(parents=True)
    ca.write_bytes(cert_pem(make_ca("mitmproxy")))
    result = invoke(adb_server, "prepare", "--lab", lab, "--device", vh.serial, "--no-frida", "--no-canaries",
                    "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert "ca" in data["changes"] and data["ca_method"] == "user-manual"
    assert data["ca"] == str(ca)
    assert [s["step"] for s in data["skipped"]] == ["proxy", "frida_server", "canaries"]
    restored = invoke(adb_server, "restore", "--lab", lab, "--device", vh.serial)
    assert restored.exit_code == 0, restored.output


@pytest.mark.e2e
def test_prepare_without_ca_or_proxy_port_says_so(tmp_path, virtual_handset, adb_server):
    vh = virtual_handset("reference")
    lab = write_lab(tmp_path)
    before = vh.state_dump()
    result = invoke(adb_server, "prepare", "--lab", lab, "--device", vh.serial, "--no-frida", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    skipped = {s["step"]: s["reason"] for s in data["skipped"]}
    assert data["ca"] is None and data["ca_method"] is None and "ca" not in data["changes"]
    assert set(skipped) == {"ca", "proxy", "frida_server"}
    assert str(lab_ca(load_lab(lab))) in skipped["ca"] and "--ca" in skipped["ca"]
    assert "--proxy-port" in skipped["proxy"]
    assert invoke(adb_server, "restore", "--lab", lab, "--device", vh.serial).exit_code == 0

    text = invoke(adb_server, "prepare", "--lab", lab, "--device", vh.serial, "--no-frida", "--no-canaries")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert f"not done: ca: no CA certificate at {lab_ca(load_lab(lab))}" in " ".join(lines)
    assert any(line.startswith("not done: proxy: no --proxy-port") for line in lines)
    assert "not done: canaries: --no-canaries" in lines
    assert invoke(adb_server, "restore", "--lab", lab, "--device", vh.serial).exit_code == 0
    assert vh.state_dump() == before

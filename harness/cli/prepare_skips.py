"""Which CA `lab prepare` installs, and what it leaves undone and why: said in its output
and its --json, so a handset given no CA or no proxy is never a silent surprise."""

from __future__ import annotations

from pathlib import Path

from harness.config import LabConfig


def lab_ca(lab: LabConfig) -> Path:
    """Where the lab's proxy keeps the CA certificate a handset installs."""
    from harness.proxy.master import CA_CERT, default_confdir

    return default_confdir(lab) / CA_CERT


def ca_to_install(lab: LabConfig, ca_path: Path | None) -> Path | None:
    """--ca, else the lab proxy's CA certificate when the proxy has made one."""
    if ca_path is not None:
        return ca_path
    default = lab_ca(lab)
    return default if default.is_file() else None


def skipped(lab: LabConfig, ca_path: Path | None, proxy_port: int | None, frida: bool,
            canaries: bool) -> list[dict[str, str]]:
    """[{"step", "reason"}] for each part of prepare that will not be done."""
    out: list[dict[str, str]] = []
    if ca_path is None:
        out.append({"step": "ca", "reason": f"no CA certificate at {lab_ca(lab)} (the lab's proxy makes it "
                                            "when it first starts, e.g. in `lab run`); give --ca PEM"})
    if proxy_port is None:
        out.append({"step": "proxy", "reason": "no --proxy-port: the handset's proxy setting and adb reverse "
                                               "are left as they are, its traffic does not go through a proxy"})
    if not frida:
        out.append({"step": "frida_server", "reason": "--no-frida"})
    if not canaries:
        out.append({"step": "canaries", "reason": "--no-canaries"})
    return out

"""Connections that went around the proxy, told apart from those that went through it.

The Frida connect hook sees every connect() an app makes. One to the proxy (a loopback
address on the port `adb reverse` forwards to the harness's proxy: journal.json's
`reverse` entries, or run.json's `proxy.port`) went through it; one elsewhere went
around it and its bytes were never seen: `bypassed_proxy`. DNS, adb and Frida's own
ports are not traffic. An event may also say so itself (`proxied: false` or
`bypassed_proxy: true`). In contained mode zone.json turns the loopback responder an
app reached into the host and world IP it meant.

In WireGuard mode (run.json `proxy.mode: wireguard`) no port leads to the proxy: the
tunnel carries every connection to its real address, so no connect is a bypass; the
cross-check of those connects against the proxy's flows is tunnel_leaks.py's.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from harness.capture import Zone
from harness.config import GeoConfig
from harness.devices.paths import ADB_SERVER_PORT, FRIDA_SERVER_PORTS
from harness.geo import GeoLocator

DNS_PORT = 53
NOT_TRAFFIC_PORTS = frozenset({DNS_PORT, ADB_SERVER_PORT, *FRIDA_SERVER_PORTS})
_TCP = re.compile(r"^tcp:(\d{1,5})$")
WIREGUARD = "wireguard"

BYPASS_COLUMNS = ["run_id", "ts", "device", "app", "destination", "host", "ip", "port", "server_ip",
                  "country", "org", "org_country", "flags", "hook_id"]


def proxy_ports(run: dict[str, Any], journal: dict[str, Any]) -> set[int]:
    """The device-side ports that lead to the proxy (none in WireGuard mode)."""
    ports: set[int] = set()
    proxy = run.get("proxy")
    if wireguard_mode(run):
        return ports
    if isinstance(proxy, dict):
        for key in ("port", "device_port"):
            if isinstance(proxy.get(key), int) and not isinstance(proxy.get(key), bool):
                ports.add(int(proxy[key]))
    entries = journal.get("entries") if isinstance(journal, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kind") != "reverse":
            continue
        undo = entry.get("undo") if isinstance(entry.get("undo"), dict) else {}
        match = _TCP.match(str(undo.get("remote", "")))
        if match:
            ports.add(int(match.group(1)))
    return ports


def wireguard_mode(run: dict[str, Any]) -> bool:
    """Whether the run captured through mitmproxy's WireGuard mode (run.json `proxy.mode`)."""
    proxy = run.get("proxy")
    return isinstance(proxy, dict) and proxy.get("mode") == WIREGUARD


def responders(zone: Zone | None) -> dict[tuple[str, int], tuple[str, str]]:
    """(responder ip, port) -> (host, world ip) of a contained zone."""
    out: dict[tuple[str, int], tuple[str, str]] = {}
    if zone is None:
        return out
    for host in zone.hosts.values():
        for ip, port in host.ports.values():
            out.setdefault((ip, port), (host.name, host.world_ip))
    return out


def _loopback(ip: Any) -> bool:
    try:
        return ipaddress.ip_address(str(ip)).is_loopback
    except ValueError:
        return False


def mark_connects(connects: pd.DataFrame, ports_by_run: dict[str, set[int]],
                  zone_by_run: dict[str, dict[tuple[str, int], tuple[str, str]]]) -> pd.DataFrame:
    """connects + to_proxy, bypass, dest_host and dest_ip columns."""
    c = connects.copy()
    n = len(c)
    to_proxy = np.zeros(n, dtype=bool)
    bypass = np.zeros(n, dtype=bool)
    dest_host = c["host"].astype(object).where(c["host"].notna(), None).to_numpy(copy=True)
    dest_ip = c["ip"].astype(object).where(c["ip"].notna(), None).to_numpy(copy=True)
    ips = c["ip"].astype(object).to_numpy()
    ports = c["port"].astype("float64").to_numpy()
    runs = c["run_id"].astype(object).to_numpy()
    valid = pd.notna(ips) & ~np.isnan(ports)
    loop = {ip: _loopback(ip) for ip in pd.unique(ips[valid])}
    is_loop = np.array([loop.get(ip, False) if ok else False for ip, ok in zip(ips, valid, strict=True)], dtype=bool)
    not_traffic = np.isin(ports, list(NOT_TRAFFIC_PORTS))
    for run in pd.unique(runs):
        proxy = ports_by_run.get(run) or set()
        if not proxy:
            continue  # without the proxy's port nothing tells through from around
        in_run = (runs == run) & valid
        through = in_run & is_loop & np.isin(ports, list(proxy))
        to_proxy |= through
        bypass |= in_run & ~through & ~not_traffic
    responders_known = any(zone_by_run.values())
    for i in np.flatnonzero(bypass) if responders_known else ():
        target = zone_by_run.get(runs[i], {}).get((ips[i], int(ports[i])))
        if target is not None:
            if not dest_host[i] or _loopback(dest_host[i]):
                dest_host[i] = target[0]
            dest_ip[i] = target[1]
    for col, value in (("proxied", False), ("bypassed_proxy", True)):
        if col in c:
            said = c[col].eq(value).fillna(False).to_numpy(dtype=bool)
            bypass |= said
            to_proxy &= ~said
    if "proxied" in c:
        said_proxied = c["proxied"].eq(True).fillna(False).to_numpy(dtype=bool)
        bypass &= ~said_proxied
    c["to_proxy"] = to_proxy
    c["bypass"] = bypass
    c["dest_host"] = dest_host
    c["dest_ip"] = dest_ip
    return c


def one_per_connect(events: pd.DataFrame) -> pd.DataFrame:
    """The Java Socket hook and the libc hook both see one connect(): one row per socket
    (same process, address and port within a second)."""
    if events.empty:
        return events
    keys = [k for k in ("run_id", "pid", "ip", "port") if k in events]
    ordered = events.sort_values("ts", kind="stable")
    gap = ordered.groupby(keys, dropna=False)["ts"].diff()
    return ordered[~(gap < 1.0)]


def bypassed_frame(marked: pd.DataFrame, flows: pd.DataFrame,
                   geo_configs: dict[str, GeoConfig | None] | None = None,
                   policies: dict[str, tuple[str | None, frozenset[str]] | None] | None = None) -> pd.DataFrame:
    """One row per connection that went around the proxy, with geo from flows to the same IP."""
    geo_configs = geo_configs or {}
    policies = policies or {}
    if marked.empty or "bypass" not in marked:
        return pd.DataFrame(columns=BYPASS_COLUMNS)
    events = one_per_connect(marked[marked["bypass"]])
    out = pd.DataFrame({
        "run_id": events["run_id"], "ts": events["ts"], "device": events["device"],
        "app": events["package"].fillna("unattributed"),
        "destination": events["dest_host"].fillna(events["dest_ip"]).fillna("(unknown)").astype(str).str.lower(),
        "host": events["host"], "ip": events["ip"], "port": events["port"], "server_ip": events["dest_ip"],
        "hook_id": events["hook_id"] if "hook_id" in events else None,
    }).reset_index(drop=True)
    return located(out, flows, geo_configs, policies, "bypassed_proxy")[BYPASS_COLUMNS]


def located(out: pd.DataFrame, flows: pd.DataFrame, geo_configs: dict[str, GeoConfig | None],
            policies: dict[str, tuple[str | None, frozenset[str]] | None], flag: str) -> pd.DataFrame:
    """Connect rows (run_id, server_ip) + country, org, org_country (from flows to the same
    IP, else the lab's geo sources) and `flags`: `flag`, then foreign/watch-list by policy."""
    geo = flows[["server_ip", "country", "org", "org_country"]].dropna(subset=["server_ip"])
    geo = geo.drop_duplicates(subset=["server_ip"])
    out = out.merge(geo, how="left", on="server_ip")
    missing = out["country"].isna() & out["server_ip"].notna()
    if missing.any():  # no flow went there: ask the lab's geo sources, as the proxy would have
        out = out.astype({c: object for c in ("country", "org", "org_country")})
        locators: dict[str, GeoLocator] = {}
        for i in np.flatnonzero(missing.to_numpy()):
            run = out.at[i, "run_id"]
            if run not in locators:
                locators[run] = GeoLocator(geo_configs.get(run))
            answer = locators[run].locate(str(out.at[i, "server_ip"]))
            out.at[i, "country"] = answer.country or answer.label
            out.at[i, "org"] = answer.org
            out.at[i, "org_country"] = answer.org_country
    out["flags"] = [_flags(flag, country, policies.get(run))
                    for run, country in zip(out["run_id"], out["country"], strict=True)]
    return out


def _flags(first: str, country: Any, policy: tuple[str | None, frozenset[str]] | None) -> str:
    flags = [first]
    if policy is None or not isinstance(country, str) or len(country) != 2:
        return ",".join(flags)
    jurisdiction, watchlist = policy
    if jurisdiction and country != jurisdiction:
        flags.append("foreign")
    if country in watchlist:
        flags.append("watchlist_country")
    return ",".join(flags)


def lab_policy(run: dict[str, Any]) -> tuple[str | None, frozenset[str]] | None:
    """(jurisdiction, watch-list countries) from run.json's lab snapshot."""
    lab = run.get("lab")
    if not isinstance(lab, dict):
        return None
    policy = lab.get("policy") if isinstance(lab.get("policy"), dict) else {}
    watch = policy.get("watchlist_countries") if isinstance(policy.get("watchlist_countries"), list) else []
    jurisdiction = lab.get("jurisdiction") if isinstance(lab.get("jurisdiction"), str) else None
    return jurisdiction, frozenset(str(c) for c in watch)


def geo_config(run: dict[str, Any]) -> GeoConfig | None:
    """The lab's geo settings as the run recorded them (run.json's lab snapshot), if valid."""
    lab = run.get("lab")
    geo = lab.get("geo") if isinstance(lab, dict) else None
    if not isinstance(geo, dict):
        return None
    try:
        return GeoConfig.model_validate(geo)
    except ValidationError:
        return None

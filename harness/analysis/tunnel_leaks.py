"""Connections that went around the WireGuard tunnel: what Frida saw and the proxy did not.

In WireGuard mode (run.json `proxy.mode: wireguard`) the tunnel carries every packet of
the handset to the proxy, and each connect() an app makes (TCP, or UDP) goes to the real
server's address. So every `net:connect` of a hooked app should come back as a flow of
some kind (http, tcp, udp, quic, dns, tls_failed, error) to the same address and port,
starting within WINDOW seconds (the handset's clock and the lab's differ a little). A
connect none explains is a leak around the tunnel (`tunnel_leak`), expected: none.

A connect also matches a flow to one of the names of its address (what DNS gave the
handset, as the proxy's flows and Frida's `net:resolve` events tell it) on the same port,
so an address the proxy knew by name is not a leak. Connects to loopback, to an
unspecified address, to port 0 (a UDP socket connected only to pick a source address) or
to the handset's own addresses (in the tunnel: run.json `proxy.wireguard.client_addresses`
and the flows' client addresses) or the tunnel's own endpoint carry nothing to check.

Explicit-mode runs are not checked here: their connects are bypass.py's.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis.bypass import located, one_per_connect, wireguard_mode
from harness.config import GeoConfig

WINDOW = 10.0
LEAK = "tunnel_leak"
LEAK_COLUMNS = ["run_id", "ts", "device", "app", "destination", "host", "ip", "port", "country", "org",
                "org_country", "flags", "hook_id"]
_SEP = "\x1f"


def _address(value: Any) -> str | None:
    """An IP address in one spelling (IPv4-mapped IPv6 as IPv4), or None if it is none."""
    try:
        ip = ipaddress.ip_address(str(value).strip("[]"))
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return str(mapped or ip)


def _addresses(values: pd.Series) -> pd.Series:
    """_address of each value, computed once per distinct value."""
    uniq = pd.unique(values.dropna().astype(str))
    table = {v: _address(v) for v in uniq}
    return values.astype(object).map(table)


def _silent(ip: str | None) -> bool:
    """Loopback or unspecified: nothing that could leave the handset."""
    if ip is None:
        return False
    addr = ipaddress.ip_address(ip)
    return addr.is_loopback or addr.is_unspecified


def own_addresses(run: dict[str, Any], flows: pd.DataFrame) -> set[str]:
    """The handset's own addresses in the tunnel, and the tunnel endpoint's `ip:port`."""
    out: set[str] = set()
    proxy = run.get("proxy") if isinstance(run.get("proxy"), dict) else {}
    wg = proxy.get("wireguard") if isinstance(proxy.get("wireguard"), dict) else {}
    listed = wg.get("client_addresses")
    for value in listed if isinstance(listed, list) else []:
        ip = _address(value)
        if ip:
            out.add(ip)
    endpoint = wg.get("endpoint")
    if isinstance(endpoint, str) and ":" in endpoint:
        host, _, port = endpoint.rpartition(":")
        ip = _address(host)
        if ip and port.isdigit():
            out.add(f"{ip}:{int(port)}")
    if "client_ip" in flows:
        out |= {ip for ip in _addresses(flows["client_ip"]).dropna()}
    return out


def _names(flows: pd.DataFrame, resolves: pd.DataFrame) -> pd.DataFrame:
    """run_id, ip, name: the names each address went by in a run (the flows' hosts and SNIs
    to it, the names the proxy's DNS map gave a flow, the DNS answers the proxy recorded,
    and Frida's resolver answers)."""
    parts = []
    for col in ("host", "sni", "dns_names"):
        if col in flows:
            named = flows.assign(name=flows[col].fillna("").astype(str).str.split(", ")).explode("name") \
                if col == "dns_names" else flows.assign(name=flows[col])
            parts.append(pd.DataFrame({"run_id": named["run_id"].to_numpy(), "ip": named["_ip"].to_numpy(),
                                       "name": named["name"].to_numpy()}))
    if "dns_answers" in flows and "dns_name" in flows:  # a DNS flow: its answers are the name's addresses
        answered = flows[flows["dns_name"].notna()]
        answered = answered.assign(ip=answered["dns_answers"].fillna("").astype(str).str.split(", ")).explode("ip")
        parts.append(pd.DataFrame({"run_id": answered["run_id"].to_numpy(),
                                   "ip": _addresses(answered["ip"]).to_numpy(),
                                   "name": answered["dns_name"].to_numpy()}))
    if len(resolves) and "value" in resolves:
        answers = resolves.assign(ip=resolves["value"].astype(str).str.split(",")).explode("ip")
        parts.append(pd.DataFrame({"run_id": answers["run_id"].to_numpy(),
                                   "ip": _addresses(answers["ip"].str.strip()).to_numpy(),
                                   "name": answers["host"].to_numpy()}))
    if not parts:
        return pd.DataFrame(columns=["run_id", "ip", "name"])
    names = pd.concat(parts, ignore_index=True).dropna()
    names["name"] = names["name"].astype(str).str.lower().str.rstrip(".")
    names = names[(names["name"] != "") & _addresses(names["name"]).isna()]
    return names.drop_duplicates()


def _matched(connects: pd.DataFrame, flows: pd.DataFrame, names: pd.DataFrame) -> np.ndarray:
    """Whether each connect has a flow to its address (or one of its names) and port within WINDOW."""
    n = len(connects)
    port = connects["port"].astype("int64").astype(str).to_numpy()
    left = [pd.DataFrame({"_c": np.arange(n), "ts": connects["ts"].to_numpy(dtype=float),
                          "k": connects["run_id"].astype(str).to_numpy() + _SEP + "ip:" + connects["_ip"].to_numpy()
                          + _SEP + port})]
    by_name = pd.DataFrame({"_c": np.arange(n), "run_id": connects["run_id"].to_numpy(),
                            "ip": connects["_ip"].to_numpy(), "ts": connects["ts"].to_numpy(dtype=float),
                            "port": port})
    named = by_name.merge(names, how="inner", on=["run_id", "ip"])
    own = connects["host"].astype(object).where(connects["host"].notna(), None)
    own_name = own.astype(str).str.lower().str.rstrip(".").where(own.notna() & _addresses(own).isna())
    given = by_name.assign(name=own_name.to_numpy()).dropna(subset=["name"])
    for frame in (named, given):
        if len(frame):
            left.append(pd.DataFrame({"_c": frame["_c"].to_numpy(), "ts": frame["ts"].to_numpy(dtype=float),
                                      "k": frame["run_id"].astype(str).to_numpy() + _SEP + "name:"
                                      + frame["name"].astype(str).to_numpy() + _SEP + frame["port"].to_numpy()}))
    fport = flows["server_port"].astype("int64").astype(str).to_numpy()
    times = [flows["ts_start"].to_numpy(dtype=float, na_value=np.nan)]
    if "ts_client_connect" in flows:  # when the proxy accepted the connection, if recorded
        times.append(flows["ts_client_connect"].to_numpy(dtype=float, na_value=np.nan))
    keys = [flows["run_id"].astype(str).to_numpy() + _SEP + "ip:" + flows["_ip"].to_numpy() + _SEP + fport]
    for col in ("host", "sni"):
        name = flows[col].astype(object)
        ok = (name.notna() & _addresses(name).isna()).to_numpy()
        spelled = name.where(ok, "").astype(str).str.lower().str.rstrip(".").to_numpy()
        keys.append(np.where(ok, flows["run_id"].astype(str).to_numpy() + _SEP + "name:" + spelled + _SEP + fport,
                             None))
    right = pd.concat([pd.DataFrame({"t": t, "k": k}) for t in times for k in keys], ignore_index=True)
    right = right.dropna().astype({"t": float, "k": str})
    lhs = pd.concat(left, ignore_index=True)
    out = np.zeros(n, dtype=bool)
    if right.empty or lhs.empty:
        return out
    merged = pd.merge_asof(lhs.sort_values("ts"), right.sort_values("t"), left_on="ts", right_on="t", by="k",
                           direction="nearest", tolerance=WINDOW)
    out[merged.loc[merged["t"].notna(), "_c"].to_numpy(dtype=int)] = True
    return out


def tunnel_leaks(events: pd.DataFrame, flows: pd.DataFrame, runs: dict[str, dict[str, Any]],
                 geo_configs: dict[str, GeoConfig | None] | None = None,
                 policies: dict[str, tuple[str | None, frozenset[str]] | None] | None = None,
                 ) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """(one row per connect that went around the tunnel, the check: {runs, connections,
    leaks}) for the WireGuard-mode runs among `runs` (run_id -> run.json); the check is
    None when no run was in WireGuard mode. events: the Frida network events (run_id,
    hook_id, ts, device, type, package, host, ip, port, value); flows: the flows frame."""
    checked = sorted(r for r, run in runs.items() if wireguard_mode(run))
    if not checked:
        return pd.DataFrame(columns=LEAK_COLUMNS), None
    kinds = events["type"] if "type" in events else pd.Series("", index=events.index, dtype=object)
    in_runs = events["run_id"].isin(checked) if "run_id" in events else kinds.isna()
    connects = events[in_runs & (kinds == "net:connect")]
    resolves = events[in_runs & (kinds == "net:resolve")]
    connects = connects.assign(_ip=_addresses(connects["ip"]) if len(connects) else None)
    ports = pd.to_numeric(connects["port"], errors="coerce") if len(connects) else pd.Series(dtype=float)
    connects = connects[connects["_ip"].notna() & connects["ts"].notna() & (ports > 0) & (ports < 65536)]
    f = flows[flows["run_id"].isin(checked)]
    f = f.assign(_ip=_addresses(f["server_ip"]))
    silent = {ip: _silent(ip) for ip in pd.unique(connects["_ip"])}
    keep = ~connects["_ip"].map(silent).astype(bool)
    for run in checked:  # the handset's own addresses and the tunnel's endpoint
        own = own_addresses(runs[run], f[f["run_id"] == run])
        mine = connects["run_id"] == run
        at = connects["_ip"] + ":" + connects["port"].astype("int64").astype(str)
        keep &= ~(mine & (connects["_ip"].isin(own) | at.isin(own)))
    connects = one_per_connect(connects[keep]).reset_index(drop=True)
    f = f[f["_ip"].notna() & f["server_port"].notna()]
    leak = ~_matched(connects, f, _names(f, resolves)) if len(connects) else np.zeros(0, dtype=bool)
    check = {"runs": checked, "connections": int(len(connects)), "leaks": int(leak.sum())}
    if not leak.any():
        return pd.DataFrame(columns=LEAK_COLUMNS), check
    return _rows(connects[leak], f, resolves, geo_configs or {}, policies or {}), check


def _rows(leaks: pd.DataFrame, flows: pd.DataFrame, resolves: pd.DataFrame,
          geo_configs: dict[str, GeoConfig | None],
          policies: dict[str, tuple[str | None, frozenset[str]] | None]) -> pd.DataFrame:
    """The leak table: destination = the name the app gave, else a name of the address, else it."""
    names = _names(flows, resolves).drop_duplicates(subset=["run_id", "ip"], keep="last")
    host = leaks["host"].astype(object)
    given = host.where(host.notna() & _addresses(host).isna())
    known = leaks[["run_id", "_ip"]].merge(names.rename(columns={"ip": "_ip"}), how="left",
                                           on=["run_id", "_ip"])["name"].to_numpy()
    destination = given.fillna(pd.Series(known, index=leaks.index)).fillna(leaks["_ip"])
    out = pd.DataFrame({
        "run_id": leaks["run_id"], "ts": leaks["ts"], "device": leaks["device"],
        "app": leaks["package"].fillna("unattributed"), "destination": destination.astype(str).str.lower(),
        "host": leaks["host"], "ip": leaks["_ip"], "port": leaks["port"].astype("int64"),
        "server_ip": leaks["_ip"], "hook_id": leaks["hook_id"] if "hook_id" in leaks else None,
    }).reset_index(drop=True)
    out = located(out, flows, geo_configs, policies, LEAK)
    return out.sort_values(["ts", "app"], kind="stable").reset_index(drop=True)[LEAK_COLUMNS]


def check_line(check: dict[str, Any] | None) -> str | None:
    """The cross-check in one line, or None when no run was in WireGuard mode."""
    if not check:
        return None
    n, leaks = int(check["connections"]), int(check["leaks"])
    saw = f"Frida saw {n} connection{'' if n == 1 else 's'}"
    if not leaks:
        return f"{saw}; all went through the tunnel" if n else f"{saw} to check against the tunnel"
    return f"{saw}; {leaks} went around the tunnel (leak)"

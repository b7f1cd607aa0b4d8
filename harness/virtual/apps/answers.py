"""Answers to the app JVMs' stub calls, read from the handset state at call time.

The state is duck-typed (harness.virtual.state.HandsetState): `identifiers`, `settings`,
`http_proxy()`, `trusted_ca_pems(include_user)`, `contacts`, `sms`, `tables["calls"]`,
`accounts`, `packages`, `clipboard`, `location`, `props`, `sdk`, `device_loopback`, `lock`,
and optionally `logcat(level, pid, tag, message)`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

IDENTIFIERS = ("imei", "imsi", "iccid", "phone", "serial", "android_id", "wifi_mac", "bt_mac",
               "advertising_id")
SIM_IDENTIFIERS = ("imsi", "iccid", "phone")  # null while no SIM is in (TelephonyManager)
DEFAULT_BSSID = "a4:2b:b0:5e:11:c7"
DEFAULT_SSID = "LabNet"


class StateAnswers:
    def __init__(self, state: Any, resolve: Callable[[str, int], str | None],
                 sends: Callable[[str], list[dict[str, Any]]], pid_of: Callable[[str], int | None]) -> None:
        self.state = state
        self._resolve = resolve
        self._sends = sends
        self._pid_of = pid_of

    def _lock(self) -> Any:
        lock = getattr(self.state, "lock", None)
        return lock if lock is not None else contextlib.nullcontext()

    def answer(self, package: str, query: str, arg: str | None) -> Any:
        handler = getattr(self, f"_q_{query}", None)
        if handler is None:
            raise LookupError(f"unknown query {query!r}")
        with self._lock():
            return handler(package, arg)

    # --- environment -----------------------------------------------------------------
    def _q_env(self, package: str, arg: str | None) -> dict[str, Any]:
        props = getattr(self.state, "props", {}) or {}
        return {
            "package": package,
            "sends": self._sends(package),
            "model": props.get("ro.product.model", "Virtual"),
            "manufacturer": props.get("ro.product.manufacturer", "Virtual"),
            "fingerprint": props.get("ro.build.fingerprint", ""),
            "build_id": props.get("ro.build.id", ""),
            "release": props.get("ro.build.version.release", ""),
            "sdk": str(getattr(self.state, "sdk", 33)),
            "operator": props.get("gsm.operator.alpha", ""),
            "device_loopback": getattr(self.state, "device_loopback", "127.0.0.1"),
        }

    def _q_id(self, package: str, arg: str | None) -> str | None:
        ids = self.state.identifiers
        if arg == "android_id":
            secure = self.state.settings.get("secure", {})
            return secure.get("android_id") or ids.get("android_id")
        if arg == "bssid":
            return ids.get("bssid", DEFAULT_BSSID)
        if arg == "ssid":
            return ids.get("ssid", DEFAULT_SSID)
        if arg not in IDENTIFIERS:
            raise LookupError(f"no identifier {arg!r}")
        if arg in SIM_IDENTIFIERS and not getattr(self.state, "sim_present", True):
            return None
        return ids.get(arg)

    def _q_setting(self, package: str, arg: str | None) -> str | None:
        namespace, _, name = (arg or "").partition("/")
        return self.state.settings.get(namespace, {}).get(name)

    def _q_proxy(self, package: str, arg: str | None) -> str | None:
        return self.state.http_proxy()

    # --- providers -------------------------------------------------------------------
    def _q_contacts(self, package: str, arg: str | None) -> list[dict[str, Any]]:
        return [{"_id": c.get("id"), "display_name": c.get("name"), "data1": c.get("phone"),
                 "email": c.get("email")} for c in self.state.contacts]

    def _q_sms(self, package: str, arg: str | None) -> list[dict[str, Any]]:
        return [dict(r) for r in self.state.sms]

    def _q_call_log(self, package: str, arg: str | None) -> list[dict[str, Any]]:
        tables = getattr(self.state, "tables", {}) or {}
        return [dict(r) for r in tables.get("calls", [])]

    def _q_accounts(self, package: str, arg: str | None) -> list[dict[str, Any]]:
        return [{"name": a.get("name"), "type": a.get("type")} for a in self.state.accounts]

    def _q_packages(self, package: str, arg: str | None) -> list[dict[str, Any]]:
        return [{"name": name, "version": getattr(p, "version_name", None)}
                for name, p in self.state.packages.items()]

    def _q_clipboard(self, package: str, arg: str | None) -> str | None:
        return self.state.clipboard

    def _q_location(self, package: str, arg: str | None) -> dict[str, float] | None:
        loc = self.state.location
        if not loc or self.state.settings.get("secure", {}).get("location_mode") == "0":
            return None  # with location off, LocationManager gives no last known location
        lat = loc.get("lat", loc.get("latitude"))
        lon = loc.get("lon", loc.get("lng", loc.get("longitude")))
        if lat is None or lon is None:
            return None
        return {"lat": float(lat), "lon": float(lon)}

    # --- network ---------------------------------------------------------------------
    def _q_cacerts(self, package: str, arg: str | None) -> list[str]:
        pems = self.state.trusted_ca_pems(include_user=(arg == "user"), package=package)
        out = []
        for pem in pems:
            try:
                out.append(pem.decode("ascii"))
            except UnicodeDecodeError:
                continue  # not a PEM file: Android skips it too
        return out

    def _q_resolve(self, package: str, arg: str | None) -> str | None:
        host, _, port = (arg or "").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad host:port {arg!r}")
        return self._resolve(host, int(port))

    def _q_log(self, package: str, arg: str | None) -> None:
        level, _, rest = (arg or "").partition("\t")
        tag, _, message = rest.partition("\t")
        logcat = getattr(self.state, "logcat", None)
        if logcat is not None:
            logcat(level[:1] or "I", self._pid_of(package) or 0, tag, message)
        return None

"""mitmproxy in-process with the lab's addons, in its own thread and event loop.

    with Proxy(lab, capture_dir=run_dir, device=serial, canaries=run_dir / "canaries.json") as proxy:
        proxy.port, proxy.ca_cert_path, proxy.stats.snapshot()

Listens on the lab's `proxy.listen_host` (127.0.0.1 by default) and `proxy.port` (0: a
free port, read back after start). Each lab has its own mitmproxy confdir and CA (under
the lab's state_dir unless `proxy.confdir` says otherwise). A non-loopback address
needs a client allowlist or proxy authentication. mitmproxy keeps its context in module
globals, so one Proxy runs per process at a time (run handsets' proxies in separate
processes, or one after the other).

WireGuard mode (`mode="wireguard"`, or lab.yaml's `proxy.mode`): instead of an HTTP
proxy, mitmproxy's WireGuard server (UDP) on `proxy.wireguard_host` (or the address of
`proxy.wireguard_interface`) and `proxy.wireguard_port` (0: a free port), with this
handset's own keys (harness.proxy.wireguard, under state_dir). Every packet of the
handset comes through it: HTTP(S), HTTP/3, DNS, raw TCP and UDP, each recorded.

    with Proxy(lab, capture_dir=d, device=serial, mode="wireguard") as proxy:
        proxy.tunnel.wg_quick()       # the client's config (wg-quick text)
        proxy.tunnel.endpoint         # "127.0.0.1:PORT"
        proxy.run_info()              # for run.json: mode, endpoint, block_quic, network
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from pathlib import Path
from typing import Any, ClassVar

from mitmproxy import exceptions, options
from mitmproxy.tools.dump import DumpMaster

from addons.audit import Audit
from addons.flowlog import FlowLog
from harness.config import LabConfig, NetworkMode
from harness.config.proxy import CaptureMode
from harness.errors import ProxyError
from harness.names import file_name
from harness.proxy.drain import drain
from harness.proxy.stats import LogTail, ProxyStats
from harness.proxy.wireguard import (
    CLIENT_ADDRESS,
    CLIENT_ADDRESS6,
    Tunnel,
    WireGuardKeys,
    handset_keys,
    interface_address,
    keys_path,
)

CA_CERT = "mitmproxy-ca-cert.pem"  # the certificate alone: what a handset installs
CA_KEYPAIR = "mitmproxy-ca.pem"  # certificate and private key: never leaves the host


class _Ready:
    """Tells the starting thread that the servers are up, and where."""

    def __init__(self, proxy: Proxy):
        self.proxy = proxy

    def running(self) -> None:
        server = self.proxy._master.addons.get("proxyserver") if self.proxy._master else None
        self.proxy._listen = list(server.listen_addrs()) if server else []
        self.proxy._ready.set()


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Tasks left by a failed start (mitmproxy exits mid-setup) end quietly."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def check_bind(lab: LabConfig, host: str) -> None:
    """Refuse an open proxy on a lab network (LabConfig checks too; this is the last gate)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError as e:
        raise ProxyError(f"proxy listen_host {host!r} is not an IP address") from e
    reason = lab.proxy.open_proxy_reason(str(address))
    if reason:  # also when listen_host is overridden: lab.yaml was checked for its own
        raise ProxyError(f"refusing to listen on {host}: {reason} (proxy section of lab.yaml)")


def default_confdir(lab: LabConfig) -> Path:
    """Where the lab's proxy keeps its confdir and CA: proxy.confdir, else
    <state_dir>/mitmproxy/<lab name> (`lab prepare` looks for the CA there too)."""
    return Path(lab.proxy.confdir or lab.state_dir / "mitmproxy" / file_name(lab.name, "lab"))


class Proxy:
    _in_process: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        lab: LabConfig,
        *,
        capture_dir: Path | None = None,
        device: str | None = None,
        canaries: Path | None = None,
        zone: Path | None = None,
        confdir: Path | None = None,
        listen_host: str | None = None,
        port: int | None = None,
        scan_responses: bool = False,
        mode: CaptureMode | str | None = None,
        wireguard_keys: Path | None = None,
        start_timeout: float = 30.0,
        drain_grace: float = 2.0,
        close_timeout: float = 5.0,
    ):
        self.lab = lab
        self.capture_dir = capture_dir
        self.device = device
        self.canaries = canaries
        self.listen_host = listen_host or lab.proxy.listen_host
        self.requested_port = lab.proxy.port if port is None else port
        self.confdir = Path(confdir or default_confdir(lab))
        self.zone = zone or lab.proxy.zone
        self.scan_responses = scan_responses
        self.start_timeout = start_timeout
        self.drain_grace = drain_grace
        self.close_timeout = close_timeout
        self.stats = ProxyStats()
        # auto is the run's to resolve (ProxyConfig.capture_mode: can the handset make the
        # tunnel?) and pass as `mode`; left unresolved, the proxy is the explicit one
        self.mode = CaptureMode(mode or lab.proxy.mode)
        if self.mode == CaptureMode.AUTO:
            self.mode = CaptureMode.EXPLICIT
        self.block_quic = lab.proxy.block_quic
        self._keys: WireGuardKeys | None = None
        self._tunnel: Tunnel | None = None
        if self.mode == CaptureMode.WIREGUARD:
            self.listen_host = (
                listen_host or (interface_address(lab.proxy.wireguard_interface)
                                if lab.proxy.wireguard_interface else lab.proxy.wireguard_host))
            self.requested_port = lab.proxy.wireguard_port if port is None else port
            reason = lab.proxy.open_wireguard_reason(self.listen_host)
            if reason:
                raise ProxyError(f"refusing to listen on {self.listen_host}: {reason} (proxy section of lab.yaml)")
            self._keys = handset_keys(wireguard_keys or keys_path(lab.state_dir, lab.name, device))
        else:
            check_bind(lab, self.listen_host)
        if lab.proxy.network == NetworkMode.CONTAINED and self.zone is None:
            raise ProxyError("contained network mode needs a zone file (proxy.zone in lab.yaml or zone=)")
        self._master: DumpMaster | None = None
        self._flowlog: FlowLog | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._listen: list[tuple[str, int]] = []
        self._failure: BaseException | None = None
        self._log = LogTail()
        self._owns_process_slot = False

    # -- options --------------------------------------------------------------------------

    def audit_options(self) -> dict[str, Any]:
        lab = self.lab
        opts: dict[str, Any] = {
            "audit_jurisdiction": lab.jurisdiction,
            "audit_allowed_countries": list(lab.policy.allowed_countries),
            "audit_watchlist": list(lab.policy.watchlist_countries),
            "audit_allowed_domains": list(lab.policy.allowed_domains),
            "audit_geo_sources": list(lab.geo.sources),
            "audit_geo_overrides": [
                f"{o.cidr}={o.country}:{o.org or ''}:{o.org_country or ''}" for o in lab.geo.overrides
            ],
            "audit_geo_mmdb": str(lab.geo.mmdb) if lab.geo.mmdb else "",
            "audit_canaries": str(self.canaries) if self.canaries else "",
            "audit_max_body_bytes": lab.proxy.max_body_bytes,
            "audit_scan_responses": self.scan_responses,
            "audit_capture_dir": str(self.capture_dir) if self.capture_dir else "",
            "audit_device": self.device or "",
            "audit_client_allowlist": list(lab.proxy.client_allowlist),
            "audit_zone": str(self.zone) if self.zone and lab.proxy.network == NetworkMode.CONTAINED else "",
            "audit_block_quic": self.block_quic,
        }
        return opts

    def mitm_options(self) -> dict[str, Any]:
        lab = self.lab
        upstream_ca = lab.proxy.upstream_ca
        opts: dict[str, Any] = {
            "listen_host": self.listen_host,
            "listen_port": self.requested_port,
            "confdir": str(self.confdir),
            "stream_large_bodies": str(lab.proxy.max_body_bytes),
            "ssl_insecure": False,
        }
        if self._keys is not None:
            host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
            opts["mode"] = [f"wireguard:{self._keys.path}@{host}:{self.requested_port}"]
            if lab.proxy.network == NetworkMode.CONTAINED:
                # eager would connect upstream before any hook could send it to a responder
                opts["connection_strategy"] = "lazy"
        if upstream_ca and lab.proxy.network != NetworkMode.CONTAINED:
            # contained: the responders are verified against the zone's CA (containment addon)
            opts["ssl_verify_upstream_trusted_ca"] = str(upstream_ca)
        if lab.proxy.auth:
            opts["proxyauth"] = lab.proxy.auth
        return opts

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Proxy:
        if self._thread is not None:
            raise ProxyError("this proxy was already started")
        if not Proxy._in_process.acquire(blocking=False):
            raise ProxyError("another Proxy is running in this process (mitmproxy allows one per process)")
        self._owns_process_slot = True
        try:
            self.confdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as e:
            self._release()
            raise ProxyError(f"cannot create the proxy confdir {self.confdir}: {e}") from e
        logging.getLogger().addHandler(self._log)
        self._thread = threading.Thread(target=self._thread_main, name="lab-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(self.start_timeout):
            self.stop()
            raise ProxyError(f"mitmproxy did not start within {self.start_timeout:.0f} s")
        if self._failure is not None or not self._listen:
            failure = self._failure
            self.stop()
            detail = "; ".join(self._log.errors()[-3:]) or (str(failure) if failure else "no listen address")
            raise ProxyError(f"mitmproxy could not start: {detail}") from failure
        return self

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except SystemExit as e:  # mitmproxy's errorcheck exits when startup logged an error
            self._failure = e
        except (exceptions.OptionsError, OSError, ValueError, RuntimeError) as e:
            self._failure = e
        finally:
            self._ready.set()
            _cancel_pending(loop)
            loop.close()

    async def _serve(self) -> None:
        opts = options.Options()
        master = DumpMaster(opts, with_termlog=False, with_dumper=False)
        audit = Audit.standard(on_record=self.stats.record)
        self._flowlog = next(c for c in audit.children if isinstance(c, FlowLog))
        master.addons.add(audit, _Ready(self))
        opts.update(**self.mitm_options())
        opts.update(**self.audit_options())
        self._master = master
        await master.run()

    async def _wind_down(self, master: DumpMaster) -> None:
        """Drain the live connections, then let mitmproxy send `done` (the flow log
        closes its files there): a flow finishing during the stop is still recorded."""
        flowlog = self._flowlog
        try:
            await drain(master, lambda: flowlog.in_flight if flowlog else 0, self.drain_grace, self.close_timeout)
        finally:
            master.should_exit.set()

    def stop(self) -> None:
        master, thread, loop = self._master, self._thread, getattr(self, "_loop", None)
        if master is not None and thread is not None and thread.is_alive() and loop is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._wind_down(master), loop)
            except RuntimeError:  # the loop is already closed
                pass
        if thread is not None:
            thread.join(timeout=self.drain_grace + self.close_timeout + 15)
        logging.getLogger().removeHandler(self._log)
        self._release()

    def _release(self) -> None:
        if self._owns_process_slot:
            self._owns_process_slot = False
            Proxy._in_process.release()

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the orchestrator needs ------------------------------------------------------

    def set_canaries(self, path: Path, timeout: float = 30.0) -> None:
        """Load a new canaries.json into the running scanner (prepare plants them after
        the proxy is up); the option is updated on the proxy's own event loop."""
        master, loop = self._master, getattr(self, "_loop", None)
        if master is None or loop is None or loop.is_closed():
            raise ProxyError("the proxy is not running")

        async def update() -> None:
            master.options.update(audit_canaries=str(path))

        try:
            asyncio.run_coroutine_threadsafe(update(), loop).result(timeout)
        except exceptions.OptionsError as e:
            raise ProxyError(f"cannot load canaries {path}: {e}") from e
        except TimeoutError as e:
            raise ProxyError(f"the proxy did not load canaries within {timeout:.0f} s") from e
        self.canaries = path

    @property
    def tunnel(self) -> Tunnel:
        """WireGuard mode: what the handset's client needs (keys, endpoint, wg-quick text)."""
        if self._keys is None:
            raise ProxyError("the proxy is not in WireGuard mode")
        if self._tunnel is None:
            self._tunnel = Tunnel(
                endpoint_host=self.listen_host, endpoint_port=self.port,
                server_public=self._keys.server_public, client_private=self._keys.client_key,
                client_public=self._keys.client_public, keyfile=self._keys.path,
            )
        return self._tunnel

    def run_info(self) -> dict[str, Any]:
        """How the proxy captured, for run.json."""
        info: dict[str, Any] = {
            "mode": self.mode.value, "listen_host": self.listen_host, "port": self.port,
            "network": self.lab.proxy.network.value, "block_quic": self.block_quic,
        }
        if self._keys is not None:
            info["wireguard"] = {"endpoint": self.tunnel.endpoint, "server_public_key": self.tunnel.server_public,
                                 "client_public_key": self.tunnel.client_public,
                                 # the handset's own addresses in the tunnel: a connect to one is no leak
                                 "client_addresses": [a.split("/")[0] for a in (CLIENT_ADDRESS, CLIENT_ADDRESS6)]}
        return info

    @property
    def port(self) -> int:
        if not self._listen:
            raise ProxyError("the proxy is not running")
        return int(self._listen[0][1])

    @property
    def address(self) -> tuple[str, int]:
        return self.listen_host, self.port

    @property
    def url(self) -> str:
        host = self.listen_host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def ca_cert_path(self) -> Path:
        """The CA certificate (PEM, no key) the handset must trust."""
        return self.confdir / CA_CERT

    @property
    def ca_keypair_path(self) -> Path:
        return self.confdir / CA_KEYPAIR

    @property
    def log_tail(self) -> list[str]:
        return list(self._log.lines)

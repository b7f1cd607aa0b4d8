"""The app runner: one real JVM per running virtual app.

`start(pkg)` spawns `java ... com.labvirt.runtime.AppMain` with argv[0] set to the package
name (so /proc/PID/cmdline reads like Android's) and /proc/PID/comm set by the app to the
package's last 15 characters; `pidof`/`ps` come from `running()`. Stub packages are kept
out of the JIT inliner so Frida's Java hooks see every call. Every JVM halts by itself if
the handset process ends (see control.py); `stop`/`shutdown` terminate and reap.

Startup: the first app a runner starts, when no class-data archive exists for the jar yet,
runs with -XX:ArchiveClassesAtExit; when it ends cleanly the archive is moved next to the
cached jar, and every later JVM maps it (-XX:SharedArchiveFile), which cuts launch time.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness.virtual.apps.answers import StateAnswers
from harness.virtual.apps.behaviours import (
    OKHTTP_UA,
    TRIGGERS,
    BehaviourError,
    Behaviours,
    listens,
    parse_behaviours,
    resolve_sends,
    sdk_classes,
)
from harness.virtual.apps.control import ControlServer
from harness.virtual.apps.jar import build_jar
from harness.virtual.handset_network import HandsetNetwork
from harness.virtual.wireguard_app import WireGuardApp

MAIN_CLASS = "com.labvirt.runtime.AppMain"
HOOKABLE_PACKAGES = ("android.*", "com.google.android.gms.*", "okhttp3.*", "com.android.org.conscrypt.*")
JVM_OPTIONS = (
    "-XX:+UseSerialGC", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",
    "-Xss512k", "-Xms8m", "-Xmx64m", "-XX:MaxMetaspaceSize=64m", "-XX:ReservedCodeCacheSize=16m",
    "-XX:-UsePerfData", "-XX:CompileCommand=quiet",
    *(f"-XX:CompileCommand=dontinline,{p}::*" for p in HOOKABLE_PACKAGES),
)
SOURCE_ROOT = Path(__file__).resolve().parents[3]  # where `harness` is importable from
STOP_GRACE = 5.0  # a training JVM writes its class-data archive on the way out


class AppRunner:
    """The AppHost of a handset: real JVM processes for its packages."""

    def __init__(self, state: Any, internet: Any = None, runtime_dir: Path | None = None,
                 java: str | None = None) -> None:
        self.state = state
        self.internet = internet
        if runtime_dir is None and internet is not None and getattr(internet, "zone_path", None):
            runtime_dir = Path(internet.zone_path).parent
        self._own_dir = runtime_dir is None
        self.runtime_dir = Path(runtime_dir) if runtime_dir else Path(tempfile.mkdtemp(prefix="vapps-"))
        self.log_path = self.runtime_dir / "apps.log"
        self._java = java or shutil.which("java") or "java"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.RLock()
        self._control: ControlServer | None = None
        self._jar: Path | None = None
        self._behaviours: dict[str, Behaviours] = {}
        self._training: tuple[subprocess.Popen[bytes], Path, Path] | None = None
        self._answers = StateAnswers(state, self._resolve, self._sends_for, self.pid_of)
        self._install_internet_ca()
        # where the JVMs run: host, or the handset's namespace (behind a firewall: faults.wireguard_blocked)
        self.network = HandsetNetwork(self.runtime_dir, blocked=state.spec.faults.wireguard_blocked)
        self.wireguard = WireGuardApp(state, self.network, self._move_apps)

    # --- setup -----------------------------------------------------------------------
    def _install_internet_ca(self) -> None:
        """The virtual internet's root is part of the image, like a public root CA."""
        ca_pem = getattr(self.internet, "ca_pem", None)
        add = getattr(self.state, "add_system_ca", None)
        if ca_pem is not None and add is not None:
            add(Path(ca_pem).read_bytes())

    def behaviours(self, package: str) -> Behaviours:
        """The package's validated behaviours (BehaviourError when malformed)."""
        with self._lock:
            if package not in self._behaviours:
                pkg = self.state.packages.get(package)
                self._behaviours[package] = parse_behaviours(package, getattr(pkg, "behaviours", None))
            return self._behaviours[package]

    def _all_sdk_classes(self) -> set[str]:
        out: set[str] = set()
        for name in list(self.state.packages):
            try:
                out |= sdk_classes(self.behaviours(name))
            except BehaviourError:
                continue  # reported when that app starts
        return out

    def _ensure_ready(self) -> tuple[Path, ControlServer]:
        with self._lock:
            if self._jar is None or not self._jar.exists():
                self._jar = build_jar(self._all_sdk_classes())
            if self._control is None:
                self._control = ControlServer(self._answers)
            return self._jar, self._control

    def _user_agents(self) -> dict[str, str]:
        props = getattr(self.state, "props", {}) or {}
        dalvik = (f"Dalvik/2.1.0 (Linux; U; Android {props.get('ro.build.version.release', '13')}; "
                  f"{props.get('ro.product.model', 'Virtual')} Build/{props.get('ro.build.id', 'TQ3A')})")
        return {"dalvik": dalvik, "okhttp": OKHTTP_UA}

    def _sends_for(self, package: str) -> list[dict[str, Any]]:
        try:
            b = self.behaviours(package)
        except BehaviourError:
            return []
        return resolve_sends(b, user_agents=self._user_agents(),
                             internet_pin=getattr(self.internet, "ca_pin", None))

    def _resolve(self, host: str, port: int) -> str | None:
        """The responder on 127.0.0.x; in the handset namespace the host's world IP, which
        only the tunnel leads to (the proxy's containment answers it)."""
        if self.internet is None:
            return None
        if self.network.contained:
            zone = self.internet.hosts.get(host.lower())
            return f"{zone.world_ip}:{port}" if zone is not None else None
        return self.internet.resolve(host, port)

    def _move_apps(self) -> None:
        """The running apps start again where the network now is (a VPN coming up or going
        away resets every connection on a phone too)."""
        for name in list(self.running()):
            self.stop(name)
            try:
                reason = "boot" if self.behaviours(name).starts_at_boot else "launch"
                self.start(name, reason=reason)
            except (BehaviourError, LookupError, OSError) as e:
                self._log_error(name, f"not restarted after a VPN change: {e}")

    # --- AppHost ---------------------------------------------------------------------
    def start(self, package: str, activity: str | None = None, reason: str = "launch") -> int:
        if package not in self.running():
            self.wireguard.sync()  # always-on lockdown written since the last start
        with self._lock:
            self._reap()
            proc = self._procs.get(package)
            if proc is not None:
                return proc.pid
            if package not in self.state.packages:
                raise LookupError(f"package {package} is not installed")
            self.behaviours(package)  # a malformed spec fails here, before any process
            jar, control = self._ensure_ready()
            self.runtime_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
            cds, training = self._cds_options(jar)
            try:
                proc = subprocess.Popen(
                    [package, *JVM_OPTIONS, *cds, f"-Dlabvirt.ctl={control.path}", f"-Dlabvirt.pkg={package}",
                     f"-Dlabvirt.reason={reason if reason in TRIGGERS else 'launch'}",
                     "-Djava.io.tmpdir=" + str(self.runtime_dir), *self._network_options(),
                     "-cp", str(jar), MAIN_CLASS],
                    executable=self._java, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.runtime_dir, preexec_fn=self.network.preexec())
            finally:
                log.close()
            self._procs[package] = proc
            if training is not None:
                self._training = (proc, training, _archive_path(jar))
            pid = proc.pid
        started = getattr(self.state, "process_started", None)  # forks the app's mount namespace
        if started is not None:
            started(package)
        return pid

    def _network_options(self) -> list[str]:
        """In the handset namespace or not; the Python that runs quic:// sends (quic_send.py)."""
        return [f"-Dlabvirt.netns={1 if self.network.contained else 0}", f"-Dlabvirt.python={sys.executable}",
                f"-Dlabvirt.pythonpath={SOURCE_ROOT}"]

    def _cds_options(self, jar: Path) -> tuple[list[str], Path | None]:
        archive = _archive_path(jar)
        if archive.exists():
            return [f"-XX:SharedArchiveFile={archive}"], None
        if self._training is not None:
            return [], None
        tmp = archive.with_name(f".{archive.name}.{os.getpid()}.{id(self)}.tmp")
        return [f"-XX:ArchiveClassesAtExit={tmp}"], tmp

    def _after_exit(self, proc: subprocess.Popen[bytes]) -> None:
        """Promote the class-data archive of the training JVM if it ended cleanly."""
        training = self._training
        if training is None or training[0] is not proc:
            return
        self._training = None
        _, tmp, final = training
        if proc.returncode in (0, 143, -signal.SIGTERM) and tmp.exists() and tmp.stat().st_size > 0:
            os.replace(tmp, final)
        else:
            tmp.unlink(missing_ok=True)

    def stop(self, package: str) -> None:
        with self._lock:
            proc = self._procs.pop(package, None)
            if self._control is not None:
                self._control.forget(package)
        if proc is not None:
            _terminate(proc)
            with self._lock:
                self._after_exit(proc)

    def pid_of(self, package: str) -> int | None:
        with self._lock:
            self._reap()
            proc = self._procs.get(package)
            return proc.pid if proc is not None else None

    def running(self) -> dict[str, int]:
        with self._lock:
            self._reap()
            return {name: p.pid for name, p in self._procs.items()}

    def boot(self) -> None:
        self.wireguard.boot()
        for name in list(self.state.packages):
            try:
                if self.behaviours(name).starts_at_boot:
                    self.start(name, reason="boot")
            except BehaviourError as e:
                self._log_error(name, str(e))

    def broadcast(self, event: str) -> list[str]:
        reached = []
        for name in list(self.state.packages):
            try:
                if not listens(self.behaviours(name), event):
                    continue
            except BehaviourError:
                continue
            with self._lock:
                self._reap()
                if name in self._procs and self._control is not None:
                    self._control.notify(name, event)
                    reached.append(name)
                    continue
            try:
                self.start(name, reason=event)
            except (LookupError, OSError, RuntimeError) as e:
                self._log_error(name, f"not started for {event}: {e}")
                continue
            reached.append(name)
        return reached

    def shutdown(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
            self._procs.clear()
            control, self._control = self._control, None
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            _terminate(p)
            with self._lock:
                self._after_exit(p)
        if control is not None:
            control.close()
        self.wireguard.close()  # tunnel down, namespace gone; boot() brings an always-on tunnel back

    def close(self) -> None:
        """shutdown() and remove a runtime dir this runner created itself."""
        self.shutdown()
        if self._own_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)

    # --- helpers ---------------------------------------------------------------------
    def _reap(self) -> None:
        for name, proc in list(self._procs.items()):
            if proc.poll() is not None:
                del self._procs[name]
                if self._control is not None:
                    self._control.forget(name)
                self._after_exit(proc)

    def _log_error(self, package: str, message: str) -> None:
        logcat = getattr(self.state, "logcat", None)
        if logcat is not None:
            logcat("E", 558, "ActivityManager", f"{package}: {message}")


def _archive_path(jar: Path) -> Path:
    return jar.with_suffix(".jsa")


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a grace period; always reaped."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    else:
        proc.wait()


def wait_for(predicate: Any, timeout: float, interval: float = 0.05) -> bool:
    """Poll predicate() until true or timeout (for tests and the benchmark)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())



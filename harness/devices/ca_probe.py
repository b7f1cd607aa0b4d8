"""`lab doctor`'s CA check: is a CA the harness installs trusted where apps really look?

A throwaway probe CA is installed as a run installs the proxy's (install_ca: the tmpfs
over /system/etc/security/cacerts below SDK 34, bound onto the Conscrypt APEX store in
the shell's, the zygotes' and the zygotes' children's mount namespaces from SDK 34),
journaled, and looked for inside every zygote's and every app process's (UID >= 10000)
mount namespace (`nsenter --mount=/proc/PID/ns/mnt -- ls STORE/HASH.0`), not only at the
global path; then everything is undone. An app process the install did not reach (forked
by an app zygote, an isolated process) keeps trusting the store it started with.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from harness.devices.ca import APEX_CACERTS, SYSTEM_CACERTS, CaMethod, install_ca, subject_hash_old
from harness.devices.doctor import Check, Status, passed
from harness.devices.handset import Handset
from harness.devices.info import RootMethod
from harness.devices.journal import Journal
from harness.devices.restore import restore
from harness.devices.shellquote import W, check_path, cmd, commands
from harness.errors import DeviceError, DeviceLostError

FIRST_APPLICATION_UID = 10000
MAX_PROCESSES = 400
MARK = "@@lab-ns@@"


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    uid: int
    name: str

    @property
    def package(self) -> str:
        return self.name.split(":", 1)[0]


def probe_ca() -> bytes:
    """A CA certificate of its own (its subject, so its hash name, is unique)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"lab doctor probe {secrets.token_hex(6)}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=2))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.PEM)


def parse_processes(text: str) -> list[Process]:
    """`ps -A -o PID,PPID,UID,NAME` rows (the header and garbled lines skipped)."""
    out = []
    for line in text.splitlines():
        fields = line.split(None, 3)
        if len(fields) == 4 and all(f.isdigit() for f in fields[:3]):
            out.append(Process(int(fields[0]), int(fields[1]), int(fields[2]), fields[3].strip()))
    return out


def check_ca(handset: Handset, journal: Journal) -> Check:
    """Install the probe CA (journaled in `journal`), look for it, undo it."""
    info = handset.info
    if RootMethod(info.root_method) == RootMethod.NONE:
        return Check("ca", Status.WARN, "not rooted: the proxy's CA can only go to the user store, which apps "
                     "targeting Android 7+ ignore unless their network security config opts in",
                     "root the phone (see root) so the CA goes to the system store")
    pem = probe_ca()
    name = f"{subject_hash_old(pem)}.0"
    try:
        method = install_ca(handset, journal, pem, info.sdk)
        store = APEX_CACERTS if method == CaMethod.SYSTEM_APEX and handset.exists(APEX_CACERTS) else SYSTEM_CACERTS
        result = _look(handset, store, name, method)
    except DeviceLostError:
        raise
    except DeviceError as e:
        result = Check("ca", Status.FAIL, f"installing a probe CA failed: {e}",
                       "see the error; `lab restore` undoes what was done")
    finally:
        try:
            restore(handset, journal)
        except DeviceLostError:
            raise
        except DeviceError as e:
            result = Check("ca", Status.FAIL, f"the probe CA could not be removed again: {e}",
                           f"`lab restore --device {handset.serial}`")
    return result


def _look(handset: Handset, store: str, name: str, method: CaMethod) -> Check:
    path = check_path(f"{store}/{name}")
    processes = parse_processes(handset.sh(cmd(W("ps"), W("-A"), W("-o"), W("PID,PPID,UID,NAME")),
                                           check=False).stdout)
    by_pid = {p.pid: p for p in processes}
    zygotes = [p for p in processes if p.name in ("zygote", "zygote64")]
    apps = [p for p in processes if p.uid >= FIRST_APPLICATION_UID][:MAX_PROCESSES]
    seen = _seen_in_namespaces(handset, [p.pid for p in zygotes + apps], path)
    details = {"method": method.value, "store": store, "zygotes": len(zygotes), "apps": len(apps)}
    missing_zygotes = [p for p in zygotes if p.pid not in seen]
    if missing_zygotes:
        return Check("ca", Status.FAIL, f"the CA is in {store} for the shell but not inside "
                     f"{', '.join(f'{p.name} ({p.pid})' for p in missing_zygotes)}'s mount namespace: apps "
                     "started from now on will not trust it",
                     "this su cannot enter other mount namespaces (nsenter): use Magisk's su, or install "
                     "the CA with a Magisk module at boot", details)
    missing = [p for p in apps if p.pid not in seen]
    if missing:
        shown = ", ".join(f"{p.pid} {p.name} (parent {p.ppid} {by_pid[p.ppid].name if p.ppid in by_pid else '?'})"
                          for p in missing[:5])
        packages = sorted({p.package for p in missing})
        return Check("ca", Status.FAIL,
                     f"the CA is missing in the mount namespace of {len(missing)} app process(es): {shown}; "
                     "they keep trusting the store they started with, so their TLS through the proxy fails",
                     "force-stop those apps before the run (" +
                     "; ".join(f"`adb shell am force-stop {p}`" for p in packages[:5]) +
                     "): `lab run` installs the CA before it starts the profile's apps, and an app "
                     "started after that trusts it (these were forked by an app zygote or another "
                     "process, which the install does not reach)", {**details, "missing": [p.pid for p in missing]})
    if not apps:
        return Check("ca", Status.WARN, f"the CA is in {store} and inside {len(zygotes)} zygote namespace(s), "
                     "but no app process ran to check an app's namespace",
                     "start an app and run `lab doctor` again", details)
    return passed("ca", f"a probe CA ({method.value}) is trusted in {store} for the shell, inside "
                  f"{len(zygotes)} zygote and {len(apps)} app mount namespace(s); removed again", **details)


def _seen_in_namespaces(handset: Handset, pids: list[int], path: str) -> set[int]:
    """The pids in whose mount namespace `path` exists (one root shell round trip)."""
    if not pids:
        return set()
    lines = [cmd(W("echo"), W(MARK), pid) + "; " +
             cmd(W("nsenter"), f"--mount=/proc/{pid}/ns/mnt", W("--"), W("ls"), path) for pid in pids]
    out = handset.su(commands(*lines), check=False, timeout=300).stdout
    seen: set[int] = set()
    current: int | None = None
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == MARK and words[1].isdigit():
            current = int(words[1])
        elif current is not None and line.strip() == path:
            seen.add(current)
    return seen

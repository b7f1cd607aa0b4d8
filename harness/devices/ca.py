"""Installing the interception CA where the handset's Android version reads it.

Procedures (ca-install-procedures.md): rooted handsets below SDK 34 get a tmpfs overlay
of /system/etc/security/cacerts; from SDK 34 the same overlay is bind-mounted onto the
Conscrypt APEX store /apex/com.android.conscrypt/cacerts, in the shell's mount namespace,
in each zygote's, and in each running app's (nsenter). Unrooted handsets: the user store
needs a tap in Settings, and Android 7+ apps do not trust it by default; the journal says
so and the run goes on. Each step is a separate command driven from here, so every
change is journaled before it is made.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from harness.devices.handset import Handset, RootMethod
from harness.devices.journal import Journal
from harness.devices.shellquote import W, check_path, cmd
from harness.errors import DeviceCommandError, UnsafeValueError

SYSTEM_CACERTS = "/system/etc/security/cacerts"
APEX_CACERTS = "/apex/com.android.conscrypt/cacerts"
USER_CACERTS = "/data/misc/user/0/cacerts-added"
TMP_COPY = "/data/local/tmp/lab-ca-copy"
SYSTEM_FILE_LABEL = "u:object_r:system_file:s0"


class CaMethod(StrEnum):
    SYSTEM_TMPFS = "system-tmpfs"  # rooted, SDK < 34
    SYSTEM_APEX = "system-apex"  # rooted, SDK >= 34
    USER_ROOT = "user-root"  # rooted, user store written directly
    USER_MANUAL = "user-manual"  # not rooted: pushed for a manual install


SYSTEM_METHODS = (CaMethod.SYSTEM_TMPFS, CaMethod.SYSTEM_APEX)


def subject_hash_old(pem: bytes) -> str:
    """`openssl x509 -subject_hash_old`: MD5 of the DER subject, first 4 bytes LE, hex."""
    cert = load_cert(pem)
    digest = hashlib.md5(cert.subject.public_bytes(), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def load_cert(pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as e:
        raise UnsafeValueError(f"the CA is not a PEM certificate: {e}") from e


def cert_pem(pem: bytes) -> bytes:
    """Only the certificate block (mitmproxy-ca.pem also holds the private key)."""
    return load_cert(pem).public_bytes(Encoding.PEM)


def choose_method(sdk: int, root: RootMethod, store: str = "auto") -> CaMethod:
    rooted = root != RootMethod.NONE
    if store == "user":
        return CaMethod.USER_ROOT if rooted else CaMethod.USER_MANUAL
    if not rooted:
        return CaMethod.USER_MANUAL
    return CaMethod.SYSTEM_APEX if sdk >= 34 else CaMethod.SYSTEM_TMPFS


def mount_points(text: str) -> list[str]:
    """Mount points from `mount` (toybox: `dev on /point type fs (opts)`) or /proc/mounts."""
    points = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == "on":
            points.append(fields[2])
        elif len(fields) >= 2:
            points.append(fields[1])
    return points


def mounted_on(handset: Handset, mountpoint: str) -> bool:
    """Whether something is mounted on `mountpoint` in the shell's namespace."""
    return mountpoint in mount_points(handset.sh(cmd(W("mount")), check=False).stdout)


def _pids(text: str) -> list[int]:
    return [int(w) for w in text.split() if w.isdigit()]


def namespace_pids(handset: Handset) -> list[int]:
    """Zygote pids followed by their children's (`ps -o PID -P ZPID`)."""
    zygotes: list[int] = []
    for name in ("zygote", "zygote64"):
        zygotes += _pids(handset.sh(cmd(W("pidof"), W(name)), check=False).stdout)
    children: list[int] = []
    for zpid in zygotes:
        out = handset.sh(cmd(W("ps"), W("-o"), W("PID"), W("-P"), zpid), check=False).stdout
        children += [p for p in _pids(out) if p not in zygotes and p not in children]
    return zygotes + children


def _nsenter(pid: int, *mount_args: str) -> str:
    return cmd(W("nsenter"), f"--mount=/proc/{int(pid)}/ns/mnt", W("--"), W("/bin/mount"), *mount_args)


def _nsenter_umount(pid: int, target: str) -> str:
    return cmd(W("nsenter"), f"--mount=/proc/{int(pid)}/ns/mnt", W("--"), W("/bin/umount"), target)


def install_ca(handset: Handset, journal: Journal, pem: bytes, sdk: int, store: str = "auto") -> CaMethod:
    """Install `pem` (journaled) and return the method used."""
    pem = cert_pem(pem)
    name = f"{subject_hash_old(pem)}.0"
    method = choose_method(sdk, handset.root, store)
    pushed = check_path(f"/data/local/tmp/lab-{name}")
    if method == CaMethod.USER_MANUAL:
        target = check_path(f"/sdcard/Download/lab-{name}.crt")
        entry = journal.begin("ca", method=method.value, files=[target], hash_name=name)
        handset.push_bytes(pem, target)
        journal.done(entry)
        journal.note(
            "CA: handset is not rooted; pushed the CA to "
            f"{target} for a manual install (Settings > Security > Encryption & credentials > "
            "Install a certificate > CA certificate). Android 7+ apps do not trust the user "
            "store unless their network security config opts in: expect tls_rejected flows."
        )
        return method
    if method == CaMethod.USER_ROOT:
        target = check_path(f"{USER_CACERTS}/{name}")
        existed = handset.exists(target, as_root=True)
        dir_existed = handset.exists(USER_CACERTS, as_root=True)
        if existed:
            journal.note(f"CA: {target} was already in the user store; left as is")
            return method
        entry = journal.begin("ca", method=method.value, files=[target, pushed],
                              dirs=[] if dir_existed else [USER_CACERTS], hash_name=name)
        handset.push_bytes(pem, pushed)
        handset.su(cmd(W("mkdir"), W("-p"), USER_CACERTS))
        handset.su(cmd(W("cp"), pushed, target))
        handset.su(cmd(W("chmod"), W("644"), target))
        handset.su(cmd(W("chown"), W("system:system"), target), check=False)
        handset.sh(cmd(W("rm"), W("-f"), pushed), check=False)
        journal.done(entry)
        return method
    _install_system(handset, journal, pem, name, pushed, method)
    return method


def _install_system(handset: Handset, journal: Journal, pem: bytes, name: str, pushed: str,
                    method: CaMethod) -> None:
    apex = method == CaMethod.SYSTEM_APEX and handset.exists(APEX_CACERTS)
    was_mounted = mounted_on(handset, SYSTEM_CACERTS)
    source = APEX_CACERTS if apex else SYSTEM_CACERTS
    target = f"{SYSTEM_CACERTS}/{name}"
    entry = journal.begin(
        "ca", method=method.value, hash_name=name, files=[pushed] + ([target] if was_mounted else []),
        dirs=[TMP_COPY], umount=[] if was_mounted else [SYSTEM_CACERTS],
        apex=APEX_CACERTS if apex else None, namespaces=[],
    )
    handset.push_bytes(pem, pushed)
    if not was_mounted:
        handset.su(cmd(W("mkdir"), W("-p"), TMP_COPY))
        handset.su(cmd(W("chmod"), W("700"), TMP_COPY))
        handset.su(cmd(W("cp"), W(f"{source}/*"), W(f"{TMP_COPY}/")))
        handset.su(cmd(W("mount"), W("-t"), W("tmpfs"), W("tmpfs"), SYSTEM_CACERTS))
        handset.su(cmd(W("cp"), W(f"{TMP_COPY}/*"), W(f"{SYSTEM_CACERTS}/")))
    handset.su(cmd(W("cp"), pushed, target))
    handset.su(cmd(W("chown"), W("root:root"), W(f"{SYSTEM_CACERTS}/*")), check=False)
    handset.su(cmd(W("chmod"), W("644"), W(f"{SYSTEM_CACERTS}/*")))
    for path in (SYSTEM_CACERTS, f"{SYSTEM_CACERTS}/*"):
        result = handset.su(cmd(W("chcon"), W(SYSTEM_FILE_LABEL), W(path)), check=False)
        if not result.ok and path == SYSTEM_CACERTS:
            journal.note(f"CA: chcon failed ({result.output.strip()[:120]}); SELinux labels unchanged")
    if apex:
        handset.su(cmd(W("mount"), W("--bind"), SYSTEM_CACERTS, APEX_CACERTS))
        pids = namespace_pids(handset)
        entry.undo["namespaces"] = pids
        journal.save()
        failed = []
        for pid in pids:
            result = handset.su(_nsenter(pid, W("--bind"), SYSTEM_CACERTS, APEX_CACERTS), check=False)
            if not result.ok:
                failed.append(pid)
        if failed:
            journal.note(f"CA: nsenter bind mount failed for pids {failed} (processes gone?)")
    handset.su(cmd(W("rm"), W("-rf"), TMP_COPY), check=False)
    handset.sh(cmd(W("rm"), W("-f"), pushed), check=False)
    for path in [target] + ([f"{APEX_CACERTS}/{name}"] if apex else []):
        if handset.su(cmd(W("cat"), path), check=False).stdout.strip() != pem.decode().strip():
            raise DeviceCommandError(f"CA install on {handset.serial}: {path} does not hold the CA after install")
    journal.done(entry)


def undo_ca(handset: Handset, undo: dict) -> None:
    """Undo a `ca` entry: unmount (APEX namespaces first), remove files and folders."""
    apex = undo.get("apex")
    if apex:
        for pid in namespace_pids(handset):
            handset.su(_nsenter_umount(pid, check_path(apex)), check=False)
        _umount_all(handset, check_path(apex))
    for mountpoint in undo.get("umount") or []:
        _umount_all(handset, check_path(mountpoint))
    root = handset.root != RootMethod.NONE
    for path in undo.get("files") or []:
        line = cmd(W("rm"), W("-f"), check_path(path))
        (handset.su if root else handset.sh)(line, check=False)
    for path in undo.get("dirs") or []:
        line = cmd(W("rm"), W("-rf"), check_path(path))
        (handset.su if root else handset.sh)(line, check=False)


def _umount_all(handset: Handset, mountpoint: str, tries: int = 64) -> None:
    """Unmount every layer stacked on `mountpoint` (a re-run after a kill may have two)."""
    for _ in range(tries):
        if not mounted_on(handset, mountpoint):
            return
        handset.su(cmd(W("umount"), mountpoint))
    raise DeviceCommandError(f"{mountpoint} on {handset.serial} is still mounted after {tries} umounts")

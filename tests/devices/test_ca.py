"""The CA file name Android looks for: `openssl x509 -subject_hash_old`."""

import shutil
import subprocess

import pytest
from support.device_ca import make_ca

from harness.devices.ca import CaMethod, cert_pem, choose_method, mount_points, subject_hash_old
from harness.devices.handset import RootMethod
from harness.errors import UnsafeValueError


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
@pytest.mark.parametrize("cn", ["mitmproxy", "Lab CA 1", "ünïcode CA"])
def test_subject_hash_old_matches_openssl(tmp_path, cn):
    pem = make_ca(cn)
    path = tmp_path / "ca.pem"
    path.write_bytes(cert_pem(pem))
    out = subprocess.run(["openssl", "x509", "-inform", "PEM", "-subject_hash_old", "-noout", "-in", str(path)],
                         capture_output=True, text=True, check=True).stdout.split()[0]
    assert subject_hash_old(pem) == out


def test_hash_is_stable_and_subject_dependent():
    a = make_ca("one")
    assert subject_hash_old(a) == subject_hash_old(a)
    assert subject_hash_old(a) != subject_hash_old(make_ca("two"))
    assert b"PRIVATE KEY" not in cert_pem(a)
    with pytest.raises(UnsafeValueError):
        subject_hash_old(b"not a certificate")


def test_method_by_sdk_and_root():
    assert choose_method(33, RootMethod.SU_0) == CaMethod.SYSTEM_TMPFS
    assert choose_method(34, RootMethod.SU_C) == CaMethod.SYSTEM_APEX
    assert choose_method(34, RootMethod.NONE) == CaMethod.USER_MANUAL
    assert choose_method(30, RootMethod.ADBD, "user") == CaMethod.USER_ROOT


def test_mount_points_both_formats():
    toybox = "tmpfs on /system/etc/security/cacerts type tmpfs (rw,seclabel,relatime)\n"
    proc = "tmpfs /apex/com.android.conscrypt/cacerts tmpfs rw,seclabel 0 0\n"
    assert mount_points(toybox + proc) == ["/system/etc/security/cacerts", "/apex/com.android.conscrypt/cacerts"]

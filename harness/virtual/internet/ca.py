"""The virtual internet's own CA and per-hostname server certificates (cached per user).

Generated with `cryptography` at first use and kept under the user's cache directory, so
every handset on the machine trusts the same root and certificates are made once. A file
lock makes concurrent first use safe. Server certificates embed SCTs (RFC 6962 3.3) from the
virtual internet's two CT logs (CT_LOGS), as publicly trusted ones do, so an Android 16 app
that requires Certificate Transparency accepts them (its log store knows these logs: the
virtual handset's com.android.org.conscrypt.ct.LogStore) and refuses a proxy's certificate.
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_START = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
CT_LOGS = ("virtual-internet-ct-log-1", "virtual-internet-ct-log-2")  # log id: SHA-256 of the name
SCT_LIST_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


def sct_list(logs: tuple[str, ...] = CT_LOGS, timestamp_ms: int = int(_START.timestamp() * 1000)) -> bytes:
    """The extnValue of an embedded-SCT extension: a DER OCTET STRING holding the TLS-encoded
    SignedCertificateTimestampList, one v1 SCT per log (signatures are placeholders: the
    virtual handset's verifier checks the log, not the signature)."""
    scts = b""
    for name in logs:
        log_id = hashlib.sha256(name.encode("ascii")).digest()
        signature = hashlib.sha512(log_id).digest()[:64]
        sct = (b"\x00" + log_id + timestamp_ms.to_bytes(8, "big") + b"\x00\x00"
               + b"\x04\x03" + len(signature).to_bytes(2, "big") + signature)
        scts += len(sct).to_bytes(2, "big") + sct
    body = len(scts).to_bytes(2, "big") + scts
    return b"\x04" + _der_length(len(body)) + body


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def cache_dir() -> Path:
    """Per-user cache: $LAB_HARNESS_CACHE, else $XDG_CACHE_HOME/lab-harness, else ~/.cache."""
    explicit = os.environ.get("LAB_HARNESS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lab-harness"


def spki_pin(cert: x509.Certificate) -> str:
    """okhttp's pin of a certificate: sha256/<base64 of the SubjectPublicKeyInfo digest>."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256/" + base64.b64encode(hashlib.sha256(spki).digest()).decode()


def subject_hash_old(cert: x509.Certificate) -> str:
    """OpenSSL's -subject_hash_old: MD5 of the DER subject, first 4 bytes little-endian."""
    digest = hashlib.md5(cert.subject.public_bytes(), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


@dataclass(frozen=True)
class ServerCert:
    hostname: str
    chain_pem: Path  # leaf then CA
    key_pem: Path


class InternetCA:
    """The root of the virtual internet and the server certificates it issues."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or cache_dir() / "internet-ca"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.cert_pem = self.dir / "internet-ca.pem"
        self._key_pem = self.dir / "internet-ca.key"
        with self._locked():
            if not (self.cert_pem.exists() and self._key_pem.exists()):
                self._create_root()
        self.cert = x509.load_pem_x509_certificate(self.cert_pem.read_bytes())
        self._key = serialization.load_pem_private_key(self._key_pem.read_bytes(), None)

    def _locked(self):
        return _FileLock(self.dir / ".lock")

    @property
    def pin(self) -> str:
        return spki_pin(self.cert)

    @property
    def store_name(self) -> str:
        """File name in an Android CA store: <subject_hash_old>.0."""
        return subject_hash_old(self.cert) + ".0"

    def _create_root(self) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Virtual Internet Trust"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Virtual Internet Root CA"),
        ])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_START).not_valid_after(_START + datetime.timedelta(days=365 * 20))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_atomic(self._key_pem, key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
        _write_atomic(self.cert_pem, cert.public_bytes(serialization.Encoding.PEM))
        for old in self.dir.glob("host-*"):
            old.unlink()

    def server_cert(self, hostname: str) -> ServerCert:
        """The certificate of one zone hostname (issued once, then read from the cache)."""
        if not _HOST.match(hostname):
            raise ValueError(f"not a hostname: {hostname!r}")
        chain = self.dir / f"host-sct-{hostname}.pem"  # "sct": made with embedded SCTs
        key_path = self.dir / f"host-sct-{hostname}.key"
        with self._locked():
            if not (chain.exists() and key_path.exists()):
                key = ec.generate_private_key(ec.SECP256R1())
                cert = (
                    x509.CertificateBuilder()
                    .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)]))
                    .issuer_name(self.cert.subject).public_key(key.public_key())
                    .serial_number(x509.random_serial_number())
                    .not_valid_before(_START).not_valid_after(_START + datetime.timedelta(days=3650))
                    .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                        self.cert.public_key()), critical=False)
                    .add_extension(x509.UnrecognizedExtension(SCT_LIST_OID, sct_list()), critical=False)
                    .sign(self._key, hashes.SHA256())
                )
                _write_atomic(key_path, key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
                _write_atomic(chain, cert.public_bytes(serialization.Encoding.PEM)
                              + self.cert_pem.read_bytes())
        return ServerCert(hostname, chain, key_path)


class _FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def __enter__(self) -> _FileLock:
        self._fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)

"""CA certificates for the handset's trust stores, named `<subject_hash_old>.0` like Android."""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Public-root-like names; the keys are generated per handset process (never real roots).
ROOT_NAMES = [
    ("US", "Virtual Trust Services LLC", "Virtual Trust Root CA R1"),
    ("BE", "Lab Sign nv-sa", "Lab Sign Root CA - R3"),
    ("US", "Example Digital Certificates Inc", "Example Global Root G2"),
    ("GB", "Sample Certification Ltd", "Sample Assured Root 2019"),
]


def subject_hash_old(cert: x509.Certificate) -> str:
    """OpenSSL's X509_subject_name_hash_old: MD5 of the DER subject, first 4 bytes LE."""
    digest = hashlib.md5(cert.subject.public_bytes(), usedforsecurity=False).digest()
    return f"{int.from_bytes(digest[:4], 'little'):08x}"


def pem_file_name(pem: bytes) -> str:
    return subject_hash_old(x509.load_pem_x509_certificate(pem)) + ".0"


def make_root(country: str, org: str, cn: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, country),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])
    start = datetime.datetime(2019, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=365 * 25))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def default_roots() -> dict[str, bytes]:
    """file name -> PEM of the handset's built-in public roots."""
    out: dict[str, bytes] = {}
    for country, org, cn in ROOT_NAMES:
        pem = make_root(country, org, cn)
        out[pem_file_name(pem)] = pem
    return out

"""The city certificate authority: a CA certificate, gateway TLS certificates (ECDSA P-256), Ed25519
signing keys for configurations and message logs, and a certificate revocation list. Pure ``cryptography``.

Gateway certificates carry the member id (``INSTANCE/CLASS/MEMBER``) as their subject common name and
the gateway's host names / IP addresses as subject alternative names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class CertificateError(ValueError):
    """A certificate or key cannot be read or was not issued by the expected CA."""


@dataclass(frozen=True)
class IssuedCertificate:
    """A private key and its certificate, both PEM, with the certificate's serial (hex) and fingerprint."""

    key_pem: bytes
    cert_pem: bytes
    serial_hex: str
    sha256: str


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_certificate(pem: bytes) -> x509.Certificate:
    """A certificate from PEM; raises :class:`CertificateError`."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateError(f"unreadable certificate: {exc} (無法讀取憑證)") from exc


def fingerprint(cert: x509.Certificate | bytes) -> str:
    """SHA-256 (hex) of the certificate's DER form; accepts a certificate, PEM or DER bytes."""
    if isinstance(cert, bytes):
        if cert.lstrip().startswith(b"-----BEGIN"):
            cert = load_certificate(cert)
        else:
            return hashlib.sha256(cert).hexdigest()
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def serial_hex(cert: x509.Certificate) -> str:
    """The serial number in lower-case hex."""
    return format(cert.serial_number, "x")


def new_ca(common_name: str, *, now: dt.datetime, days: int = 3650) -> IssuedCertificate:
    """A self-signed CA certificate (ECDSA P-256) valid ``days`` days from ``now``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return IssuedCertificate(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM), serial_hex(cert),
                             fingerprint(cert))


def _load_ca(ca_key_pem: bytes, ca_cert_pem: bytes):
    try:
        key = serialization.load_pem_private_key(ca_key_pem, password=None)
    except ValueError as exc:
        raise CertificateError(f"unreadable CA key: {exc} (無法讀取 CA 金鑰)") from exc
    return key, load_certificate(ca_cert_pem)


def issue_gateway_certificate(ca_key_pem: bytes, ca_cert_pem: bytes, member_id: str, hosts: Iterable[str], *,
                              now: dt.datetime, days: int = 365) -> IssuedCertificate:
    """A TLS certificate for a member's gateway, usable as server and client (mutual TLS)."""
    ca_key, ca_cert = _load_ca(ca_key_pem, ca_cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, member_id),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, member_id.split("/")[-1])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return IssuedCertificate(_key_pem(key), cert.public_bytes(serialization.Encoding.PEM), serial_hex(cert),
                             fingerprint(cert))


def verify_issued_by(cert_pem: bytes, ca_cert_pem: bytes) -> x509.Certificate:
    """Check that ``cert_pem`` was signed by the CA (for importing government-CA certificates)."""
    cert, ca = load_certificate(cert_pem), load_certificate(ca_cert_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, Exception) as exc:  # InvalidSignature is not a ValueError
        raise CertificateError(f"the certificate was not issued by this CA: {exc} (憑證非由此 CA 簽發)") from exc
    return cert


def build_crl(ca_key_pem: bytes, ca_cert_pem: bytes, revoked: Iterable[tuple[str, dt.datetime]], *,
              now: dt.datetime, days: int = 7) -> bytes:
    """A signed CRL (PEM) listing ``(serial hex, revoked at)`` pairs."""
    ca_key, ca_cert = _load_ca(ca_key_pem, ca_cert_pem)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now).next_update(now + dt.timedelta(days=days)))
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(when).build())
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def new_signing_key() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _key_pem(key), public


def load_signing_key(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PEM; raises :class:`CertificateError`."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as exc:
        raise CertificateError(f"unreadable signing key: {exc} (無法讀取簽章金鑰)") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise CertificateError("the signing key is not an Ed25519 key (簽章金鑰須為 Ed25519)")
    return key

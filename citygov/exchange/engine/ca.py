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


def issue_tsa_certificate(ca_key_pem: bytes, ca_cert_pem: bytes, common_name: str, *, now: dt.datetime,
                          days: int = 1825) -> IssuedCertificate:
    """A certificate for the city's time-stamping authority: ECDSA P-256, for time stamping only
    (extended key usage ``timeStamping``, critical, as RFC 3161 requires)."""
    ca_key, ca_cert = _load_ca(ca_key_pem, ca_cert_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
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


def load_certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle (a CA chain file); raises :class:`CertificateError`."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise CertificateError(f"unreadable certificate file: {exc} (無法讀取憑證檔)") from exc
    return certs


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return constraints.ca
    return constraints.ca and usage.key_cert_sign


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def verify_chain(cert_pem: bytes, chain_pem: bytes, *, now: dt.datetime) -> list[x509.Certificate]:
    """Check that the certificate in ``cert_pem`` (its first one) chains, through the CA certificates of the
    chain file ``chain_pem`` (intermediates and the root, e.g. the government CA's), to a self-signed root.

    Every issuer must be a CA (basic constraints, key usage ``keyCertSign``) and every certificate valid at
    ``now``. Returns the path ``[certificate, intermediate…, root]``; raises :class:`CertificateError`.
    """
    leaf = load_certificate(cert_pem)
    pool = [c for c in load_certificates(chain_pem) if c != leaf]
    if not pool:
        raise CertificateError("the chain file holds no CA certificate (鏈結檔沒有 CA 憑證)")
    for ca in pool:
        if not _is_ca(ca):
            raise CertificateError(f"{ca.subject.rfc4514_string()} in the chain file is not a CA "
                                   f"(鏈結檔中含非 CA 憑證)")
    path = [leaf]
    while True:
        current = path[-1]
        if not _valid_at(current, now):
            raise CertificateError(f"{current.subject.rfc4514_string()} is not valid now (憑證不在有效期間)")
        if len(path) > 1 and current.issuer == current.subject:
            try:
                current.verify_directly_issued_by(current)
            except Exception as exc:  # noqa: BLE001 - InvalidSignature, ValueError, TypeError
                raise CertificateError(f"the root's self-signature does not verify: {exc} (根憑證簽章錯誤)") from exc
            return path
        issuer = None
        for candidate in pool:
            if candidate.subject != current.issuer or candidate in path:
                continue
            try:
                current.verify_directly_issued_by(candidate)
            except Exception:  # noqa: BLE001, S112 - try the next candidate with the same name
                continue
            issuer = candidate
            break
        if issuer is None:
            raise CertificateError(f"no CA in the chain file issued {current.subject.rfc4514_string()} "
                                   f"(鏈結檔中找不到簽發者)")
        if len(path) > 8:
            raise CertificateError("the chain is too long (憑證鏈過長)")
        path.append(issuer)


def pem(cert: x509.Certificate) -> bytes:
    """A certificate as PEM."""
    return cert.public_bytes(serialization.Encoding.PEM)


def verify_ca_bundle(chain_pem: bytes, *, now: dt.datetime) -> list[x509.Certificate]:
    """The CA certificates of a chain file, after checking that each is a CA valid at ``now`` and chains
    to a self-signed root of the same file (whose self-signature verifies). Raises :class:`CertificateError`."""
    certs = load_certificates(chain_pem)
    if not certs:
        raise CertificateError("the chain file holds no certificate (鏈結檔沒有憑證)")
    if not any(cert.issuer == cert.subject for cert in certs):
        raise CertificateError("the chain file has no self-signed root (鏈結檔缺少根憑證)")
    for cert in certs:
        if not _is_ca(cert):
            raise CertificateError(f"{cert.subject.rfc4514_string()} is not a CA (鏈結檔中含非 CA 憑證)")
        if not _valid_at(cert, now):
            raise CertificateError(f"{cert.subject.rfc4514_string()} is not valid now (憑證不在有效期間)")
        if cert.issuer == cert.subject:
            try:
                cert.verify_directly_issued_by(cert)
            except Exception as exc:  # noqa: BLE001 - InvalidSignature, ValueError, TypeError
                raise CertificateError(f"the root's self-signature does not verify: {exc} (根憑證簽章錯誤)") from exc
        else:
            verify_chain(pem(cert), chain_pem, now=now)
    return certs


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

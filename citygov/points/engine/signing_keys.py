"""Ed25519 signatures of usage instructions (運用指示書). Pure Python (``cryptography``), bytes in, bytes out.

What is signed: the instruction's canonical JSON bytes (:func:`citygov.points.engine.instruction.canonical_json`).
The PDF and the CSV both print the content hash of that JSON (``sha256:<hex>``), so a bank that checks the
signature over the JSON and that the hash printed on the PDF/CSV equals ``sha256`` of the JSON has checked
all three documents.

Keys: the engine only takes bytes. The service layer reads the operator's private key from the
environment or a file; no key ever lives in the repository. Accepted private-key forms:

* PEM (PKCS#8 ``-----BEGIN PRIVATE KEY-----``, optionally encrypted with a password, or OpenSSH);
* the raw 32-byte seed, or that seed as 64 hex characters or base64 text (handy for an environment variable).

Public keys: PEM (``-----BEGIN PUBLIC KEY-----``), OpenSSH ``ssh-ed25519 ...``, the raw 32 bytes, or
64 hex characters / base64 of them.

Detached signature file (UTF-8 text, one ``name: value`` per line, LF line ends)::

    citygov-points-signature: 1
    algorithm: ed25519
    key-fingerprint: sha256:<hex of SHA-256 over the raw 32-byte public key>
    content-hash: sha256:<hex of SHA-256 over the signed JSON bytes>
    signature: <base64 of the 64-byte Ed25519 signature>
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_FILE_VERSION = "1"
ALGORITHM = "ed25519"


def _key_error(en: str, zh: str) -> ValueError:
    return ValueError(f"{en} / {zh}")


def _decode_text_key(data: bytes, size: int) -> bytes | None:
    """Raw bytes of a hex or base64 text key of ``size`` bytes, or None."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if len(text) == size * 2:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def load_private_key(pem_or_raw: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """The Ed25519 private key in ``pem_or_raw`` (PEM, OpenSSH, 32 raw bytes, hex or base64 of them).

    Raises ValueError with a clear message when the bytes are not an Ed25519 private key or the
    password is wrong or missing.
    """
    if isinstance(pem_or_raw, str):
        pem_or_raw = pem_or_raw.encode("utf-8")
    if not isinstance(pem_or_raw, bytes | bytearray) or not pem_or_raw:
        raise _key_error("signing key is empty", "簽章金鑰為空白")
    data = bytes(pem_or_raw)
    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
        loader = serialization.load_ssh_private_key
    elif stripped.startswith(b"-----BEGIN"):
        loader = serialization.load_pem_private_key
    else:
        raw = data if len(data) == 32 else _decode_text_key(stripped, 32)
        if raw is None:
            raise _key_error("signing key is neither PEM nor a 32-byte Ed25519 seed (raw, hex or base64)",
                             "簽章金鑰格式錯誤：須為 PEM 或 32 位元組 Ed25519 私鑰（原始、十六進位或 base64）")
        return Ed25519PrivateKey.from_private_bytes(raw)
    try:
        key = loader(stripped, password=password)
    except TypeError as exc:  # password given for an unencrypted key, or missing for an encrypted one
        raise _key_error(f"signing key password problem: {exc}", "簽章金鑰密碼錯誤或未提供") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _key_error(f"signing key cannot be read (wrong password or damaged PEM): {exc}",
                         "無法讀取簽章金鑰（密碼錯誤或 PEM 內容損毀）") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(f"signing key is a {type(key).__name__}, not an Ed25519 key",
                         "簽章金鑰不是 Ed25519 金鑰")
    return key


def load_public_key(pem_or_raw: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key in ``pem_or_raw`` (PEM, OpenSSH line, 32 raw bytes, hex or base64 of them)."""
    if isinstance(pem_or_raw, str):
        pem_or_raw = pem_or_raw.encode("utf-8")
    if not isinstance(pem_or_raw, bytes | bytearray) or not pem_or_raw:
        raise _key_error("public key is empty", "公鑰為空白")
    data = bytes(pem_or_raw)
    stripped = data.strip()
    if not stripped.startswith((b"-----BEGIN", b"ssh-ed25519 ")):
        raw = data if len(data) == 32 else _decode_text_key(stripped, 32)
        if raw is None:
            raise _key_error("public key is neither PEM nor 32 raw Ed25519 bytes (raw, hex or base64)",
                             "公鑰格式錯誤：須為 PEM 或 32 位元組 Ed25519 公鑰（原始、十六進位或 base64）")
        return Ed25519PublicKey.from_public_bytes(raw)
    try:
        if stripped.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(stripped)
        else:
            key = serialization.load_ssh_public_key(stripped)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _key_error(f"public key cannot be read: {exc}", "無法讀取公鑰") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise _key_error(f"public key is a {type(key).__name__}, not an Ed25519 key", "公鑰不是 Ed25519 金鑰")
    return key


def public_key_pem(private_key: Ed25519PrivateKey) -> bytes:
    """The PEM (SubjectPublicKeyInfo) of the private key's public half."""
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key_pair(password: bytes | None = None) -> tuple[bytes, bytes]:
    """A fresh key pair as (PKCS#8 private PEM, public PEM); the private PEM is encrypted when a password is given."""
    key = Ed25519PrivateKey.generate()
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    return private_pem, public_key_pem(key)


def _as_private(private_key: Ed25519PrivateKey | bytes) -> Ed25519PrivateKey:
    return private_key if isinstance(private_key, Ed25519PrivateKey) else load_private_key(private_key)


def _as_public(public_key: Ed25519PublicKey | bytes) -> Ed25519PublicKey:
    return public_key if isinstance(public_key, Ed25519PublicKey) else load_public_key(public_key)


def key_fingerprint(public_key: Ed25519PublicKey | bytes) -> str:
    """``sha256:<hex>`` over the raw 32-byte public key: names the key on the signature file and in logs."""
    raw = _as_public(public_key).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def sign(private_key: Ed25519PrivateKey | bytes, payload: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``payload`` (the key object, or key bytes as for load_private_key)."""
    return _as_private(private_key).sign(bytes(payload))


def verify(public_key_pem: bytes | Ed25519PublicKey, payload: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``payload`` under the public key.

    Never raises on a bad or wrongly sized signature (returns False); raises ValueError when the key
    itself cannot be read.
    """
    key = _as_public(public_key_pem)
    if not isinstance(signature, bytes | bytearray) or len(signature) != 64:
        return False
    try:
        key.verify(bytes(signature), bytes(payload))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class DetachedSignature:
    """The content of a detached signature file."""

    key_fingerprint: str
    content_hash: str
    signature: bytes
    algorithm: str = ALGORITHM


@dataclass(frozen=True)
class SignatureCheck:
    """The outcome of checking a detached signature, with the reason in English and Chinese."""

    ok: bool
    reason: str  # ok | malformed | wrong_key | hash_mismatch | bad_signature
    message_en: str
    message_zh: str


def content_hash_of(payload: bytes) -> str:
    """``sha256:<hex>`` of the payload bytes."""
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def signature_file(private_key: Ed25519PrivateKey | bytes, payload: bytes) -> bytes:
    """Sign ``payload`` and return the detached signature file (see the module docstring)."""
    key = _as_private(private_key)
    signature = base64.b64encode(key.sign(bytes(payload))).decode("ascii")
    return format_signature_file(key_fingerprint(key.public_key()), content_hash_of(payload), signature)


def format_signature_file(fingerprint: str, content_hash: str, signature_b64: str) -> bytes:
    """The detached signature file of a signature already made (key fingerprint, content hash, base64)."""
    lines = [
        f"citygov-points-signature: {SIGNATURE_FILE_VERSION}",
        f"algorithm: {ALGORITHM}",
        f"key-fingerprint: {fingerprint}",
        f"content-hash: {content_hash}",
        f"signature: {signature_b64}",
    ]
    return ("\n".join(lines) + "\n").encode("ascii")


def parse_signature_file(data: bytes) -> DetachedSignature:
    """Read a detached signature file; ValueError (English / Chinese) when it is malformed."""
    try:
        text = bytes(data).decode("ascii")
    except (UnicodeDecodeError, TypeError) as exc:
        raise _key_error("signature file is not ASCII text", "簽章檔不是 ASCII 文字檔") from exc
    fields: dict[str, str] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise _key_error(f"signature file line without 'name: value': {line[:60]!r}", "簽章檔格式錯誤")
        fields[name.strip().lower()] = value.strip()
    if fields.get("citygov-points-signature") != SIGNATURE_FILE_VERSION:
        raise _key_error("not a citygov points signature file (version 1)", "不是本系統第 1 版簽章檔")
    if fields.get("algorithm") != ALGORITHM:
        raise _key_error(f"unsupported signature algorithm {fields.get('algorithm')!r}", "不支援的簽章演算法")
    for name in ("key-fingerprint", "content-hash", "signature"):
        if not fields.get(name):
            raise _key_error(f"signature file lacks {name}", f"簽章檔缺少 {name}")
    try:
        signature = base64.b64decode(fields["signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _key_error("signature is not valid base64", "簽章值不是有效的 base64") from exc
    if len(signature) != 64:
        raise _key_error(f"signature has {len(signature)} bytes, Ed25519 needs 64", "簽章長度錯誤（須為 64 位元組）")
    return DetachedSignature(key_fingerprint=fields["key-fingerprint"], content_hash=fields["content-hash"],
                             signature=signature)


def check_signature_file(public_key_pem: bytes | Ed25519PublicKey, payload: bytes, data: bytes) -> SignatureCheck:
    """Check a detached signature file against the payload and the operator's public key.

    Never raises for a bad signature file (reason ``malformed``); raises ValueError for an unreadable key.
    """
    key = _as_public(public_key_pem)
    try:
        detached = parse_signature_file(data)
    except ValueError as exc:
        en, _, zh = str(exc).partition(" / ")
        return SignatureCheck(False, "malformed", en, zh or en)
    if detached.key_fingerprint != key_fingerprint(key):
        return SignatureCheck(False, "wrong_key", "the signature was made with another key",
                              "簽章所用金鑰與提供的公鑰不符")
    if detached.content_hash != content_hash_of(payload):
        return SignatureCheck(False, "hash_mismatch", "the file's content hash differs from the signed one",
                              "檔案內容雜湊值與簽章時不同（檔案已被變更）")
    if not verify(key, payload, detached.signature):
        return SignatureCheck(False, "bad_signature", "the signature does not match the file",
                              "簽章驗證失敗")
    return SignatureCheck(True, "ok", "signature valid", "簽章驗證成功")

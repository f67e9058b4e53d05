"""The gateway's message log: one JSON line per exchange, chained by hash and signed by the gateway.

Each record holds the X-Road-Id, client, service, time, request and response hashes and status — never
the payload. ``hash`` is SHA-256 over the canonical JSON of the record without ``hash`` and
``signature`` (so it covers ``prev``, the previous record's hash); ``signature`` is the gateway's
Ed25519 signature over ``hash``. Deleting, inserting, reordering or altering a record breaks the chain,
which :func:`verify_log` reports by line. A log that cannot be written raises
:class:`MessageLogError`; the gateway then refuses traffic (fail closed).

*Timestamp records* (see :mod:`citygov.exchange.engine.timestamp`) are chained and signed like the others
and hold ``timestamp: {through_seq, through_hash, token}``: a token of the city's time-stamping authority
over the hash of record ``through_seq``, which commits to that record and every record before it.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from citygov.exchange.engine.conf import canonical_json

GENESIS = "0" * 64


class MessageLogError(OSError):
    """The message log cannot be written (or read when opening)."""


@dataclass(frozen=True)
class Exchange:
    """What is logged about one exchange."""

    time: str
    side: str  # "consumer" or "provider"
    x_road_id: str
    client: str
    service: str
    request_hash: str
    response_hash: str
    status: int
    error: str = ""
    duration_ms: int = 0
    payload: str = ""  # only for services that store payloads: see seal_payload


class PayloadError(ValueError):
    """A stored payload cannot be decrypted (wrong key or altered)."""


def seal_payload(key: bytes, x_road_id: str, request: bytes, response: bytes) -> str:
    """AES-256-GCM of the request and response bodies, bound to the X-Road-Id; base64 of nonce + ciphertext."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    plain = canonical_json({"request": base64.b64encode(request).decode("ascii"),
                            "response": base64.b64encode(response).decode("ascii")})
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plain, x_road_id.encode("utf-8"))).decode("ascii")


def open_payload(key: bytes, x_road_id: str, sealed: str) -> tuple[bytes, bytes]:
    """The (request, response) bodies from :func:`seal_payload`; raises :class:`PayloadError`."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        raw = base64.b64decode(sealed, validate=True)
        data = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], x_road_id.encode("utf-8")))
        return base64.b64decode(data["request"]), base64.b64decode(data["response"])
    except (InvalidTag, ValueError, KeyError) as exc:
        raise PayloadError("the payload cannot be decrypted with this key (無法解密內容)") from exc


@dataclass(frozen=True)
class Problem:
    """One defect found by :func:`verify_log`."""

    line: int
    message: str


def _open(path: Path):
    return gzip.open(path, "rb") if Path(path).suffix == ".gz" else Path(path).open("rb")


def _checkpoint_body(checkpoint: dict) -> bytes:
    return canonical_json({k: v for k, v in checkpoint.items() if k != "signature"})


def _record_hash(record: dict) -> str:
    body = {k: v for k, v in record.items() if k not in ("hash", "signature")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


class MessageLog:
    """An append-only, hash-chained, signed JSON-lines file. Thread-safe."""

    def __init__(self, path: Path, signing_key: Ed25519PrivateKey, *, fsync: bool = False):
        self.path = Path(path)
        self._key = signing_key
        self._fsync = fsync
        self._lock = threading.Lock()
        self._seq, self._prev = 0, GENESIS
        #: monotonic time since when the newest record has had no time stamp (None: all stamped or empty)
        self.unstamped_since: float | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                last = None
                with self.path.open("rb") as fh:
                    for line in fh:
                        if line.strip():
                            last = line
                if last is not None:
                    record = json.loads(last)
                    if record.get("checkpoint"):
                        self._seq, self._prev = int(record["archived_through"]), str(record["hash"])
                    else:
                        self._seq, self._prev = int(record["seq"]), str(record["hash"])
                        if not record.get("timestamp"):
                            self.unstamped_since = time.monotonic()
            self._fh = self.path.open("ab")
        except (OSError, ValueError, KeyError) as exc:
            raise MessageLogError(f"cannot open the message log {self.path}: {exc} (無法開啟訊息紀錄)") from exc

    def append(self, exchange: Exchange) -> dict:
        """Write one record; raises :class:`MessageLogError` when it cannot be written."""
        with self._lock:
            record = self._write({"seq": self._seq + 1, "prev": self._prev, **exchange.__dict__})
            if self.unstamped_since is None:
                self.unstamped_since = time.monotonic()
            return record

    def unstamped_head(self) -> tuple[int, str] | None:
        """(seq, hash) of the newest record when it has no time stamp yet, else None."""
        with self._lock:
            return (self._seq, self._prev) if self.unstamped_since is not None else None

    def append_timestamp(self, through_seq: int, through_hash: str, token: dict[str, Any]) -> dict:
        """Write a timestamp record for the token over record ``through_seq`` (whose hash is ``through_hash``)."""
        with self._lock:
            record = self._write({"seq": self._seq + 1, "prev": self._prev,
                                  "time": dt.datetime.now(dt.UTC).isoformat(),
                                  "timestamp": {"through_seq": through_seq, "through_hash": through_hash,
                                                "token": token}})
            if self._seq - 1 == through_seq:  # nothing arrived while the TSA answered
                self.unstamped_since = None
            else:
                self.unstamped_since = time.monotonic()
            return record

    def _write(self, record: dict) -> dict:
        """Hash, sign and write ``record`` (the lock is held)."""
        record["hash"] = _record_hash(record)
        record["signature"] = base64.b64encode(self._key.sign(bytes.fromhex(record["hash"]))).decode("ascii")
        # _record_hash checked the body for canonical JSON; hash and signature are ASCII strings.
        line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        try:
            self._fh.write(line + b"\n")
            self._fh.flush()
            if self._fsync:
                os.fsync(self._fh.fileno())
        except (OSError, ValueError) as exc:
            raise MessageLogError(f"cannot write the message log: {exc} (無法寫入訊息紀錄)") from exc
        self._seq, self._prev = record["seq"], record["hash"]
        return record

    def archive(self, before: dt.datetime, archive_dir: Path) -> int:
        """Move the records older than ``before`` (a leading run of the file) into a gzip archive.

        The live file then starts with a *checkpoint* line signed by the gateway — the last archived
        record's seq and hash — so its chain still verifies on its own, and a live file whose head was cut
        without a checkpoint is reported. The archive keeps the previous checkpoint, so each archive file
        verifies on its own too. Returns the number of records archived.
        """
        with self._lock:
            head: bytes | None = None
            old: list[bytes] = []
            rest: list[bytes] = []
            last: dict | None = None
            with self.path.open("rb") as fh:
                for raw in fh:
                    if not raw.strip():
                        continue
                    record = json.loads(raw)
                    if record.get("checkpoint"):
                        head = raw
                    elif not rest and dt.datetime.fromisoformat(record["time"]) < before:
                        old.append(raw)
                        last = record
                    else:
                        rest.append(raw)
            if last is None:
                return 0
            archive_dir = Path(archive_dir)
            archive_dir.mkdir(parents=True, exist_ok=True)
            first_seq = json.loads(old[0])["seq"]
            name = f"{self.path.stem}-{first_seq:012d}-{last['seq']:012d}.jsonl.gz"
            tmp = archive_dir / (name + ".tmp")
            with gzip.open(tmp, "wb") as out:
                out.writelines(([head] if head else []) + old)
            os.replace(tmp, archive_dir / name)
            checkpoint = {"checkpoint": True, "archived_through": last["seq"], "hash": last["hash"], "archive": name,
                          "time": dt.datetime.now(dt.UTC).isoformat()}
            checkpoint["signature"] = base64.b64encode(self._key.sign(_checkpoint_body(checkpoint))).decode("ascii")
            live_tmp = self.path.with_name(self.path.name + ".tmp")
            with live_tmp.open("wb") as out:
                out.write(canonical_json(checkpoint) + b"\n")
                out.writelines(rest)
                out.flush()
                os.fsync(out.fileno())
            self._fh.close()
            os.replace(live_tmp, self.path)
            self._fh = self.path.open("ab")
            return len(old)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._fh.close()


def read_log(path: Path) -> Iterator[tuple[int, dict | None, str]]:
    """(line number, record or None, raw line) for each non-empty line, streaming (``.gz`` archives too).
    A checkpoint line (see :meth:`MessageLog.archive`) is yielded like a record with ``checkpoint: true``."""
    with _open(path) as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield number, json.loads(raw), raw.decode("utf-8", "replace")
            except ValueError:
                yield number, None, raw.decode("utf-8", "replace")


@dataclass
class LogVerification:
    """What :func:`verify_log_detail` found: records (exchanges), time stamps, the highest record seq a
    verified time stamp covers, the newest stamp's time, and the problems by line."""

    records: int = 0
    problems: list[Problem] = field(default_factory=list)
    timestamps: int = 0
    stamped_through: int = 0
    last_seq: int = 0
    last_stamp: dt.datetime | None = None


#: A record may be dated this much after the time stamp that covers it (clock skew between gateway and TSA).
STAMP_SKEW = dt.timedelta(seconds=60)


def verify_log(path: Path, public_key: Ed25519PublicKey) -> tuple[int, list[Problem]]:
    """Check the whole chain; returns (records read, problems). No problems means the log is intact."""
    result = verify_log_detail(path, public_key)
    return result.records, result.problems


def verify_log_detail(path: Path, public_key: Ed25519PublicKey, *, tsa_ca_pem: bytes | None = None
                      ) -> LogVerification:
    """Check the whole chain and, with ``tsa_ca_pem`` (the CA certificates that issue TSA certificates),
    every time stamp: its token must verify, cover the hash of the record it names, and no record it covers
    may be dated after it. Without ``tsa_ca_pem`` the timestamp records are checked as chain links only."""
    from citygov.exchange.engine.timestamp import TimestampError, verify_token

    out = LogVerification()
    problems = out.problems
    prev, seq, archived_through = GENESIS, 0, 0
    pending: dict[int, tuple[str, str]] = {}  # seq → (hash, time) of records no stamp has covered yet
    for number, record, _raw in read_log(path):
        if record is None:
            out.records += 1
            problems.append(Problem(number, "not a JSON record (非 JSON 紀錄)"))
            continue
        if record.get("checkpoint"):
            try:
                public_key.verify(base64.b64decode(record["signature"]), _checkpoint_body(record))
            except (InvalidSignature, ValueError, KeyError):
                problems.append(Problem(number, "the archive checkpoint's signature does not verify (檢查點簽章失敗)"))
            if seq != 0:
                problems.append(Problem(number, "a checkpoint may only open a log (檢查點位置錯誤)"))
            seq, prev = int(record.get("archived_through", 0)), str(record.get("hash", ""))
            archived_through = seq
            continue
        try:
            if record["seq"] != seq + 1:
                problems.append(Problem(number, f"sequence {record['seq']} follows {seq}: a record is missing or "
                                                f"out of order (序號不連續)"))
            if record["prev"] != prev:
                problems.append(Problem(number, "prev does not match the previous record's hash (雜湊鏈斷裂)"))
            if _record_hash(record) != record["hash"]:
                problems.append(Problem(number, "the record was altered: its hash does not match (紀錄遭竄改)"))
            try:
                public_key.verify(base64.b64decode(record["signature"]), bytes.fromhex(record["hash"]))
            except (InvalidSignature, ValueError):
                problems.append(Problem(number, "the gateway signature does not verify (簽章驗證失敗)"))
            seq, prev = int(record["seq"]), str(record["hash"])
            out.last_seq = seq
            stamp = record.get("timestamp")
            if stamp is None:
                out.records += 1
                pending[seq] = (record["hash"], str(record.get("time", "")))
                continue
            out.timestamps += 1
            through, through_hash = int(stamp["through_seq"]), str(stamp["through_hash"])
            if through in pending:
                if pending[through][0] != through_hash:
                    problems.append(Problem(number, f"the time stamp names another hash for record {through} "
                                                    f"(時戳對應紀錄不符)"))
            elif through > archived_through:
                problems.append(Problem(number, f"the time stamp covers record {through}, which is not in this "
                                                f"log (時戳對應紀錄不存在)"))
            if tsa_ca_pem is None:
                continue
            try:
                gen_time = verify_token(stamp["token"], through_hash, tsa_ca_pem)
            except TimestampError as exc:
                problems.append(Problem(number, f"time stamp: {exc}"))
                continue
            for covered in [s for s in pending if s <= through]:
                _hash, when = pending.pop(covered)
                try:
                    late = dt.datetime.fromisoformat(when) > gen_time + STAMP_SKEW
                except ValueError:
                    late = True
                if late:
                    problems.append(Problem(number, f"record {covered} is dated after the time stamp that covers "
                                                    f"it (紀錄時間晚於時戳)"))
            out.stamped_through = max(out.stamped_through, through)
            out.last_stamp = gen_time
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(Problem(number, f"missing field {exc} (欄位缺漏)"))
    return out

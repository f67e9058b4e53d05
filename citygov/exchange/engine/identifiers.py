"""X-Road identifiers: ``INSTANCE/CLASS/MEMBER/SUBSYSTEM`` (a client) and ``.../SERVICE`` (a service).

Each part is 1-64 characters from letters, digits and ``-_.:`` (X-Road forbids ``/``, ``;``, ``%``,
``\\``, whitespace and non-printables). Instance and member classes are configured per deployment (T-Road's
values can be set), so this module only checks the form.

Identifiers are immutable, so their text and derived parts are computed once per object, and parsing
(on every request of a gateway) is memoised for the most recent few thousand distinct strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_.:]{0,63}$")


class IdentifierError(ValueError):
    """A string is not a well-formed X-Road identifier."""


def _check(part: str, what: str) -> str:
    if not PART.match(part or ""):
        raise IdentifierError(f"invalid {what} {part!r} (識別碼格式錯誤)")
    return part


@dataclass(frozen=True, order=True)
class MemberId:
    """``INSTANCE/CLASS/MEMBER``: an organisation (an agency)."""

    instance: str
    member_class: str
    member_code: str

    def __post_init__(self) -> None:
        _check(self.instance, "instance")
        _check(self.member_class, "member class")
        _check(self.member_code, "member code")

    @cached_property
    def _text(self) -> str:
        return f"{self.instance}/{self.member_class}/{self.member_code}"

    def __str__(self) -> str:
        return self._text

    @classmethod
    def parse(cls, text: str) -> MemberId:
        """``MemberId.parse("TYC/GOV/A001")``; raises :class:`IdentifierError`."""
        parts = (text or "").strip().split("/")
        if len(parts) != 3:
            raise IdentifierError(f"a member id has 3 parts INSTANCE/CLASS/MEMBER: {text!r} (成員識別碼須為 3 段)")
        return cls(*parts)


@dataclass(frozen=True, order=True)
class ClientId:
    """``INSTANCE/CLASS/MEMBER/SUBSYSTEM``: an information system of a member."""

    instance: str
    member_class: str
    member_code: str
    subsystem: str

    def __post_init__(self) -> None:
        MemberId(self.instance, self.member_class, self.member_code)
        _check(self.subsystem, "subsystem")

    @cached_property
    def member(self) -> MemberId:
        """The member this subsystem belongs to."""
        return MemberId(self.instance, self.member_class, self.member_code)

    @cached_property
    def _text(self) -> str:
        return f"{self.member}/{self.subsystem}"

    def __str__(self) -> str:
        return self._text

    @classmethod
    def parse(cls, text: str) -> ClientId:
        """``ClientId.parse("TYC/GOV/A001/HR")``; raises :class:`IdentifierError`."""
        return _parse_client(text)

    def service(self, code: str) -> ServiceId:
        """The service ``code`` of this subsystem (memoised); raises :class:`IdentifierError`."""
        return _service_of(self, code)


@dataclass(frozen=True, order=True)
class ServiceId:
    """``INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE``: a service a subsystem provides."""

    instance: str
    member_class: str
    member_code: str
    subsystem: str
    service_code: str

    def __post_init__(self) -> None:
        ClientId(self.instance, self.member_class, self.member_code, self.subsystem)
        _check(self.service_code, "service code")

    @cached_property
    def provider(self) -> ClientId:
        """The subsystem providing the service."""
        return ClientId(self.instance, self.member_class, self.member_code, self.subsystem)

    @cached_property
    def _text(self) -> str:
        return f"{self.provider}/{self.service_code}"

    def __str__(self) -> str:
        return self._text

    @classmethod
    def parse(cls, text: str) -> ServiceId:
        """``ServiceId.parse("TYC/GOV/A001/HR/persons")``; raises :class:`IdentifierError`."""
        parts = (text or "").strip().split("/")
        if len(parts) != 5:
            raise IdentifierError(
                f"a service id has 5 parts INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE: {text!r} (服務識別碼須為 5 段)")
        return cls(*parts)


def split_request_path(path: str) -> tuple[ClientId, str | None, str]:
    """Split the path after ``/r1/`` into (provider subsystem, service code or None, rest of the path).

    ``TYC/GOV/A002/HR/persons/42`` → (TYC/GOV/A002/HR, "persons", "/42"); ``TYC/GOV/A002/HR`` →
    (subsystem, None, "") for the metadata calls. Raises :class:`IdentifierError`.
    """
    parts = path.split("/")
    if len(parts) < 4:
        raise IdentifierError(f"the path names no service: {path!r} (路徑未指定服務)")
    provider = _client_of_parts(*parts[:4])
    if len(parts) == 4:
        return provider, None, ""
    service_code = _check(parts[4], "service code")
    rest = "/" + "/".join(parts[5:]) if len(parts) > 5 else ""
    return provider, service_code, rest


@lru_cache(maxsize=4096)
def _parse_client(text: str) -> ClientId:
    parts = (text or "").strip().split("/")
    if len(parts) != 4:
        raise IdentifierError(
            f"a client id has 4 parts INSTANCE/CLASS/MEMBER/SUBSYSTEM: {text!r} (用戶端識別碼須為 4 段)")
    return ClientId(*parts)


@lru_cache(maxsize=4096)
def _client_of_parts(instance: str, member_class: str, member_code: str, subsystem: str) -> ClientId:
    return ClientId(instance, member_class, member_code, subsystem)


@lru_cache(maxsize=4096)
def _service_of(provider: ClientId, code: str) -> ServiceId:
    return ServiceId(provider.instance, provider.member_class, provider.member_code, provider.subsystem, code)

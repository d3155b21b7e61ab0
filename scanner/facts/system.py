"""The system under test: what was scanned, named as a validation record names it (one fact per platform).

``linux.system`` (hostname, OS and version, kernel), ``aws.system`` (account, partition, regions) and
``ldap.system`` (directory vendor, version, naming context) all produce a ``SystemUnderTest``; the runner
collects it with every target's other facts and the run record keeps it per target (``Run.systems``).
"""
from __future__ import annotations

from scanner.value import frozen

#: Longest value kept per field (a target's answer is bounded, never trusted).
MAX_FIELD = 256


def bounded(value: str) -> str:
    """One line of at most MAX_FIELD characters: control characters become spaces (a hostile target's text)."""
    text = "".join(" " if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) else c for c in value).strip()
    return text if len(text) <= MAX_FIELD else text[:MAX_FIELD - 1] + "…"


@frozen
class SystemUnderTest:
    """Ordered (key, value) pairs. Keys every platform fills: ``platform``, ``hostname`` (the name the system
    gives itself: host name, account id, directory server), ``os`` (product), ``os_version``; then its own."""

    fields: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, **values: str) -> SystemUnderTest:
        return cls(tuple((k, bounded(v)) for k, v in values.items()))

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

"""What every Linux parser shares: one fact's section of collector output, and the small line parsers.

Every parser takes a ``Section`` (the files shown and the probes run for one fact) and returns a frozen
value of ``scanner.facts.linux``, or raises ``ParseError`` with the reason. Parsers never guess: what they
cannot read is an error.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

TIMEOUT_CODES = (124, 137)
NOT_FOUND = 127


class ParseError(ValueError):
    """The section's output could not be turned into the fact's value."""


@dataclass(frozen=True)
class Probe:
    rc: int
    out: bytes
    err: bytes = b""

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def reason(self, label: str) -> str:
        if self.rc in TIMEOUT_CODES:
            return f"{label}: timed out"
        if self.rc == NOT_FOUND:
            return f"{label}: command not found"
        detail = [d for d in lines((self.err or self.out).decode("utf-8", "replace").strip()) if d]
        return f"{label}: exit {self.rc}" + (f": {detail[0][:200]}" if detail else "")


@dataclass(frozen=True)
class Section:
    """What the collector saw for one fact. ``files`` maps a path to its content (None: absent)."""

    files: Mapping[str, bytes | None] = field(default_factory=dict)
    unreadable: frozenset[str] = frozenset()
    probes: Mapping[str, Probe] = field(default_factory=dict)

    def text(self, path: str) -> str | None:
        data = self.files.get(path)
        return None if data is None else data.decode("utf-8", "replace")

    def present(self, prefix: str = "") -> list[str]:
        return sorted(p for p, d in self.files.items() if d is not None and p.startswith(prefix))

    def probe(self, label: str) -> Probe:
        try:
            return self.probes[label]
        except KeyError:
            raise ParseError(f"probe {label!r} produced no output") from None

    def require_readable(self, *prefixes: str) -> None:
        bad = sorted(p for p in self.unreadable if any(p.startswith(x) for x in prefixes))
        if bad:
            raise ParseError(f"cannot read {', '.join(bad)} (permission denied or failed)")

    def file(self, path: str) -> str:
        """A file that must exist and be readable."""
        self.require_readable(path)
        text = self.text(path)
        if text is None:
            raise ParseError(f"{path} does not exist")
        return text


# ---------------------------------------------------------------- lines and settings


def lines(text: str) -> list[str]:
    """A target's text split into lines the way the tools that read it do: on ``\\n`` only.

    ``str.splitlines`` also breaks on ``\\r``, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028 and
    U+2029, which would turn the rest of a comment line into a live setting.
    """
    return text.splitlines()  # STRUCTURE-COMMIT


def config_lines(text: str, comment: str = "#") -> list[tuple[int, str]]:
    out = []
    for n, raw in enumerate(lines(text), 1):
        line = raw.strip()
        if line and not line.startswith(comment):
            out.append((n, line))
    return out


def key_values(text: str, sep: str | None = None, lower: bool = False) -> dict[str, str]:
    """``KEY VALUE`` (sep None) or ``key = value`` lines; the last occurrence wins."""
    out: dict[str, str] = {}
    for _, line in config_lines(text):
        if sep is None:
            parts = line.split(None, 1)
        elif sep in line:
            parts = [p.strip() for p in line.split(sep, 1)]
        else:
            parts = [line]
        key = parts[0].lower() if lower else parts[0]
        out[key] = parts[1].strip().strip('"') if len(parts) > 1 else ""
    return out


def to_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ParseError(f"not an integer: {value!r}") from None

"""What every Linux parser shares: one fact's section of collector output, and the small line parsers.

Every parser takes a ``Section`` (the files shown and the probes run for one fact) and returns a frozen
value of ``scanner.facts.linux``, or raises ``ParseError`` with the reason. Parsers never guess: what they
cannot read is an error.
"""
from __future__ import annotations

import functools
import re
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
    return text.split("\n")


#: What the tools that read these files take for blanks between words and around a line (C isspace minus newline).
BLANKS = " \t"
TRAILING = " \t\r\x0b\x0c"


def clean(line: str) -> str:
    """A line without its leading blanks (space, tab) and trailing C white space; nothing else is removed."""
    return line.lstrip(BLANKS).rstrip(TRAILING)


def fields(line: str, maxsplit: int = 0) -> list[str]:
    """Words separated by spaces and tabs only (``str.split()`` would also split on \\x1c-\\x1f, \\x85, U+2028...)."""
    return [w for w in re.split(r"[ \t]+", line.strip(BLANKS), maxsplit=maxsplit) if w] if line.strip(BLANKS) else []


def config_lines(text: str, comment: str = "#") -> list[tuple[int, str]]:
    """(line number, line) of every line that is not blank or a comment."""
    out = []
    for n, raw in enumerate(lines(text), 1):
        line = clean(raw)
        if line and not line.startswith(comment):
            out.append((n, line))
    return out


def key_values(text: str, sep: str | None = None, lower: bool = False) -> dict[str, str]:
    """``KEY VALUE`` (sep None) or ``key = value`` lines; the last occurrence wins."""
    return {k: v for k, (v, _) in settings(text, sep, lower).items()}


def settings(text: str, sep: str | None = None, lower: bool = False) -> dict[str, tuple[str, int]]:
    """Like ``key_values``, with the line number each value was read from."""
    out: dict[str, tuple[str, int]] = {}
    for n, line in config_lines(text):
        if sep is None:
            parts = fields(line, 1)
        elif sep in line:
            parts = [p.strip(BLANKS) for p in line.split(sep, 1)]
        else:
            parts = [line]
        key = parts[0].lower() if lower else parts[0]
        out[key] = (parts[1].strip(BLANKS).strip('"') if len(parts) > 1 else "", n)
    return out


def to_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ParseError(f"not an integer: {value!r}") from None


# ---------------------------------------------------------------- processes by executable

#: Every process as "/proc/PID/exe UID TARGET", NUL-terminated (a path may hold a newline, never a NUL). A
#: process that cannot be inspected leaves "Permission denied" on stderr.
PROCESSES_BY_EXE = "@{find} /proc/[0-9]*/exe -maxdepth 0 -printf '%p %U %l\\0'; true"


@dataclass(frozen=True)
class Process:
    pid: str
    uid: str
    exe: str  # the real executable (/proc/PID/exe); "" for a kernel thread or one that could not be read


def processes(probe: Probe) -> tuple[list[Process], bool]:
    """The processes of a ``PROCESSES_BY_EXE`` probe, and whether some of them could not be inspected."""
    if not probe.ok:
        raise ParseError(probe.reason("list processes"))
    found, denied = _processes(probe.out, probe.err)
    return list(found), denied


@functools.lru_cache(maxsize=4)
def _processes(out: bytes, err: bytes) -> tuple[tuple[Process, ...], bool]:
    """Parsed once per listing: the sections that share the one process listing of a batch get the same bytes."""
    found = []
    for record in out.split(b"\0"):
        parts = record.decode("utf-8", "replace").split(" ", 2)
        if len(parts) == 3 and parts[0].startswith("/proc/") and parts[0].endswith("/exe"):
            found.append(Process(parts[0].split("/")[2], parts[1], parts[2]))
    return tuple(found), b"Permission denied" in err


def runs_as_root(probe: Probe, exes: tuple[str, ...], name: str) -> Process | None:
    """The first root process of one of ``exes`` in a ``PROCESSES_BY_EXE`` listing (the real executable, not a
    process name anyone can choose), or None. None seen while some processes could not be inspected: ParseError."""
    found, partial = processes(probe)
    runs = [p for p in found if p.exe in exes and p.uid == "0"]
    if runs:
        return runs[0]
    if partial:
        raise ParseError(f"cannot tell whether {name} runs: some processes could not be inspected")
    return None


#: The units the pack asks systemd about, in one ``systemctl show`` for the whole batch: whether journald and
#: journal-upload are active, the umask rsyslog's unit starts the daemon with, and every loaded timer (what it
#: activates). ``systemctl show`` answers for a named unit that does not exist too (ActiveState=inactive).
SYSTEMD_UNITS = ("systemd-journald.service", "systemd-journal-upload.service", "rsyslog.service")
UNITS_PROBE = ("@{systemctl} show --no-pager -p Id,ActiveState,UMask,Unit " + " ".join(SYSTEMD_UNITS)
               + " '*.timer'")


def systemd_units(probe: Probe) -> dict[str, dict[str, str]]:
    """Unit id -> its properties, from a ``UNITS_PROBE`` (blocks of ``Key=value`` lines, one blank line between
    units). Raises ParseError when systemctl failed or printed anything else."""
    if not probe.ok:
        raise ParseError(probe.reason("systemctl show"))
    units: dict[str, dict[str, str]] = {}
    for block in probe.text().split("\n\n"):
        props: dict[str, str] = {}
        for line in lines(block):
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.isalnum():
                raise ParseError(f"systemctl show: not a 'Property=value' line: {line[:100]!r}")
            props[key] = value
        if not props:
            continue
        if "Id" not in props:
            raise ParseError("systemctl show: a unit without Id")
        units.setdefault(props["Id"], props)
    return units


def unit_state(section: Section, unit: str) -> tuple[str, str]:
    """The ActiveState of a unit from the batch's one ``systemctl show`` ("" when systemctl could not answer), and
    the words that say how it is known."""
    probe = section.probe("units")
    try:
        state = systemd_units(probe).get(unit, {}).get("ActiveState", "")
    except ParseError as exc:
        return "", str(exc)
    return state, f"systemctl show {unit}: ActiveState={state or '(none)'}"

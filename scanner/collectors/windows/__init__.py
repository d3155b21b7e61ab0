"""Windows facts, gathered by one PowerShell script in one WinRM round trip.

``collect.ps1`` (package data) holds one block per fact; the collector sends the script once with the facts asked
for, a per-run nonce and the fact timeout, and reads back one frame per fact: ``<nonce> FACT <name> <ms> ok|error``,
one line of JSON, ``<nonce> END <name>``. Decoding is strict: a frame that is missing, cut off, framed twice, too
large, not UTF-8, not JSON, or not exactly the shape of its type in ``scanner/facts/windows.py`` is a failed fact,
never a default. Facts marked ``needs_root`` need local Administrators; the script says so when it lacks them.
"""
from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from functools import cache
from typing import Any

from scanner import packaged
from scanner.collectors import FactSpec
from scanner.collectors import batch_failure as _batch_failure
from scanner.connectors import CommandResult, ConnectorError
from scanner.facts import windows as wf
from scanner.facts.backup import BackupStatus, BackupStatusFormat
from scanner.facts.ldap import PasswordRules
from scanner.facts.system import SystemUnderTest, bounded
from scanner.model import Evidence, Fact, Target
from scanner.selftest.decode import DecodeError, decode
from scanner.value import frozen

DEFAULT_FACT_TIMEOUT = 10.0
#: Bound of the whole output of one host, and of one fact's JSON line.
OUTPUT_LIMIT = 8 * 1024 * 1024
FACT_LIMIT = 2 * 1024 * 1024
NEEDS_ADMIN = "needs local Administrators"
_NEVER = -(2 ** 63)  # SAM: an interval that never ends (passwords never expire, locked until unlocked)


class ParseError(ValueError):
    pass


# ---------------------------------------------------------------- the script and its blocks


@frozen
class Block:
    name: str
    admin: bool
    body: str


_BLOCK = re.compile(r"^\$Facts\['([a-z_.]+)'\] = @\{ Admin = \$(true|false); Body = @'\n(.*?)\n'@ \}$", re.M | re.S)


@cache
def script_text() -> str:
    return packaged.files(__package__).joinpath("collect.ps1").read_text(encoding="utf-8")


@cache
def blocks() -> dict[str, Block]:
    """The fact blocks of collect.ps1: the evidence source of each fact, and whether it needs Administrators."""
    return {m.group(1): Block(m.group(1), m.group(2) == "true", m.group(3)) for m in _BLOCK.finditer(script_text())}


def _ps_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@cache
def _registry_pairs() -> str:
    return ", ".join(f"@({_ps_string(k)}, {_ps_string(n)})" for k, n in wf.REGISTRY_VALUES)


def prelude(target: Target | None = None) -> str:
    """Data every block starts with: the registry values the checks read (``scanner.facts.windows``) and the
    backup status file the policy declares."""
    status = target.policy.get("backup_status_file") if target is not None else None
    status_file = _ps_string(str(status)) if status else "$null"
    return f"$RegistryValues = @({_registry_pairs()})\n$BackupStatusFile = {status_file}"


@cache
def sent_text() -> str:
    """collect.ps1 as it is sent, worked out once: without its comment lines, blank lines and indentation.

    PowerShell reads the same tokens (the script has no multi-line string a line's indentation belongs to, and its
    comments are whole lines; tests/collectors/test_windows.py compares the token streams), in about two thirds of
    the bytes. The evidence of a fact quotes its block as collect.ps1 has it (``source_of``)."""
    lines = (line.strip() for line in script_text().split("\n"))
    return "\n".join(line for line in lines if line and not line.startswith("#"))


def build_script(names: Iterable[str], nonce: str, fact_timeout: float, target: Target | None = None) -> str:
    """The script the connector streams to PowerShell, which compiles all of it as one script block: a few
    one-line assignments, then collect.ps1 (``sent_text``)."""
    wanted = ", ".join(_ps_string(n) for n in names)
    return "\n".join([
        "$ErrorActionPreference = 'Stop'",
        f"$N = '{nonce}'",
        f"$Wanted = @({wanted})",
        f"$FactTimeoutMs = {int(fact_timeout * 1000)}",
        f"$Prelude = {_ps_string(prelude(target))}",
        sent_text(),
        "",
    ])


# ---------------------------------------------------------------- reading the frames back


#: A frame line, tried where the run's nonce starts a line (one pattern for every run, not one compiled per nonce):
#: the nonce, FACT or END, the fact, and for FACT its milliseconds and outcome.
_MARKER = re.compile(rb"\n([0-9a-f]{32}) (FACT|END) ([a-z_.]{1,64})(?: (\d{1,9}) (ok|error))?\n")


@frozen
class Frame:
    name: str
    millis: int
    ok: bool
    payload: bytes  # the JSON line
    raw: bytes  # the whole frame, header to END, as evidence
    complete: bool


def split_frames(stdout: bytes, nonce: str) -> dict[str, Frame | str]:
    """name -> its frame, or why it cannot be trusted (framed twice). Only lines starting with the nonce count."""
    mine = nonce.encode()
    out: dict[str, Frame | str] = {}
    open_: re.Match[bytes] | None = None

    def close(end: int, end_at: int, complete: bool) -> None:
        assert open_ is not None
        name = open_.group(3).decode()
        frame = Frame(name, int(open_.group(4)), open_.group(5) == b"ok", stdout[open_.end():end].strip(b"\n"),
                      stdout[open_.start() + 1:end_at], complete)
        out[name] = f"{name} is framed more than once in the output" if name in out else frame

    prefix = b"\n" + mine + b" "
    at = stdout.find(prefix)
    while at >= 0:  # what finditer of a pattern starting with the nonce would find, without compiling one per run
        m = _MARKER.match(stdout, at)
        if m is None or m.group(1) != mine:
            at = stdout.find(prefix, at + 1)
            continue
        at = stdout.find(prefix, m.end())
        kind = m.group(2)
        if kind == b"FACT" and m.group(4) is not None:
            if open_ is not None:
                close(m.start(), m.start(), complete=False)
            open_ = m
        elif kind == b"END" and m.group(4) is None and open_ is not None and m.group(3) == open_.group(3):
            close(m.start(), m.end(), complete=True)
            open_ = None
    if open_ is not None:
        close(len(stdout), len(stdout), complete=False)
    return out


def _reject_relative_times(data: Any, path: str) -> None:
    """The fact decoder reads ``now-3d`` as a relative time for known-answer files; a host must send real times."""
    if isinstance(data, str) and data.startswith("now"):
        raise ParseError(f"{path}: not a time or value a host sends: {data[:40]!r}")
    if isinstance(data, Mapping):
        for k, v in data.items():
            _reject_relative_times(v, f"{path}.{k}")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _reject_relative_times(v, f"{path}[{i}]")


def _may_hold_relative_time(payload: bytes) -> bool:
    """Whether a JSON text can hold a string that starts with ``now``: in JSON such a string is written ``"now``
    or with a ``\\u`` escape; a text with neither needs no walk."""
    return b'"now' in payload or b"\\u" in payload


def _typed(hint: Any) -> Callable[[Any, Target], Any]:
    def parse(data: Any, target: Target) -> Any:
        return decode(data, hint, "value", datetime.now(timezone.utc))
    return parse


def _mapping(data: Any, keys: Iterable[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ParseError(f"expected a JSON object, got {type(data).__name__}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ParseError(f"missing {', '.join(missing)}")
    return data


def parse_system(data: Any, target: Target) -> SystemUnderTest:
    d = _mapping(data, ("hostname", "os", "os_version", "build", "domain", "part_of_domain"))
    if not all(isinstance(d[k], str) for k in ("hostname", "os", "os_version", "build", "domain")):
        raise ParseError("system fields must be strings")
    return SystemUnderTest.of(platform="windows", hostname=d["hostname"], os=d["os"], os_version=d["os_version"],
                              build=d["build"], domain=d["domain"] if d["part_of_domain"] is True else "(workgroup)")


def _interval_seconds(raw: Any, what: str, never_ok: bool, zero_is_never: bool = False) -> float | None:
    """A SAM delta time in seconds; None for "never". ``zero_is_never``: for the maximum password age, where the SAM
    treats 0 like the "never" value ([MS-SAMR] 3.1.5.14.4: a zero Effective-MaximumPasswordAge never expires)."""
    if not isinstance(raw, int) or isinstance(raw, bool) or raw > 0:
        raise ParseError(f"{what}: expected a SAM interval (0 or negative 100-ns units), got {raw!r}")
    if raw == _NEVER or (zero_is_never and raw == 0):
        if never_ok:
            return None
        raise ParseError(f"{what}: 'never' is not a valid value here")
    return -raw / 10_000_000


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 86400, 4)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def parse_password_policy(data: Any, target: Target) -> PasswordRules:
    keys = ("min_length", "history", "properties", "max_age_100ns", "min_age_100ns", "lockout_duration_100ns",
            "lockout_window_100ns", "lockout_threshold")
    d = _mapping(data, keys)
    for k in ("min_length", "history", "properties", "lockout_threshold"):
        if not isinstance(d[k], int) or isinstance(d[k], bool) or not 0 <= d[k] <= 0xFFFFFFFF:
            raise ParseError(f"{k}: expected a non-negative integer, got {d[k]!r}")
    min_age = _days(_interval_seconds(d["min_age_100ns"], "minimum password age", never_ok=False))
    window = _minutes(_interval_seconds(d["lockout_window_100ns"], "lockout observation window", never_ok=False))
    return PasswordRules(
        min_length=d["min_length"], complexity=bool(d["properties"] & 0x1),
        reversible_encryption=bool(d["properties"] & 0x10),
        max_age_days=_days(_interval_seconds(d["max_age_100ns"], "maximum password age", never_ok=True,
                                             zero_is_never=True)),
        min_age_days=min_age or 0.0, history=d["history"], lockout_threshold=d["lockout_threshold"],
        lockout_duration_minutes=_minutes(_interval_seconds(d["lockout_duration_100ns"], "lockout duration",
                                                            never_ok=True)),
        lockout_window_minutes=window or 0.0)


@cache
def _registry_wanted() -> list[tuple[str, str]]:
    """The registry values the script reads, as the host's answer is compared with them (sorted, lower case)."""
    return sorted((k.lower(), n.lower()) for k, n in wf.REGISTRY_VALUES)


def parse_registry(data: Any, target: Target) -> wf.Registry:
    registry: wf.Registry = _typed(wf.Registry)(data, target)
    seen = [(v.key.lower(), v.name.lower()) for v in registry.values]
    wanted = _registry_wanted()
    if sorted(seen) != wanted:
        raise ParseError("the registry values read are not exactly the ones asked for "
                         f"({len(seen)} read, {len(wanted)} asked)")
    return registry


_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")
#: ``w32tm /query /status /verbose``, one value per line in this documented order (labels are localised).
_W32TM_LINES = 16
_LEAP, _STRATUM, _SOURCE, _OFFSET, _ERROR, _SINCE = 0, 1, 7, 9, 14, 15


def _number(line: str, what: str) -> float:
    value = line.partition(":")[2].strip()
    m = _NUMBER.match(value)
    if not m:
        raise ParseError(f"w32tm {what}: no number in {line[:80]!r}")
    return float(m.group(0).replace(",", "."))


def parse_time(data: Any, target: Target) -> wf.TimeStatus:
    d = _mapping(data, ("service_running", "sync_type", "ntp_server", "status"))
    if not isinstance(d["service_running"], bool) or not isinstance(d["status"], list) or \
            not all(isinstance(x, str) for x in (d["sync_type"], d["ntp_server"], *d["status"])):
        raise ParseError("unexpected types in the w32time fact")
    lines = [x for x in d["status"] if x.strip()]
    if not d["service_running"]:
        return wf.TimeStatus(False, d["sync_type"], d["ntp_server"], 3, 0, "", 0.0, -1, -1.0)
    if len(lines) < _W32TM_LINES:
        raise ParseError(f"w32tm /query /status /verbose printed {len(lines)} lines, expected {_W32TM_LINES}")
    # The 'Last Sync Error' value may be a negative HRESULT; the 'since' value is seconds.
    return wf.TimeStatus(
        service_running=True, sync_type=d["sync_type"], ntp_server=d["ntp_server"],
        leap_indicator=int(_number(lines[_LEAP], "leap indicator")), stratum=int(_number(lines[_STRATUM], "stratum")),
        source=lines[_SOURCE].partition(":")[2].strip()[:256],
        phase_offset_seconds=_number(lines[_OFFSET], "phase offset"),
        last_sync_error=int(_number(lines[_ERROR], "last sync error")),
        since_last_sync_seconds=_number(lines[_SINCE], "time since last good sync"))


def _status(data: Any, now: datetime, target: Target) -> BackupStatus | None:
    """The declared status file, read by the same explicit-format rule as on Linux (``backup_status_format``:
    mtime by default, iso8601, epoch, json:<field>, regex:<pattern>). The Linux reader is imported only when a
    status file is declared: a Windows scan does not load the Linux collector."""
    path = target.policy.get("backup_status_file")
    if not path:
        if data is not None:
            raise ParseError("the host read a backup status file the policy does not declare")
        return None
    from scanner.collectors.linux_backup import parse_format, read_timestamp
    from scanner.collectors.linux_common import ParseError as LinuxParseError

    d = _mapping(data, ("path", "exists", "mtime", "text"))
    if d["path"] != str(path) or not isinstance(d["exists"], bool) or not isinstance(d["text"], str):
        raise ParseError(f"the backup status of {str(d['path'])[:100]!r} is not the declared file's")
    if not d["exists"]:
        raise ParseError(f"backup status file {path} does not exist")
    declared = target.policy.get("backup_status_format")
    text = d["text"]
    try:
        fmt, arg = parse_format(declared) if declared is not None else (BackupStatusFormat.MTIME, "")
        if fmt is BackupStatusFormat.MTIME:
            mtime = decode(d["mtime"], datetime, "status.mtime", now)
            return BackupStatus("file", str(path), mtime, now, text[:500], fmt, f"mtime {mtime.isoformat()}")
        last, matched = read_timestamp(text, fmt, arg)
    except LinuxParseError as exc:
        raise ParseError(str(exc)) from None
    return BackupStatus("file", str(path), last, now, text[:500], fmt, matched)


def parse_backup(data: Any, target: Target) -> wf.BackupState:
    d = dict(_mapping(data, ("status", "now")))
    now = decode(d.pop("now"), datetime, "now", datetime.now(timezone.utc))
    status = _status(d.pop("status"), now, target)
    state: wf.BackupState = _typed(wf.BackupState)(d, target)
    return dataclasses.replace(state, status=status)


@frozen
class WinFact:
    name: str
    description: str
    parse: Callable[[Any, Target], object]


FACT_TABLE: tuple[WinFact, ...] = (
    WinFact("windows.system", "the system under test: host name, Windows edition, version and build (CIM)",
            parse_system),
    WinFact("windows.local_accounts", "local accounts by SID: enabled, password required and expiring, last logon "
            "(Win32_UserAccount, Get-LocalUser)", _typed(wf.LocalAccounts)),
    WinFact("windows.admin_group", "members of the local Administrators group S-1-5-32-544 (ADSI WinNT)",
            _typed(wf.AdminGroup)),
    WinFact("windows.password_policy", "local password and lockout policy from the SAM account domain (numbers)",
            parse_password_policy),
    WinFact("windows.registry", "security settings read as registry numbers (LSA, UAC, RDP, SChannel, "
            "LanmanServer)", parse_registry),
    WinFact("windows.smb_server", "SMB server configuration (Get-SmbServerConfiguration)",
            _typed(wf.SmbServer)),
    WinFact("windows.winrm_service", "WinRM service configuration and listeners (WSMan: drive)",
            _typed(wf.WinRMService)),
    WinFact("windows.audit_policy", "effective advanced audit policy per subcategory GUID (AuditQuerySystemPolicy)",
            _typed(wf.AuditPolicy)),
    WinFact("windows.security_log", "Security event log size, retention mode and oldest event (Get-WinEvent)",
            _typed(wf.SecurityLog)),
    WinFact("windows.services", "services by key name, start mode and state (Win32_Service)", _typed(wf.Services)),
    WinFact("windows.event_forwarding", "Windows Event Forwarding subscription managers (policy registry key)",
            _typed(wf.EventForwarding)),
    WinFact("windows.time", "w32time configuration, service and status (registry, w32tm /query /status /verbose)",
            parse_time),
    WinFact("windows.bitlocker", "BitLocker volumes and every fixed volume (Get-BitLockerVolume, Win32_Volume)",
            _typed(wf.BitLocker)),
    WinFact("windows.backup", "Windows Server Backup policy and summary, VSS snapshot tasks",
            parse_backup),
    WinFact("windows.firewall", "Windows Firewall profiles (Get-NetFirewallProfile)", _typed(wf.Firewall)),
)
BY_NAME = {f.name: f for f in FACT_TABLE}


@cache
def _facts() -> dict[str, FactSpec]:
    return {f.name: FactSpec(f.name, f.description, blocks()[f.name].admin) for f in FACT_TABLE}


def __getattr__(name: str) -> Any:  # FACTS is built from collect.ps1 on first use, not at import
    if name == "FACTS":
        return _facts()
    raise AttributeError(name)


def source_of(name: str, millis: int | None = None) -> str:
    ran = f", ran {millis} ms on the host" if millis is not None else ""
    return f"collect.ps1 fact {name} (PowerShell{ran}):\n{blocks()[name].body}"


def fact_from_frame(name: str, frame: Frame | str | None, result: CommandResult, target: Target) -> Fact:
    if frame is None:
        return Fact.failed(name, _batch_failure(result), (Evidence.of(source_of(name), result.stderr),))
    if isinstance(frame, str):
        return Fact.failed(name, frame)
    evidence = (Evidence.of(source_of(name, frame.millis), frame.raw),)
    if not frame.complete:
        return Fact.failed(name, "frame incomplete: " + _batch_failure(result), evidence)
    if len(frame.payload) > FACT_LIMIT:
        return Fact.failed(name, f"fact output larger than {FACT_LIMIT} bytes", evidence)
    try:
        data = json.loads(frame.payload.decode("utf-8"))
    except UnicodeDecodeError:
        return Fact.failed(name, "fact output is not UTF-8", evidence)
    except (ValueError, RecursionError) as exc:
        return Fact.failed(name, f"fact output is not JSON: {str(exc)[:200]}", evidence)
    if not frame.ok:
        why = data.get("error") if isinstance(data, Mapping) else None
        text = str(why)[:500] if why else "the fact block failed without a message"
        return Fact.failed(name, NEEDS_ADMIN if text == NEEDS_ADMIN else f"the fact block failed: {text}", evidence)
    try:
        if _may_hold_relative_time(frame.payload):
            _reject_relative_times(data, "value")
        return Fact(name, BY_NAME[name].parse(data, target), evidence)
    except (ParseError, DecodeError, LookupError) as exc:
        return Fact.failed(name, f"unexpected fact output: {exc}", evidence)
    except Exception as exc:  # a parser bug fails closed too
        return Fact.failed(name, f"parser failed: {type(exc).__name__}: {exc}", evidence)


def collect(connector: Any, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    wanted = sorted(set(names))
    facts = {n: Fact.failed(n, "unknown Windows fact") for n in wanted if n not in BY_NAME}
    ours = [n for n in wanted if n in BY_NAME]
    if not ours:
        return facts
    fact_timeout = float(target.opt("fact_timeout", DEFAULT_FACT_TIMEOUT))
    nonce = secrets.token_hex(16)
    script = build_script(ours, nonce, fact_timeout, target)
    timeout = float(target.opt("host_timeout") or len(ours) * (fact_timeout + 2) + 30)
    try:
        result = connector.run(script, timeout=timeout, limit=OUTPUT_LIMIT)
    except ConnectorError as exc:
        return {**facts, **{n: Fact.failed(n, f"connector error: {exc}") for n in ours}}
    frames = split_frames(result.stdout, nonce)
    facts.update({n: fact_from_frame(n, frames.get(n), result, target) for n in ours})
    system = facts.get("windows.system")
    if system is not None and system.ok:
        facts["windows.system"] = with_protection(system, connector)
    return facts


def with_protection(system: Fact, connector: Any) -> Fact:
    """The system fact with the connection's protection (``https+ntlm``, ``http+ntlm-sealed``, ...) added, so the
    run record says how the evidence travelled; ``unknown`` for a connector that does not say."""
    protection = getattr(connector, "protection", None)
    value: SystemUnderTest = system.value
    fields = value.fields + (("protection", bounded(protection) if isinstance(protection, str) else "unknown"),)
    return dataclasses.replace(system, value=SystemUnderTest(fields))

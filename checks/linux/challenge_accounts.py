"""Linux account challenges (intrusive): lockout after failed SSH logons (pam_faillock), and a logon in the audit trail.

Both act on the inventory's ``challenge_account`` only, over SSH with its password (``challenge_password_env``); the
reset and every read of the target's records go through the scan's own connection (its account, its sudo). The
lockout challenge makes at most ``lockout_threshold`` wrong attempts and one right one, then resets the tally in a
clean-up step and proves the account logs on again.

The audit trail is read as root in one script per poll (auditd log, journal, wtmp, each framed and base64-encoded,
each bounded) and parsed here: every byte of it is the target's, so records are matched field by field (a value
that smuggles in a second ``acct=`` voids its record), never by searching for text.
"""
from __future__ import annotations

import base64
import enum
import json
import re
import secrets
import shlex
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from checks.linux.challenge_ssh import resource as sshd_resource
from checks.linux.challenge_ssh import where
from scanner.challenge import ChallengeContext, ChallengeRefused, Probe, TestAccount, challenge
from scanner.model import Finding, Target, error, failed, passed
from scanner.probes import ssh as probe
from scanner.probes.ssh import Logon

ACCOUNT_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
#: The tally directory pam_faillock uses (its ``dir`` in faillock.conf; the faillock tool does not read it itself).
FAILLOCK = ('d=$(sed -n "s/^[[:space:]]*dir[[:space:]]*=[[:space:]]*//p" /etc/security/faillock.conf 2>/dev/null '
            '| tail -n 1); exec faillock ${d:+--dir "$d"} --user %s%s')
TALLY_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s.*\sV\s*$")
WTMP = "/var/log/wtmp"
WTMP_RECORD = 384  # struct utmp on Linux (x86-64, aarch64)
WTMP_TAIL = 2048  # records read from the end of wtmp
USER_PROCESS = 7
CLOCK_SKEW = 5  # seconds a target's clock may lag the scanner's


def _account(ctx: ChallengeContext) -> TestAccount:
    account = ctx.test_account()
    if not ACCOUNT_NAME.fullmatch(account.name):
        raise ChallengeRefused(f"challenge_account {account.name!r} is not a plain Linux account name")
    return account


def _logon(target: Target, account: TestAccount, password: str, expect: Logon) -> Callable[[], Probe]:
    def run() -> Probe:
        outcome = probe.password_logon(target, account.name, password)
        return Probe(outcome is expect, f"logon {outcome.value}", sent=f"userauth-request password for {account.name}")

    return run


def _faillock(target: Target, name: str, reset: bool) -> Callable[[], Probe]:
    """Read (ok: the output could be read) or reset (ok: the reset succeeded) the tally, as root."""
    script = FAILLOCK % (shlex.quote(name), " --reset" if reset else "")

    def run() -> Probe:
        result = probe.run(target, script, become=True, limit=65536)
        out = result.stdout.decode("utf-8", "replace")
        if result.exit_code != 0:
            return Probe(False if reset else None, f"faillock exited {result.exit_code}: "
                         f"{result.stderr.decode('utf-8', 'replace')[:300]}", sent=script, received=result.stdout)
        failures = sum(1 for line in out.split("\n") if TALLY_LINE.match(line))
        return Probe(True, "tally reset" if reset else f"{failures} valid failures recorded", sent=script,
                     received=result.stdout)

    return run


@challenge(id="linux.challenge.lockout", title="Failed SSH logons lock the test account", severity="high",
           area="access_control", impact="intrusive",
           criterion="After lockout_threshold (default 5) logons with a wrong password over SSH, a logon of the test "
                     "account with its right password is refused (locked, e.g. by pam_faillock); the tally is then "
                     "reset as root and a right-password logon succeeds again. At most lockout_threshold + 1 failed "
                     "attempts; no other account is touched.",
           remediation="Configure pam_faillock (deny = the policy's threshold in /etc/security/faillock.conf, "
                       "preauth/authfail/authsucc lines in the PAM auth stack sshd uses) and keep UsePAM yes in "
                       "sshd_config.")
def lockout(ctx: ChallengeContext, lockout_threshold: int = 5) -> list[Finding]:
    account, target = _account(ctx), ctx.target
    res = f"account {account.name} on {sshd_resource(target)}"
    wrong = f"gxpscan-wrong-{secrets.token_hex(12)}"  # never the right one: a fresh random value
    attempts = max(1, int(lockout_threshold))
    reset_by_hand = (f"on {where(target)} as root: faillock --user {account.name} --reset (with --dir if "
                     "faillock.conf sets dir)")
    try:
        for i in range(attempts):
            seen = ctx.step(f"password logon over SSH to {where(target)} as {account.name} with a wrong password "
                            f"({i + 1} of {attempts})", "the logon is refused",
                            _logon(target, account, wrong, Logon.REFUSED))
            if seen.ok is not True:
                return [error(res, f"wrong-password attempt {i + 1} did not end as expected: {seen.actual}")]
        locked = ctx.step(f"password logon over SSH to {where(target)} as {account.name} with the right password",
                          "the logon is refused: the account is locked",
                          _logon(target, account, account.password, Logon.REFUSED))
        tally = ctx.step(f"read the faillock tally of {account.name} as root over the scan's connection",
                         f"at least {attempts} valid failures recorded", _faillock(target, account.name, reset=False))
    finally:
        ctx.step(f"reset the faillock tally of {account.name} as root over the scan's connection",
                 "the reset succeeds", _faillock(target, account.name, reset=True), cleanup=True,
                 restore_by_hand=reset_by_hand)
        ctx.step(f"password logon over SSH to {where(target)} as {account.name} with the right password "
                 "(the unlock works)", "the logon is accepted",
                 _logon(target, account, account.password, Logon.ACCEPTED), cleanup=True,
                 restore_by_hand=reset_by_hand)
    observed: dict[str, Any] = {"attempts": attempts, "right_password_after": locked.actual, "tally": tally.actual}
    if locked.ok is None:
        return [error(res, f"the logon after {attempts} failures could not be judged: {locked.actual}", **observed)]
    if locked.ok:
        return [passed(res, f"after {attempts} wrong passwords the right one was refused (locked; {tally.actual}); "
                            "unlocked and verified", **observed)]
    return [failed(res, f"after {attempts} wrong passwords the right password still logs on: no lockout",
                   **observed)]


@dataclass(frozen=True)
class LoginRecord:
    user: str
    line: str
    host: str
    at: datetime


def parse_wtmp(data: bytes) -> list[LoginRecord]:
    """USER_PROCESS records of a Linux wtmp (whole 384-byte records only)."""
    records = []
    for offset in range(0, len(data) - WTMP_RECORD + 1, WTMP_RECORD):
        rec = data[offset:offset + WTMP_RECORD]
        (kind,) = struct.unpack_from("<h", rec, 0)
        if kind != USER_PROCESS:
            continue
        line, user, host = (rec[a:b].split(b"\0", 1)[0].decode("utf-8", "replace")
                            for a, b in ((8, 40), (44, 76), (76, 332)))
        (seconds,) = struct.unpack_from("<i", rec, 340)
        records.append(LoginRecord(user, line, host, datetime.fromtimestamp(seconds, timezone.utc)))
    return records


# ---- the logon in the audit trail --------------------------------------------------------------------------------

class TrailSource(str, enum.Enum):
    """Where a logon may be recorded, in the order they are asked. wtmp holds login records, not an audit trail."""

    AUDITD = "auditd"
    JOURNAL = "journal"
    WTMP = "wtmp"


class Seen(str, enum.Enum):
    RECORDED = "recorded"
    NOT_RECORDED = "not recorded"
    ABSENT = "absent"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Sighting:
    """What one source showed on one read: ``record`` describes the matching record when RECORDED."""

    source: TrailSource
    seen: Seen
    record: str = ""

    def summary(self) -> str:
        return f"{self.source.value}: {self.record or self.seen.value}"


#: What the read script may return per source, in bytes before base64: the tail of the audit log after keeping its
#: USER_LOGIN/USER_START lines, sshd's journal entries since the logon, and whole wtmp records.
AUDIT_TAIL, AUDIT_SCAN, JOURNAL_TAIL, JOURNAL_ENTRIES = 1 << 19, 16 << 20, 1 << 19, 2000
MAX_LINE = 16384  # a longer audit line or journal entry is not looked at
SSHD_COMMS = ("sshd", "sshd-session")  # OpenSSH 9.8 moved the per-connection process to sshd-session
AUDITD_CONF = "/etc/audit/auditd.conf"
AUDIT_LOG = "/var/log/audit/audit.log"
FRAME = "=gxp"
AUDIT_UNSET = "4294967295"  # (u32)-1: the process has no audit session
AUDIT_RECORD = re.compile(r"type=(USER_LOGIN|USER_START) msg=audit\((\d{1,12}(?:\.\d{1,6})?):\d{1,20}\): "
                          r"(.*?) ?msg='(.*)'")
AUDIT_FIELD = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)=(\"[^\"]*\"|[^\s\"']*)(?: +|\Z)")
HEX = re.compile(r"(?:[0-9A-F]{2})+")
ACCEPTED = re.compile(r"Accepted (?:password|keyboard-interactive/pam) for (\S+) from (\S+) port \d{1,5} ssh2")


def _read_script(sources: tuple[TrailSource, ...], name: str, since: int) -> str:
    """One POSIX sh script, run as root, that frames each asked source as ``=gxp <source> absent|unreadable|read``
    (``read`` followed by one line of base64), after ``=gxp uid <uid of the account>``. ``emit NAME FILE READER``:
    absent when FILE does not exist, unreadable when it cannot be opened, else what READER (a function given FILE)
    prints; the journal's FILE is the first journal file found."""
    comms = " ".join(f"_COMM={c}" for c in SSHD_COMMS)
    readers = {
        TrailSource.AUDITD: (
            f"f=$(sed -n 's/^[[:space:]]*log_file[[:space:]]*=[[:space:]]*//p' {AUDITD_CONF} 2>/dev/null | tail -n 1 "
            f"| sed 's/[[:space:]]*$//')\n"
            f"auditd_tail() {{ tail -c {AUDIT_SCAN} -- \"$1\" | grep -a -E '^type=USER_(LOGIN|START) ' "
            f"| tail -c {AUDIT_TAIL}; }}\n"
            f"emit auditd \"${{f:-{AUDIT_LOG}}}\" auditd_tail"),
        TrailSource.JOURNAL: (
            "j=$(ls /run/log/journal/*/*.journal /var/log/journal/*/*.journal 2>/dev/null | head -n 1)\n"
            f"journal_read() {{ journalctl -q --no-pager -o json -n {JOURNAL_ENTRIES} --since @{since} {comms} _UID=0 "
            f"| tail -c {JOURNAL_TAIL}; }}\n"
            "if [ -n \"$j\" ] && ! journalctl -q --no-pager -n 0 >/dev/null 2>&1; then frame journal unreadable\n"
            "else emit journal \"${j:-/nonexistent/journal}\" journal_read; fi"),
        TrailSource.WTMP: (
            f"wtmp_tail() {{ tail -c {WTMP_TAIL * WTMP_RECORD} -- \"$1\"; }}\n"
            f"emit wtmp {WTMP} wtmp_tail"),
    }
    return "\n".join([
        f"frame() {{ printf '{FRAME} %s %s\\n' \"$1\" \"$2\"; }}",
        "emit() {\n"
        "  if [ ! -e \"$2\" ]; then frame \"$1\" absent\n"
        "  elif head -c 0 -- \"$2\" 2>/dev/null; then frame \"$1\" read; \"$3\" \"$2\" | base64 -w 0; echo\n"
        "  else frame \"$1\" unreadable; fi\n"
        "}",
        f"frame uid \"$(id -u -- {shlex.quote(name)} 2>/dev/null)\"",
        *(readers[s] for s in sources)])


def parse_frames(stdout: bytes, sources: tuple[TrailSource, ...]) -> tuple[str, dict[TrailSource, bytes | Seen]]:
    """The account's uid and, per source, its data or why there is none. Raises ValueError on anything but the
    exact framing the script writes (every asked source once, in order)."""
    lines = stdout.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    head = f"{FRAME} uid ".encode()
    if not lines or not lines[0].startswith(head) or not re.fullmatch(rb"\d{0,10}", lines[0][len(head):]):
        raise ValueError("no uid frame")
    uid, i = lines[0][len(head):].decode(), 1
    out: dict[TrailSource, bytes | Seen] = {}
    for source in sources:
        frame = lines[i].split(b" ") if i < len(lines) else []
        if len(frame) != 3 or frame[0] != FRAME.encode() or frame[1] != source.value.encode():
            raise ValueError(f"no frame for {source.value}")
        state, i = frame[2].decode("ascii", "replace"), i + 1
        if state == "read" and i < len(lines):
            out[source] = base64.b64decode(lines[i], validate=True)
            i += 1
        elif state in (Seen.ABSENT.value, Seen.UNREADABLE.value):
            out[source] = Seen(state)
        else:
            raise ValueError(f"bad frame for {source.value}")
    if i != len(lines):
        raise ValueError("trailing output")
    return uid, out


def _fields(text: str) -> dict[str, str] | None:
    """``key=value`` fields separated by spaces (a value bare or in double quotes); None when the text is anything
    else or names a key twice (a value that smuggled in a second ``acct=``)."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        m = AUDIT_FIELD.match(text, pos)
        if not m or m.end() == pos or m.group(1) in out:
            return None
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


def _encoded(value: str) -> str | None:
    """An auditd string value: in double quotes as it is, bare as hex (how auditd writes odd values), else None."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if HEX.fullmatch(value):
        try:
            return bytes.fromhex(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _when(epoch: float, lo: float, hi: float) -> datetime | None:
    return datetime.fromtimestamp(epoch, timezone.utc) if lo <= epoch <= hi else None


def audit_logons(data: bytes, name: str, uid: str, lo: float, hi: float, ses: str = "") -> list[str]:
    """Successful sshd USER_START (acct = name) and USER_LOGIN (acct = name or id = uid) records of the audit log
    between lo and hi (epoch seconds), sent by root, of audit session ``ses`` when it is known, each described."""
    found = []
    for raw in data.split(b"\n"):
        if len(raw) > MAX_LINE:
            continue
        line = raw.split(b"\x1d", 1)[0].decode("utf-8", "replace")  # ENRICHED format: names after a GS byte
        m = AUDIT_RECORD.fullmatch(line)
        outer, inner = (_fields(m.group(3)), _fields(m.group(4))) if m else (None, None)
        if m is None or outer is None or inner is None or outer.get("uid") != "0" or inner.get("res") != "success":
            continue
        kind, at = m.group(1), _when(float(m.group(2)), lo, hi)
        exe = _encoded(inner.get("exe", ""))
        account = _encoded(inner["acct"]) if "acct" in inner else None
        if at is None or exe is None or exe.rsplit("/", 1)[-1] not in SSHD_COMMS or (ses and outer.get("ses") != ses):
            continue
        if account == name or (kind == "USER_LOGIN" and "acct" not in inner and uid and inner.get("id") == uid):
            found.append(f"{kind} of {name} by sshd at {at.isoformat(timespec='seconds')} "
                         f"({m.group(2)}, {'id ' + uid if account is None else 'acct'}, "
                         f"{'session ' + ses if ses else 'any session'})")
    return found


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key twice")
    return dict(pairs)


def journal_logons(data: bytes, name: str, lo: float, hi: float) -> list[str]:
    """sshd's (run as root, by the journal's own _COMM and _UID) "Accepted password for <name>" entries between lo
    and hi, each described."""
    found = []
    for raw in data.split(b"\n"):
        if len(raw) > MAX_LINE:
            continue
        try:
            entry = json.loads(raw, object_pairs_hook=_no_duplicates)
        except ValueError:  # the first line of a tail may be cut; a bad line is not looked at
            continue
        if not isinstance(entry, dict) or entry.get("_COMM") not in SSHD_COMMS or entry.get("_UID") != "0":
            continue
        message, stamp = entry.get("MESSAGE"), entry.get("__REALTIME_TIMESTAMP")
        if isinstance(message, list) and all(isinstance(b, int) and 0 <= b < 256 for b in message):
            message = bytes(message).decode("utf-8", "replace")  # the journal's form of a non-UTF-8 message
        m = ACCEPTED.fullmatch(message) if isinstance(message, str) else None
        at = _when(int(stamp) / 1e6, lo, hi) if isinstance(stamp, str) and stamp.isdigit() else None
        if m and at and m.group(1) == name:
            found.append(f"sshd: Accepted password for {name} at {at.isoformat(timespec='seconds')}")
    return found


def wtmp_logons(data: bytes, name: str, lo: float, hi: float) -> list[str]:
    return [f"{r.user} on {probe.printable(r.line.encode())} from {probe.printable(r.host.encode())} at "
            f"{r.at.isoformat(timespec='seconds')}" for r in parse_wtmp(data)
            if r.user == name and _when(r.at.timestamp(), lo, hi)]


def sightings(stdout: bytes, sources: tuple[TrailSource, ...], name: str, since: datetime, bound: int,
              ses: str = "") -> tuple[Sighting, ...]:
    """Each asked source's verdict on the script's output (everything unreadable when the output is not the
    script's framing)."""
    try:
        uid, data = parse_frames(stdout, sources)
    except ValueError:
        return tuple(Sighting(s, Seen.UNREADABLE, "") for s in sources)
    lo = since.timestamp() - CLOCK_SKEW
    hi = since.timestamp() + CLOCK_SKEW + bound
    out = []
    for source in sources:
        got = data[source]
        if isinstance(got, Seen):
            out.append(Sighting(source, got))
            continue
        records = (audit_logons(got, name, uid, lo, hi, ses) if source is TrailSource.AUDITD else
                   journal_logons(got, name, lo, hi) if source is TrailSource.JOURNAL else
                   wtmp_logons(got, name, lo, hi))
        out.append(Sighting(source, Seen.RECORDED, records[-1]) if records else Sighting(source, Seen.NOT_RECORDED))
    return tuple(out)


def verdict(seen: tuple[Sighting, ...]) -> bool | None:
    """True: a source holds the logon; None: none does and a source could not be read; False: none does."""
    if any(s.seen is Seen.RECORDED for s in seen):
        return True
    return None if any(s.seen is Seen.UNREADABLE for s in seen) else False


def settled(seen: tuple[Sighting, ...]) -> bool:
    """No later read can change the verdict's source: the first readable source holds the logon."""
    readable = [s for s in seen if s.seen in (Seen.RECORDED, Seen.NOT_RECORDED)]
    return bool(readable) and readable[0].seen is Seen.RECORDED


def _trail_read(target: Target, sources: tuple[TrailSource, ...], name: str, since: datetime, bound: int,
                ses: list[str], into: list[tuple[Sighting, ...]]) -> Callable[[], Probe]:
    script = _read_script(sources, name, int(since.timestamp()) - CLOCK_SKEW)
    limit = 4 * (AUDIT_TAIL + JOURNAL_TAIL + WTMP_TAIL * WTMP_RECORD) // 3 + 4096

    def run() -> Probe:
        result = probe.run(target, script, become=True, limit=limit)
        if result.exit_code != 0 or result.truncated:
            into.append(tuple(Sighting(s, Seen.UNREADABLE) for s in sources))
            return Probe(None, f"the read as root failed (exit {result.exit_code}): "
                         f"{probe.printable(result.stderr[:300])}", sent=script, received=result.stderr)
        seen = sightings(result.stdout, sources, name, since, bound, ''.join(ses))
        into.append(seen)
        return Probe(verdict(seen), "; ".join(s.summary() for s in seen), sent=script, received=result.stdout)

    return run


def _session(target: Target, account: TestAccount, into: list[str]) -> Callable[[], Probe]:
    """The session logon; its audit session id (when the output is one, and not 'unset') goes ``into``."""
    def run() -> Probe:
        outcome, out = probe.password_session(target, account.name, account.password)
        lines = [line.strip(b"\r") for line in out.split(b"\n") if line.strip(b"\r")]
        ses = lines[-1].decode("ascii", "replace") if lines else ""  # notices (no home directory, ...) come first
        if re.fullmatch(r"\d{1,10}", ses) and ses != AUDIT_UNSET:
            into.append(ses)
        return Probe(outcome is Logon.ACCEPTED, f"logon {outcome.value}" + (f", audit session {ses}" if into else ""),
                     sent=f"userauth-request password for {account.name}; exec {probe.SESSION_COMMAND}",
                     received=out)

    return run


def _sources(names: Sequence[str]) -> tuple[TrailSource, ...]:
    known = {s.value: s for s in TrailSource}
    unknown = [n for n in names if n not in known]
    if unknown or not names or isinstance(names, str):
        raise ChallengeRefused(f"audit_trail_sources must name some of {', '.join(known)}; got {list(names)!r}")
    return tuple(s for s in TrailSource if s.value in names)


@challenge(id="linux.challenge.logon_audited", title="A logon of the test account is in the audit trail",
           severity="medium", area="audit_logging", impact="intrusive",
           criterion="A password logon of the test account over SSH (running `cat /proc/self/sessionid` on a "
                     "terminal) appears within audit_trail_bound_seconds (default 60) with its user name and time in "
                     "the host's audit trail, looked for as root in this order among audit_trail_sources: the "
                     "auditd log (a successful USER_START or USER_LOGIN record sent by sshd as root for the account, "
                     "of the logon's own audit session when it printed one), the systemd journal (sshd's 'Accepted "
                     "password for' entry, by its trusted _COMM and _UID) and, last, the login records in "
                     "/var/log/wtmp (not an audit trail: a pass from them says so; leave wtmp out of "
                     "audit_trail_sources to require an audit trail). A source that exists but cannot be read is "
                     "an error unless a later one holds the logon.",
           remediation="Run auditd with the PAM audit records kept (no exclude rule for USER_LOGIN/USER_START) or "
                       "keep sshd's messages in a persistent journal; keep UsePAM yes in sshd_config and do not "
                       "rotate the logs away without an archive.")
def logon_audited(ctx: ChallengeContext, audit_trail_bound_seconds: int = 60,
                  audit_trail_sources: Sequence[str] = tuple(s.value for s in TrailSource)) -> list[Finding]:
    account, target = _account(ctx), ctx.target
    sources = _sources(audit_trail_sources)
    res = f"account {account.name} on {sshd_resource(target)}"
    since = datetime.now(timezone.utc)
    ses: list[str] = []
    logon = ctx.step(f"password logon over SSH to {where(target)} as {account.name}, running "
                     f"`{probe.SESSION_COMMAND}` on a terminal", "the logon is accepted",
                     _session(target, account, ses))
    if logon.ok is not True:
        return [error(res, f"the test account could not log on, so nothing can be looked for: {logon.actual}")]
    deadline = time.monotonic() + audit_trail_bound_seconds
    poll, reads = 1, list[tuple[Sighting, ...]]()
    names = ", ".join(s.value for s in sources)
    while True:
        seen = ctx.step(f"read the audit trail ({names}) as root over the scan's connection for {account.name}'s "
                        "logon", f"a record of {account.name} within {audit_trail_bound_seconds} s of the logon",
                        _trail_read(target, sources, account.name, since, audit_trail_bound_seconds, ses,
                                    reads))
        if ctx.plan or seen.ok is None or (reads and settled(reads[-1])) or time.monotonic() + poll > deadline:
            break
        time.sleep(poll)
        poll = min(poll * 2, 10)
    unread = tuple(Sighting(s, Seen.UNREADABLE) for s in sources)  # the read itself failed (e.g. no sudo)
    return [_logon_finding(res, reads[-1] if reads else unread, seen, since, audit_trail_bound_seconds)]


def _logon_finding(res: str, seen: tuple[Sighting, ...], step: Probe, since: datetime, bound: int) -> Finding:
    observed: dict[str, Any] = {"logon_at": since.isoformat(timespec="seconds"), "bound_seconds": bound,
                                "sources": {s.source.value: s.seen.value for s in seen}}
    proof = next((s for s in seen if s.seen is Seen.RECORDED), None)
    if proof is not None:
        observed.update(source=proof.source.value, record=proof.record)
        if proof.source is TrailSource.WTMP:
            return passed(res, f"the logon is in the login records ({WTMP}: {proof.record}), which are not an "
                               f"audit trail; no audit trail record ({step.actual})", **observed)
        return passed(res, f"the logon is in the audit trail ({proof.source.value}): {proof.record}", **observed)
    if step.ok is None:
        return error(res, f"the audit trail could not be read: {step.actual}", **observed)
    if all(s.seen is Seen.ABSENT for s in seen):
        return failed(res, f"the host has no audit trail to look in ({step.actual})", **observed)
    return failed(res, f"no audit trail record of the logon within {bound} s ({step.actual})", **observed)

"""Linux account challenges (intrusive): lockout after failed SSH logons (pam_faillock), and a logon in the audit trail.

Both act on the inventory's ``challenge_account`` only, over SSH with its password (``challenge_password_env``); the
reset and every read of the target's records go through the scan's own connection (its account, its sudo). The
lockout challenge makes at most ``lockout_threshold`` wrong attempts and one right one, then resets the tally in a
clean-up step and proves the account logs on again.
"""
from __future__ import annotations

import base64
import re
import secrets
import shlex
import struct
import time
from collections.abc import Callable
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


def _logon(target: Target, account: TestAccount, password: str, expect: Logon, *,
           session: bool = False) -> Callable[[], Probe]:
    def run() -> Probe:
        outcome = probe.password_logon(target, account.name, password, session=session)
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


def _wtmp_has(target: Target, name: str, since: datetime, bound: int) -> Callable[[], Probe]:
    script = f"tail -c {WTMP_TAIL * WTMP_RECORD} {WTMP} | base64"

    def run() -> Probe:
        result = probe.run(target, script, become=False, limit=WTMP_TAIL * WTMP_RECORD * 2)
        if result.exit_code != 0:
            return Probe(None, f"{WTMP} could not be read (exit {result.exit_code})", sent=script,
                         received=result.stderr)
        try:
            raw = base64.b64decode(result.stdout, validate=False)
        except ValueError:
            return Probe(None, f"{WTMP} came back garbled", sent=script, received=result.stdout)
        lo = since.timestamp() - CLOCK_SKEW
        hits = [r for r in parse_wtmp(raw) if r.user == name and lo <= r.at.timestamp() <= lo + CLOCK_SKEW + bound]
        if not hits:
            return Probe(False, f"no login record of {name} since {since.isoformat(timespec='seconds')}",
                         sent=script, received=result.stdout)
        rec = hits[-1]
        return Probe(True, f"{rec.user} on {rec.line} from {rec.host} at {rec.at.isoformat(timespec='seconds')}",
                     sent=script, received=result.stdout)

    return run


@challenge(id="linux.challenge.logon_audited", title="A logon of the test account is in the audit trail",
           severity="medium", area="audit_logging", impact="intrusive",
           criterion="A password logon of the test account over SSH (running `true` on a terminal) appears in the "
                     "host's login records (/var/log/wtmp) with its user name and time within "
                     "audit_trail_bound_seconds (default 60).",
           remediation="Keep sshd's login recording on (UsePAM yes with pam_lastlog/wtmp, or UseLogin records), make "
                       "sure /var/log/wtmp exists and is not truncated by log rotation without an archive.")
def logon_audited(ctx: ChallengeContext, audit_trail_bound_seconds: int = 60) -> list[Finding]:
    account, target = _account(ctx), ctx.target
    res = f"account {account.name} on {sshd_resource(target)}"
    since = datetime.now(timezone.utc)
    logon = ctx.step(f"password logon over SSH to {where(target)} as {account.name}, running `true` on a terminal",
                     "the logon is accepted", _logon(target, account, account.password, Logon.ACCEPTED, session=True))
    if logon.ok is not True:
        return [error(res, f"the test account could not log on, so nothing can be looked for: {logon.actual}")]
    deadline = time.monotonic() + audit_trail_bound_seconds
    poll = 1
    while True:
        seen = ctx.step(f"read the login records ({WTMP}) over the scan's connection for {account.name}'s logon",
                        f"a record of {account.name} within {audit_trail_bound_seconds} s of the logon",
                        _wtmp_has(target, account.name, since, audit_trail_bound_seconds))
        if seen.ok is not False or time.monotonic() + poll > deadline:
            break
        time.sleep(poll)
        poll = min(poll * 2, 10)
    observed: dict[str, Any] = {"logon_at": since.isoformat(timespec="seconds"), "record": seen.actual,
                "bound_seconds": audit_trail_bound_seconds}
    if seen.ok is None:
        return [error(res, f"the login records could not be read: {seen.actual}", **observed)]
    if seen.ok:
        return [passed(res, f"the logon is recorded: {seen.actual}", **observed)]
    return [failed(res, f"no record of the logon within {audit_trail_bound_seconds} s", **observed)]

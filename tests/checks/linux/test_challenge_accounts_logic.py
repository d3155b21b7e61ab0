"""The Linux account challenges' logic without a server: every verdict, message, observed value and step of
``linux.challenge.lockout`` and ``linux.challenge.logon_audited``, on recorded answers.

Only the probe functions that talk to a host are replaced (``probe.password_logon``, ``probe.password_session`` and
``probe.run`` as ``checks.linux.challenge_accounts`` calls them), by a :class:`Host` factory that answers from a
recorded script and records what it was asked; the clock the audit-trail challenge polls with is a fake one. The
lab tests in ``tests/checks/linux/test_challenge_accounts.py`` prove those probes and the read script against real
sshd, PAM, pam_faillock, auditd and journald hosts; ``test_challenge_audit_trail.py`` holds the parsers' forgery
cases. Everything here runs in well under a second.
"""
from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pytest

from checks.linux import challenge_accounts as ca
from checks.linux.challenge_accounts import Seen, Sighting, TrailSource
from scanner import challenge
from scanner.challenge import (
    PLANNED,
    ChallengeContext,
    ChallengeRefused,
    Probe,
    challenge_spec_of,
    run_challenge,
)
from scanner.connectors import CommandResult
from scanner.model import Status, Target
from scanner.probes import ssh as probe
from scanner.probes.ssh import Logon
from tests.factories import FakeClock, make_target

NAME, PASSWORD = "gxptest", "Planted-Challenge-Pw-9f3e"
HOST = "10.9.8.7:2222"
RES = f"account {NAME} on sshd {HOST}"
PW_ENV = "GXP_TEST_LOGIC_CHALLENGE_PW"
AT = 1796160572  # the logon (2026-12-01T21:29:32Z)
SINCE = datetime.fromtimestamp(AT, timezone.utc)
RESET_BY_HAND = f"on {HOST} as root: faillock --user {NAME} --reset (with --dir if faillock.conf sets dir)"
FAILLOCK_READ = ('d=$(sed -n "s/^[[:space:]]*dir[[:space:]]*=[[:space:]]*//p" /etc/security/faillock.conf '
                 '2>/dev/null | tail -n 1); exec faillock ${d:+--dir "$d"} --user gxptest')
FAILLOCK_RESET = FAILLOCK_READ + " --reset"
#: The read script's output bound: base64 of the three sources' tails, plus frames.
READ_LIMIT = 4 * (ca.AUDIT_TAIL + ca.JOURNAL_TAIL + ca.WTMP_TAIL * ca.WTMP_RECORD) // 3 + 4096


def target(**opts: Any) -> Target:
    base = {"connection": "ssh", "host": "10.9.8.7", "port": 2222, "user": "gxpscan", "challenge_account": NAME,
            "challenge_password_env": PW_ENV}
    return make_target("lab1", **{**base, **opts})


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PW_ENV, PASSWORD)


def result(stdout: bytes = b"", exit_code: int | None = 0, stderr: bytes = b"", truncated: bool = False
           ) -> CommandResult:
    return CommandResult(exit_code, stdout, stderr, truncated=truncated)


# ---- the fake host -------------------------------------------------------------------------------------------------

@dataclass
class Host:
    """Recorded answers, taken in order: ``logons`` for password logons (an exception is raised), ``runs`` for
    scripts run on the scan's connection, ``sessions`` for session logons. ``calls`` records what was asked."""

    logons: list[Any] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    @staticmethod
    def _next(queue: list[Any]) -> Any:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def password_logon(self, tgt: Target, user: str, password: str) -> Logon:
        self.calls.append(("logon", tgt.name, user, password))
        return self._next(self.logons)  # type: ignore[no-any-return]

    def password_session(self, tgt: Target, user: str, password: str) -> tuple[Logon, bytes]:
        self.calls.append(("session", tgt.name, user, password))
        return self._next(self.sessions)  # type: ignore[no-any-return]

    def run(self, tgt: Target, script: str, *, become: bool, limit: int) -> CommandResult:
        self.calls.append(("run", tgt.name, script, become, limit))
        return self._next(self.runs)  # type: ignore[no-any-return]


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch) -> Host:
    fake = Host()
    for name in ("password_logon", "password_session", "run"):
        monkeypatch.setattr(probe, name, getattr(fake, name))
    return fake


class Frozen(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Frozen:
        assert tz is timezone.utc
        return cls.fromtimestamp(AT, timezone.utc)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(ca, "time", fake)
    monkeypatch.setattr(ca, "datetime", Frozen)
    return fake


def steps(ctx: ChallengeContext) -> list[tuple[Any, ...]]:
    return [(s.action, s.expected, s.actual, s.ok, s.cleanup, s.restore_by_hand) for s in ctx.steps]


def finding(out: list[Any]) -> tuple[Status, str, str, dict[str, Any]]:
    (f,) = out
    return f.status, f.resource, f.message, dict(f.observed)


# ---- the lockout challenge ----------------------------------------------------------------------------------------

TALLY = (b"gxptest:\nWhen                Type  Source                                           Valid\n"
         b"2026-12-01 21:29:30 RHOST 10.9.8.1                                             V\n"
         b"2026-12-01 21:29:31 RHOST 10.9.8.1                                             I\n"
         b"2026-12-01 21:29:32 RHOST 10.9.8.1                                             V  \n"
         b"2026-12-01 21:29:33 RHOST 10.9.8.1 V\r2026-12-01 21:29:34 TTY x V\n"  # one line: split on \n only
         b"2026-12-01 21:29:35\tTTY /dev/pts/0\tV\n"
         b"x2026-12-01 21:29:36 RHOST 10.9.8.1 V\n2026-12-01 21:29:37 RHOST 10.9.8.1 VV\n"
         b"2026-12-01 21:29:38 RHOST \xff V\n")


def logon_step(n: str, attempts: int, actual: str, ok: bool | None) -> tuple[Any, ...]:
    return (f"password logon over SSH to {HOST} as {NAME} with a wrong password ({n} of {attempts})",
            "the logon is refused", actual, ok, False, "")


def lockout_steps(attempts: int, locked: str, tally: str, tally_ok: bool | None, reset: str = "tally reset",
                  reset_ok: bool | None = True, unlock: str = "logon accepted", unlock_ok: bool | None = True
                  ) -> list[tuple[Any, ...]]:
    return [*(logon_step(str(i), attempts, "logon refused", True) for i in range(1, attempts + 1)),
            (f"password logon over SSH to {HOST} as {NAME} with the right password",
             "the logon is refused: the account is locked", locked, locked == "logon refused", False, ""),
            (f"read the faillock tally of {NAME} as root over the scan's connection",
             f"at least {attempts} valid failures recorded", tally, tally_ok, False, ""),
            *cleanup_steps(reset, reset_ok, unlock, unlock_ok)]


def cleanup_steps(reset: str = "tally reset", reset_ok: bool | None = True, unlock: str = "logon accepted",
                  unlock_ok: bool | None = True) -> list[tuple[Any, ...]]:
    return [(f"reset the faillock tally of {NAME} as root over the scan's connection", "the reset succeeds",
             reset, reset_ok, True, RESET_BY_HAND),
            (f"password logon over SSH to {HOST} as {NAME} with the right password (the unlock works)",
             "the logon is accepted", unlock, unlock_ok, True, RESET_BY_HAND)]


def lockout_calls(host: Host, attempts: int) -> None:
    """What the host was asked: the wrong password each time (fresh, never the right one), then the right one."""
    wrong = {c[3] for c in host.calls[:attempts]}
    (pw,) = wrong
    assert pw.startswith("gxpscan-wrong-") and len(pw) == 14 + 24 and pw != PASSWORD
    assert host.calls == [*[("logon", "lab1", NAME, pw)] * attempts, ("logon", "lab1", NAME, PASSWORD),
                          ("run", "lab1", FAILLOCK_READ, True, 65536), ("run", "lab1", FAILLOCK_RESET, True, 65536),
                          ("logon", "lab1", NAME, PASSWORD)]


def test_a_locked_account_passes_with_every_step_and_the_tally(host: Host) -> None:
    host.logons = [Logon.REFUSED] * 4 + [Logon.ACCEPTED]
    host.runs = [result(TALLY), result(b"")]
    ctx = ChallengeContext(target(), secrets=[PASSWORD])
    out = ca.lockout(ctx, lockout_threshold=3)
    assert finding(out) == (Status.PASS, RES, "after 3 wrong passwords the right one was refused (locked; 5 valid "
                            "failures recorded); unlocked and verified",
                            {"attempts": 3, "right_password_after": "logon refused",
                             "tally": "5 valid failures recorded"})
    assert steps(ctx) == lockout_steps(3, "logon refused", "5 valid failures recorded", True)
    lockout_calls(host, 3)
    assert [(s.sent, s.received) for s in ctx.steps][2:] == [
        (f"userauth-request password for {NAME}", ""), (f"userauth-request password for {NAME}", ""),
        (FAILLOCK_READ, TALLY.decode("utf-8", "backslashreplace")), (FAILLOCK_RESET, ""),
        (f"userauth-request password for {NAME}", "")]


def test_the_right_password_still_logging_on_fails(host: Host) -> None:
    host.logons = [Logon.REFUSED, Logon.REFUSED, Logon.ACCEPTED, Logon.ACCEPTED]
    host.runs = [result(b"gxptest:\nWhen Type Source Valid\n"), result()]
    ctx = ChallengeContext(target())
    out = ca.lockout(ctx, lockout_threshold=2)
    assert finding(out) == (Status.FAIL, RES, "after 2 wrong passwords the right password still logs on: no lockout",
                            {"attempts": 2, "right_password_after": "logon accepted",
                             "tally": "0 valid failures recorded"})
    assert steps(ctx) == lockout_steps(2, "logon accepted", "0 valid failures recorded", True)
    lockout_calls(host, 2)


def test_a_right_password_logon_that_could_not_be_judged_is_an_error(host: Host) -> None:
    host.logons = [Logon.REFUSED, OSError("connection reset"), Logon.ACCEPTED]
    host.runs = [result(b""), result()]
    ctx = ChallengeContext(target())
    out = ca.lockout(ctx, lockout_threshold=1)
    assert finding(out) == (Status.ERROR, RES, "the logon after 1 failures could not be judged: could not run: "
                            "OSError: connection reset",
                            {"attempts": 1, "right_password_after": "could not run: OSError: connection reset",
                             "tally": "0 valid failures recorded"})
    assert steps(ctx)[1][2:4] == ("could not run: OSError: connection reset", None)


@pytest.mark.parametrize("answer, actual, ok", [(Logon.ACCEPTED, "logon accepted", False),
                                                (OSError("timed out"), "could not run: OSError: timed out", None)])
def test_a_wrong_password_attempt_not_refused_is_an_error_and_the_tally_is_still_reset(host: Host, answer: Any,
                                                                                       actual: str, ok: Any) -> None:
    host.logons = [Logon.REFUSED, answer, Logon.ACCEPTED]
    host.runs = [result()]
    ctx = ChallengeContext(target())
    out = ca.lockout(ctx, lockout_threshold=4)
    assert finding(out) == (Status.ERROR, RES, f"wrong-password attempt 2 did not end as expected: {actual}", {})
    assert steps(ctx) == [logon_step("1", 4, "logon refused", True), logon_step("2", 4, actual, ok),
                          *cleanup_steps()]
    assert [c[0] for c in host.calls] == ["logon", "logon", "run", "logon"]
    assert host.calls[2] == ("run", "lab1", FAILLOCK_RESET, True, 65536)


def test_a_tally_that_cannot_be_read_is_undetermined_and_the_engine_makes_the_pass_an_error(host: Host) -> None:
    stderr = b"faillock: Error opening \xff " + b"e" * 400
    host.logons = [Logon.REFUSED] * 3 + [Logon.ACCEPTED]
    host.runs = [result(b"partial", 1, stderr), result()]
    out = run_challenge(challenge_spec_of(ca.lockout), target(policy={"lockout_threshold": 2}))  # type: ignore
    tally = "faillock exited 1: faillock: Error opening \ufffd " + "e" * (300 - 26)
    step = out.steps[3]
    assert (step.actual, step.ok, step.sent, step.received) == (tally, None, FAILLOCK_READ, "partial")
    (f,) = out.findings
    assert (f.status, f.message) == (Status.ERROR, f"step 4 could not be determined ({tally}); the challenge would "
                                     f"say: pass, after 2 wrong passwords the right one was refused (locked; {tally});"
                                     " unlocked and verified")
    assert f.observed["tally"] == tally


@pytest.mark.parametrize("reset, actual", [
    (result(b"", 2, b"sudo: a password is required"), "faillock exited 2: sudo: a password is required"),
    (RuntimeError("no route"), "could not run: RuntimeError: no route")])
def test_a_failed_reset_is_an_error_naming_the_manual_fix(host: Host, reset: Any, actual: str) -> None:
    host.logons = [Logon.REFUSED] * 3 + [Logon.REFUSED]
    host.runs = [result(TALLY), reset]
    out = run_challenge(challenge_spec_of(ca.lockout), target(policy={"lockout_threshold": 2}))  # type: ignore
    assert [(s.actual, s.ok) for s in out.steps][-2:] == [(actual, False if "exited" in actual else None),
                                                          ("logon refused", False)]
    (f,) = out.findings
    assert (f.status, f.message) == (
        Status.ERROR, f"clean-up failed, restore by hand: {RESET_BY_HAND}; {RESET_BY_HAND} (the challenge said: pass, "
        "after 2 wrong passwords the right one was refused (locked; 5 valid failures recorded); unlocked and verified)")


@pytest.mark.parametrize("threshold, attempts", [(0, 1), (-3, 1), (1, 1), ("2", 2), (2.9, 2)])
def test_the_threshold_is_a_whole_number_of_at_least_one_attempt(host: Host, threshold: Any, attempts: int) -> None:
    host.logons = [Logon.REFUSED] * (attempts + 1) + [Logon.ACCEPTED]
    host.runs = [result(TALLY), result()]
    ctx = ChallengeContext(target())
    out = ca.lockout(ctx, lockout_threshold=threshold)
    assert finding(out)[0] is Status.PASS and finding(out)[3]["attempts"] == attempts
    assert steps(ctx) == lockout_steps(attempts, "logon refused", "5 valid failures recorded", True)


def test_the_lockout_challenge_itself_defaults_to_five_attempts(host: Host) -> None:
    host.logons = [Logon.REFUSED] * 6 + [Logon.ACCEPTED]
    host.runs = [result(TALLY), result()]
    ctx = ChallengeContext(target())
    out = ca.lockout(ctx)
    assert finding(out)[3]["attempts"] == 5
    assert steps(ctx) == lockout_steps(5, "logon refused", "5 valid failures recorded", True)


def test_the_lockout_plan_lists_every_step_without_touching_the_host(host: Host) -> None:
    out = run_challenge(challenge_spec_of(ca.lockout), target(policy={"lockout_threshold": 2}),  # type: ignore
                        plan=True)
    assert out.findings == () and host.calls == []
    planned = lockout_steps(2, "", PLANNED, True)
    assert [(s.action, s.expected, s.actual, s.ok, s.planned, s.cleanup, s.restore_by_hand) for s in out.steps] == [
        (a, e, PLANNED, None, True, c, r) for a, e, _, _, c, r in planned]


@pytest.mark.parametrize("name, ok", [("gxptest", True), ("_svc.test-1", True), ("a" * 32, True),
                                      ("a" * 33, False), ("1abc", False), ("Gxptest", False), ("x; reboot", False),
                                      ("gxp test", False), ("", False)])
def test_only_a_plain_linux_account_name_is_challenged(host: Host, name: str, ok: bool) -> None:
    for func in (ca.lockout, ca.logon_audited):
        out = run_challenge(challenge_spec_of(func), target(challenge_account=name), plan=True)  # type: ignore
        assert bool(out.steps) is ok
        if not ok:
            ctx = ChallengeContext(target(challenge_account=name))
            with pytest.raises(ChallengeRefused) as refused:
                func(ctx)
            message = (f"challenge_account {name!r} is not a plain Linux account name" if name else
                       "target lab1 names no challenge_account for intrusive challenges")
            assert str(refused.value) == message and ctx.steps == []
    assert host.calls == []


def test_the_tally_is_read_and_reset_for_the_name_given_quoted_for_the_shell(host: Host) -> None:
    host.runs = [result(b"2026-12-01 21:29:30 RHOST h V\n2026-12-01 21:29:30 RHOST h V\n", 0, b"ignored"),
                 result(b"", 1, b"\xffno"), result(b"out", 0)]
    read, reset = ca._faillock(target(), "x y", reset=False), ca._faillock(target(), "x y", reset=True)
    first = read()
    assert first == Probe(True, "2 valid failures recorded", sent=first.sent, received=first.received)
    assert first.received == b"2026-12-01 21:29:30 RHOST h V\n2026-12-01 21:29:30 RHOST h V\n"
    assert reset() == Probe(False, "faillock exited 1: \ufffdno", sent=f"{first.sent!s} --reset", received=b"")
    assert reset() == Probe(True, "tally reset", sent=f"{first.sent!s} --reset", received=b"out")
    assert first.sent == FAILLOCK_READ.replace("--user gxptest", "--user 'x y'")
    assert [c[3:] for c in host.calls] == [(True, 65536)] * 3


def test_a_password_logon_is_ok_when_its_outcome_is_the_expected_one(host: Host) -> None:
    account = challenge.TestAccount("gxptest", PASSWORD)
    host.logons = [Logon.ACCEPTED, Logon.ACCEPTED, Logon.REFUSED]
    assert ca._logon(target(), account, "pw1", Logon.ACCEPTED)() == Probe(
        True, "logon accepted", sent="userauth-request password for gxptest")
    assert ca._logon(target(), account, "pw2", Logon.REFUSED)() == Probe(
        False, "logon accepted", sent="userauth-request password for gxptest")
    assert ca._logon(target(), account, "pw3", Logon.REFUSED)() == Probe(
        True, "logon refused", sent="userauth-request password for gxptest")
    assert host.calls == [("logon", "lab1", "gxptest", "pw1"), ("logon", "lab1", "gxptest", "pw2"),
                          ("logon", "lab1", "gxptest", "pw3")]


# ---- wtmp ----------------------------------------------------------------------------------------------------------

def wtmp_record(user: bytes = b"gxptest", at: int = AT, kind: int = ca.USER_PROCESS, line: bytes = b"pts/0",
                host: bytes = b"10.9.8.1") -> bytes:
    """A Linux struct utmp; every field around the three strings and the time is filled with non-NUL junk, so a
    field read at the wrong offset shows."""
    rec = bytearray(b"J" * ca.WTMP_RECORD)
    struct.pack_into("<h", rec, 0, kind)
    for start, end, value in ((8, 40, line), (44, 76, user), (76, 332, host)):
        rec[start:end] = value.ljust(end - start, b"\0")[:end - start]
    struct.pack_into("<i", rec, 340, at)
    return bytes(rec)


def test_wtmp_fields_are_read_at_their_offsets() -> None:
    full = wtmp_record(b"u" * 32, AT, line=b"l" * 32, host=b"h" * 256)
    odd = wtmp_record(b"gxp\xfftest\0junk", AT - 7, line=b"pts/\x1b[1\0x", host=b"")
    assert ca.parse_wtmp(full + odd) == [
        ca.LoginRecord("u" * 32, "l" * 32, "h" * 256, SINCE),
        ca.LoginRecord("gxp\ufffdtest", "pts/\x1b[1", "", datetime.fromtimestamp(AT - 7, timezone.utc))]


def test_wtmp_holds_only_whole_user_process_records() -> None:
    rec = wtmp_record()
    assert ca.parse_wtmp(b"") == [] and ca.parse_wtmp(rec[:-1]) == []
    assert ca.parse_wtmp(rec) == [ca.LoginRecord("gxptest", "pts/0", "10.9.8.1", SINCE)]
    assert ca.parse_wtmp(rec + rec[:-1]) == [ca.LoginRecord("gxptest", "pts/0", "10.9.8.1", SINCE)]
    # a USER_PROCESS type inside a record's host field is no record: records start every 384 bytes
    inside = wtmp_record(host=b"\x07\x00") + wtmp_record(b"other", kind=8)
    assert ca.parse_wtmp(inside) == [ca.LoginRecord("gxptest", "pts/0", "\x07", SINCE)]
    others = [wtmp_record(kind=k) for k in (6, 8, 0x0700, -1)]
    assert ca.parse_wtmp(b"".join([*others, wtmp_record(at=-1)])) == [
        ca.LoginRecord("gxptest", "pts/0", "10.9.8.1", datetime.fromtimestamp(-1, timezone.utc))]


def test_wtmp_logons_of_the_account_within_the_window_are_described_printably() -> None:
    data = b"".join([wtmp_record(at=AT - 5), wtmp_record(at=AT - 6), wtmp_record(at=AT + 65, line=b"pts/\x1b9"),
                     wtmp_record(at=AT + 66), wtmp_record(b"gxptest2"), wtmp_record(b"gxptes"),
                     wtmp_record(host=b"evil\nhost\x07")])
    assert ca.wtmp_logons(data, NAME, AT - 5, AT + 65) == [
        "gxptest on pts/0 from 10.9.8.1 at 2026-12-01T21:29:27+00:00",
        "gxptest on pts/?9 from 10.9.8.1 at 2026-12-01T21:30:37+00:00",
        "gxptest on pts/0 from evil?host? at 2026-12-01T21:29:32+00:00"]


# ---- the audit log -------------------------------------------------------------------------------------------------

def start(acct: str = 'acct="gxptest"', *, at: str = "1796160572.208", uid: str = "0", ses: str = "8179",
          exe: str = 'exe="/usr/sbin/sshd"', res: str = "res=success", kind: str = "USER_START") -> str:
    return (f"type={kind} msg=audit({at}:7): pid=11136 uid={uid} auid=2903 ses={ses} msg='op=PAM:session_open "
            f"grantors=pam_loginuid,pam_unix {acct} {exe} hostname=10.9.8.1 addr=10.9.8.1 terminal=ssh {res}'")


def login(ident: str = "id=2903", **kw: str) -> str:
    return start(ident, kind="USER_LOGIN", **kw)


def audit(*lines: str, uid: str = "2903", ses: str = "8179", lo: float = AT - 5, hi: float = AT + 65) -> list[str]:
    return ca.audit_logons("\n".join(lines).encode(), NAME, uid, lo, hi, ses)


def described(kind: str = "USER_START", at: str = "1796160572.208", how: str = "acct", ses: str = "session 8179",
              when: str = "2026-12-01T21:29:32+00:00") -> str:
    return f"{kind} of {NAME} by sshd at {when} ({at}, {how}, {ses})"


def test_audit_records_of_the_account_are_each_described() -> None:
    assert audit(start(), login(), start(at="1796160573"), login('acct="gxptest" id=1')) == [
        described(), described("USER_LOGIN", how="id 2903"),
        described(at="1796160573", when="2026-12-01T21:29:33+00:00"), described("USER_LOGIN")]
    assert audit(start(ses="1"), login(ses="2"), ses="") == [described(ses="any session"),
                                                             described("USER_LOGIN", how="id 2903", ses="any session")]


@pytest.mark.parametrize("line", [
    start(exe='exe="sshd"'), start(exe='exe="/usr/lib/openssh/sshd-session"'),
    start(exe="exe=" + b"/a b/sshd".hex().upper()),
    start("acct=" + b"gxptest".hex().upper()), start(at="1796160567.000000"), start(at="1796160637"),
    start() + "\x1dUID=\"root\" AUID=\"unknown(2903)\"",
    start(res="res=success  ").replace(" msg='op", "  msg='op"), start().replace(" msg='op=", "msg='op="),
])
def test_genuine_audit_record_forms_match(line: str) -> None:
    assert len(audit(line)) == 1


@pytest.mark.parametrize("line", [
    start(exe='exe="/usr/sbin/xsshd"'), start(exe='exe="/usr/sbin/sshd/"'), start(exe=""), start(exe="exe=sshd"),
    start(exe='exe="/usr/sbin/sshd" exe="/usr/sbin/sshd"'), start(exe="exe=" + b"\xff/sshd".hex().upper()),
    start(exe="exe=" + b"/sshd".hex()), start(exe="exe=" + b"/sshd".hex().upper() + "0"),
    start(""), start("acct=" + b"gxp-test".hex()), start() + "\x1d" + "x" * ca.MAX_LINE,
    start('acct="gxptest"x'), start('acct="gxp"test"'),
    start(at="1796160566.999"), start(at="1796160637.001"), start(uid="00"), start(uid=""),
    start(res='res="success"'), start(res="res=successful"), start(ses="81790"), start(ses=""),
    start(kind="USER_LOGOUT"), login("id=2903 id=2903"), login("id=2904"), login('acct="other" id=2903'),
    login(""), start("id=2903"), start().replace(" pid=", " pid=1 pid="), start().replace(" pid=", " 9pid="),
    start().replace("msg=audit(1796160572.208:7)", "msg=audit(1796160572.208)"),
    start().replace("'op=PAM", "'op=\"PAM"), start()[:-1], start() + "x",
    start().replace(" grantors=", " grantors=" + "g" * ca.MAX_LINE)[:ca.MAX_LINE + 1],
])
def test_anything_else_in_the_audit_log_matches_nothing(line: str) -> None:
    assert audit(line) == []


def test_a_line_that_is_not_a_genuine_record_is_passed_over_and_the_next_one_read() -> None:
    long = start().replace(" hostname=", " pad=" + "p" * ca.MAX_LINE + " hostname=")
    assert audit(long, "type=USER_START \xff\x00 junk", start(exe='exe="/usr/bin/su"'), start(res="res=failed"),
                 start() + "\x1dX=1\x1dY=2") == [described()]
    data = "\n".join([start(ses="1"), "\udcff"]).encode("utf-8", "surrogateescape")  # not UTF-8: read replaced
    assert ca.audit_logons(data + b"\n" + start().encode(), NAME, "2903", AT - 5, AT + 65) == [
        described(ses="any session"), described(ses="any session")]  # no session asked for: any session


def test_an_audit_line_of_max_line_bytes_is_read_and_a_longer_one_is_not() -> None:
    line = start().replace(" hostname=", " pad=" + "p" * (ca.MAX_LINE - len(start()) - 5) + " hostname=")
    assert len(line.encode()) == ca.MAX_LINE and len(audit(line)) == 1
    assert audit(line.replace("pad=", "pad=p")) == []


def test_a_user_login_by_id_needs_the_uid_and_the_window_is_inclusive() -> None:
    assert audit(login(), uid="") == []
    assert audit(start(at="1796160567"), lo=1796160567, hi=1796160567) == [
        described(at="1796160567", when="2026-12-01T21:29:27+00:00")]
    assert audit(start(at="1796160567"), lo=1796160567.5, hi=1796160568) == []
    assert audit(start(at="1796160567"), lo=1796160566, hi=1796160566.5) == []


def test_fields_are_key_value_pairs_each_key_once() -> None:
    assert ca._fields("") == {}
    assert ca._fields('a=1 b="x y"  c-d= _e=z') == {"a": "1", "b": '"x y"', "c-d": "", "_e": "z"}
    for text in ('a=1 a=2', ' a=1', 'a="x"b=1', "a='x'", '1a=2', "a", 'a=1 b'):
        assert ca._fields(text) is None, text


@pytest.mark.parametrize("value, decoded", [('"x y"', "x y"), ('""', ""), ('"', None), ("'x'", None),
                                            ('"x', None), ("6A6F", "jo"), ("6a6f", None), ("6A6", None),
                                            ("FF", None), ("", None), ("abc", None)])
def test_an_audit_value_is_quoted_text_or_upper_case_hex_utf8(value: str, decoded: str | None) -> None:
    assert ca._encoded(value) == decoded


# ---- the journal ---------------------------------------------------------------------------------------------------

def entry(**fields: object) -> bytes:
    base: dict[str, object] = {"MESSAGE": "Accepted password for gxptest from 10.9.8.1 port 34612 ssh2",
                               "_COMM": "sshd", "_UID": "0", "__REALTIME_TIMESTAMP": f"{AT}000000"}
    return json.dumps({k: v for k, v in {**base, **fields}.items() if v is not None}).encode()


HIT = f"sshd: Accepted password for {NAME} at 2026-12-01T21:29:32+00:00"


@pytest.mark.parametrize("raw, expected", [
    (entry(), [HIT]),
    (entry(_COMM="sshd-session"), [HIT]),
    (entry(MESSAGE=list(b"Accepted password for gxptest from h port 1 ssh2\xff")), []),
    (entry(MESSAGE=[*b"Accepted password for gxptest from \xff port 65535 ssh2"]), [HIT]),
    (entry(MESSAGE=[*b"Accepted password for gxptest from h port 1 ssh2"[:-1], 256 + ord("2")]), []),
    (entry(MESSAGE=[*b"Accepted password for gxptest from h port 1 ssh2"[:-1], -1]), []),
    (entry(MESSAGE=[*b"Accepted password for gxptest from h port 1 ssh2"[:-1], 256]), []),
    (entry(MESSAGE=[*b"Accepted password for gxptest from h\x00 port 1 ssh2"]), [HIT]),
    (entry(MESSAGE=["A"]), []), (entry(MESSAGE=None), []), (entry(MESSAGE=7), []),
    (entry(MESSAGE="Accepted password for gxptest from h port 123456 ssh2"), []),
    (entry(MESSAGE="xAccepted password for gxptest from h port 1 ssh2"), []),
    (entry(_COMM=None), []), (entry(_UID=0), []), (entry(_UID=None), []), (entry(_COMM="sshd-sessionx"), []),
    (entry(__REALTIME_TIMESTAMP=f"{AT - 5}000000"), [HIT.replace("21:29:32", "21:29:27")]),
    (entry(__REALTIME_TIMESTAMP=f"{AT - 5}000000".replace("000000", "000001")[:-1] + "0"), [
        HIT.replace("21:29:32", "21:29:27")]),
    (entry(__REALTIME_TIMESTAMP=f"{AT - 6}999999"), []), (entry(__REALTIME_TIMESTAMP=f"{AT + 65}000001"), []),
    (entry(__REALTIME_TIMESTAMP=f"{AT + 65}000000"), [HIT.replace("21:29:32", "21:30:37")]),
    (entry(__REALTIME_TIMESTAMP=None), []), (entry(__REALTIME_TIMESTAMP="-1"), []),
    (entry(__REALTIME_TIMESTAMP=""), []),
    (b"[" + entry() + b"]", []), (b"\"x\"", []), (b"garbage\n" + entry(), [HIT]),
    (entry()[:-1] + b', "MESSAGE": "x"}', []),
    (entry(PAD="p" * (ca.MAX_LINE - len(entry()) - 11)), [HIT]),
    (entry(PAD="p" * (ca.MAX_LINE - len(entry()) - 10)), []),
])
def test_journal_entries_of_sshd_as_root_in_the_window(raw: bytes, expected: list[str]) -> None:
    assert ca.journal_logons(raw, NAME, AT - 5, AT + 65) == expected


def test_every_matching_journal_entry_is_described_in_order() -> None:
    data = b"\n".join([entry(PAD="p" * ca.MAX_LINE), entry(_COMM="logger"),
                       entry(__REALTIME_TIMESTAMP=f"{AT + 1}000000"), entry(_UID="1"),
                       entry(), entry(MESSAGE="Accepted password for other from h port 1 ssh2")])
    assert ca.journal_logons(data, NAME, AT - 5, AT + 65) == [HIT.replace("21:29:32", "21:29:33"), HIT]


def test_no_duplicates_refuses_a_key_twice() -> None:
    assert ca._no_duplicates([("a", 1), ("b", 2)]) == {"a": 1, "b": 2}
    with pytest.raises(ValueError, match="^a key twice$"):
        ca._no_duplicates([("a", 1), ("b", 2), ("a", 1)])


# ---- the read script and its framing -------------------------------------------------------------------------------

SCRIPT_HEAD = """frame() { printf '=gxp %s %s\\n' "$1" "$2"; }
emit() {
  if [ ! -e "$2" ]; then frame "$1" absent
  elif head -c 0 -- "$2" 2>/dev/null; then frame "$1" read; "$3" "$2" | base64 -w 0; echo
  else frame "$1" unreadable; fi
}
frame uid "$(id -u -- gxp.test-1 2>/dev/null)"
"""
SCRIPT_AUDITD = """f=$(sed -n 's/^[[:space:]]*log_file[[:space:]]*=[[:space:]]*//p' /etc/audit/auditd.conf 2>/dev/null \
| tail -n 1 | sed 's/[[:space:]]*$//')
auditd_tail() { tail -c 16777216 -- "$1" | grep -a -E '^type=USER_(LOGIN|START) ' | tail -c 524288; }
emit auditd "${f:-/var/log/audit/audit.log}" auditd_tail"""
SCRIPT_JOURNAL = """j=$(ls /run/log/journal/*/*.journal /var/log/journal/*/*.journal 2>/dev/null | head -n 1)
journal_read() { journalctl -q --no-pager -o json -n 2000 --since @1796160567 _COMM=sshd _COMM=sshd-session _UID=0 \
| tail -c 524288; }
if [ -n "$j" ] && ! journalctl -q --no-pager -n 0 >/dev/null 2>&1; then frame journal unreadable
else emit journal "${j:-/nonexistent/journal}" journal_read; fi"""
SCRIPT_WTMP = """wtmp_tail() { tail -c 786432 -- "$1"; }
emit wtmp /var/log/wtmp wtmp_tail"""


def test_the_read_script_frames_each_asked_source_in_order() -> None:
    """Word for word the script the lab tests run as root on real hosts (test_challenge_accounts.py)."""
    assert ca._read_script(tuple(TrailSource), "gxp.test-1", 1796160567) == SCRIPT_HEAD + "\n".join(
        [SCRIPT_AUDITD, SCRIPT_JOURNAL, SCRIPT_WTMP])
    assert ca._read_script((TrailSource.WTMP,), "gxp.test-1", 1) == SCRIPT_HEAD + SCRIPT_WTMP
    assert "id -u -- 'a b' " in ca._read_script((TrailSource.WTMP,), "a b", 1)


def frames(*parts: bytes, end: bytes = b"\n") -> bytes:
    return b"\n".join(parts) + end


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


ALL = tuple(TrailSource)


@pytest.mark.parametrize("end", [b"\n", b""])
def test_frames_give_the_uid_and_each_source_its_data_or_state(end: bytes) -> None:
    out = frames(b"=gxp uid 2903", b"=gxp auditd read", b64(b"audit\n"), b"=gxp journal unreadable",
                 b"=gxp wtmp absent", end=end)
    assert ca.parse_frames(out, ALL) == ("2903", {TrailSource.AUDITD: b"audit\n",
                                                  TrailSource.JOURNAL: Seen.UNREADABLE, TrailSource.WTMP: Seen.ABSENT})
    assert ca.parse_frames(frames(b"=gxp uid ", b"=gxp wtmp read", b""), (TrailSource.WTMP,)) == (
        "", {TrailSource.WTMP: b""})
    assert ca.parse_frames(frames(b"=gxp uid 4294967295", b"=gxp journal read", b64(b"j")), (TrailSource.JOURNAL,)
                           ) == ("4294967295", {TrailSource.JOURNAL: b"j"})


@pytest.mark.parametrize("out, error", [
    (b"", "no uid frame"), (b"\n", "no uid frame"), (frames(b"=gxp uid 12345678901"), "no uid frame"),
    (frames(b"=gxp uid 1 "), "no uid frame"), (frames(b" =gxp uid 1"), "no uid frame"),
    (frames(b"=gxp uid 1"), "no frame for auditd"),
    (frames(b"=gxp uid 1", b"=gxp journal absent"), "no frame for auditd"),
    (frames(b"=gxp uid 1", b"=gxq auditd absent"), "no frame for auditd"),
    (frames(b"=gxp uid 1", b"=gxp auditd absent x"), "no frame for auditd"),
    (frames(b"=gxp uid 1", b"=gxp auditd absent", b"=gxp journal absent"), "no frame for wtmp"),
    (frames(b"=gxp uid 1", b"=gxp auditd read"), "bad frame for auditd"),
    (frames(b"=gxp uid 1", b"=gxp auditd recorded"), "bad frame for auditd"),
    (frames(b"=gxp uid 1", b"=gxp auditd \xffbsent"), "bad frame for auditd"),
    (frames(b"=gxp uid 1", b"=gxp auditd read", b"QQ=", b"=gxp journal absent", b"=gxp wtmp absent"), None),
    (frames(b"=gxp uid 1", b"=gxp auditd read", b"YWJj!", b"=gxp journal absent", b"=gxp wtmp absent"), None),
    (frames(b"=gxp uid 1", b"=gxp auditd absent", b"=gxp journal absent", b"=gxp wtmp absent", b""),
     "trailing output"),
    (frames(b"=gxp uid 1", b"=gxp auditd absent", b"=gxp journal absent", b"=gxp wtmp absent", b"x"),
     "trailing output"),
])
def test_anything_but_the_scripts_framing_is_refused_by_name(out: bytes, error: str | None) -> None:
    with pytest.raises(ValueError, match=None if error is None else f"^{error}$"):
        ca.parse_frames(out, ALL)


def test_sightings_judge_each_source_in_its_window_and_describe_the_last_record() -> None:
    audit_log = "\n".join([start(at="1796160567.000"), start(at="1796160572.5")]).encode()
    out = frames(b"=gxp uid 2903", b"=gxp auditd read", b64(audit_log), b"=gxp journal read",
                 b64(entry(__REALTIME_TIMESTAMP=f"{AT + 65}000000")), b"=gxp wtmp read", b64(wtmp_record(at=AT - 6)))
    assert ca.sightings(out, ALL, NAME, SINCE, 60, "8179") == (
        Sighting(TrailSource.AUDITD, Seen.RECORDED, described(at="1796160572.5")),
        Sighting(TrailSource.JOURNAL, Seen.RECORDED, HIT.replace("21:29:32", "21:30:37")),
        Sighting(TrailSource.WTMP, Seen.NOT_RECORDED))
    assert ca.sightings(out, ALL, NAME, SINCE, 59, "8180") == (
        Sighting(TrailSource.AUDITD, Seen.NOT_RECORDED), Sighting(TrailSource.JOURNAL, Seen.NOT_RECORDED),
        Sighting(TrailSource.WTMP, Seen.NOT_RECORDED))
    by_id = frames(b"=gxp uid 2903", b"=gxp auditd read", b64(login().encode()), b"=gxp wtmp read",
                   b64(wtmp_record(at=AT + 65)))
    assert ca.sightings(by_id, (TrailSource.AUDITD, TrailSource.WTMP), NAME, SINCE, 60) == (
        Sighting(TrailSource.AUDITD, Seen.RECORDED, described("USER_LOGIN", how="id 2903", ses="any session",
                                                              at="1796160572.208")),
        Sighting(TrailSource.WTMP, Seen.RECORDED, "gxptest on pts/0 from 10.9.8.1 at 2026-12-01T21:30:37+00:00"))
    assert ca.sightings(b"junk", ALL, NAME, SINCE, 60) == tuple(Sighting(s, Seen.UNREADABLE, "") for s in ALL)


@pytest.mark.parametrize("states, verdict, settled", [
    ((Seen.RECORDED,), True, True), ((Seen.NOT_RECORDED,), False, False), ((Seen.ABSENT,), False, False),
    ((Seen.UNREADABLE,), None, False), ((), False, False),
    ((Seen.ABSENT, Seen.RECORDED), True, True), ((Seen.UNREADABLE, Seen.NOT_RECORDED), None, False),
    ((Seen.NOT_RECORDED, Seen.UNREADABLE, Seen.RECORDED), True, False),
    ((Seen.ABSENT, Seen.NOT_RECORDED, Seen.RECORDED), True, False),
])
def test_the_verdict_and_whether_a_later_read_could_change_it(states: tuple[Seen, ...], verdict: bool | None,
                                                              settled: bool) -> None:
    seen = tuple(Sighting(src, st) for src, st in zip(ALL, states, strict=False))
    assert ca.verdict(seen) is verdict and ca.settled(seen) is settled


def test_a_sighting_summary_names_its_source_and_record_or_state() -> None:
    assert Sighting(TrailSource.JOURNAL, Seen.NOT_RECORDED).summary() == "journal: not recorded"
    assert Sighting(TrailSource.WTMP, Seen.RECORDED, "rec").summary() == "wtmp: rec"


# ---- the logon-audited challenge -----------------------------------------------------------------------------------

SESSION_SENT = f"userauth-request password for {NAME}; exec cat /proc/self/sessionid"


def read_step(sources: str = "auditd, journal, wtmp", bound: int = 60, actual: str = "", ok: bool | None = True
              ) -> tuple[Any, ...]:
    return (f"read the audit trail ({sources}) as root over the scan's connection for {NAME}'s logon",
            f"a record of {NAME} within {bound} s of the logon", actual, ok, False, "")


def session_step(actual: str = "logon accepted, audit session 8179", ok: bool | None = True) -> tuple[Any, ...]:
    return (f"password logon over SSH to {HOST} as {NAME}, running `cat /proc/self/sessionid` on a terminal",
            "the logon is accepted", actual, ok, False, "")


def trail(*parts: bytes, uid: bytes = b"2903") -> CommandResult:
    return result(frames(b"=gxp uid " + uid, *parts))


AUDIT_HIT = (b"=gxp auditd read", b64(start().encode()))
AUDIT_NONE = (b"=gxp auditd read", b64(start(ses="1").encode()))
JOURNAL_NONE = (b"=gxp journal read", b"")
WTMP_HIT = (b"=gxp wtmp read", b64(wtmp_record()))
WTMP_NONE = (b"=gxp wtmp read", b64(wtmp_record(b"other")))
WTMP_LINE = "gxptest on pts/0 from 10.9.8.1 at 2026-12-01T21:29:32+00:00"


def observed(sources: dict[str, str], bound: int = 60, **more: str) -> dict[str, Any]:
    return {"logon_at": "2026-12-01T21:29:32+00:00", "bound_seconds": bound, "sources": sources, **more}


def audited(host: Host, *reads: CommandResult | Exception, session: bytes = b"Could not chdir\r\n8179\r\n",
            bound: int | None = 60, sources: Any = None) -> tuple[ChallengeContext, list[Any]]:
    host.sessions = [(Logon.ACCEPTED, session)]
    host.runs = list(reads)
    ctx = ChallengeContext(target())
    kw = {**({} if bound is None else {"audit_trail_bound_seconds": bound}),
          **({} if sources is None else {"audit_trail_sources": sources})}
    return ctx, ca.logon_audited(ctx, **kw)


def read_calls(host: Host, reads: int, since: int = AT - 5, sources: tuple[TrailSource, ...] = ALL) -> None:
    script = ca._read_script(sources, NAME, since)
    assert host.calls == [("session", "lab1", NAME, PASSWORD), *[("run", "lab1", script, True, READ_LIMIT)] * reads]
    assert READ_LIMIT == 2450773


def test_a_logon_in_the_auditd_log_passes_at_once(host: Host, clock: FakeClock) -> None:
    ctx, out = audited(host, trail(*AUDIT_HIT, b"=gxp journal absent", *WTMP_HIT))
    record = described()
    assert finding(out) == (Status.PASS, RES, f"the logon is in the audit trail (auditd): {record}", observed(
        {"auditd": "recorded", "journal": "absent", "wtmp": "recorded"}, source="auditd", record=record))
    assert steps(ctx) == [session_step(), read_step(actual=f"auditd: {record}; journal: absent; wtmp: {WTMP_LINE}")]
    assert ctx.steps[0].sent == SESSION_SENT and ctx.steps[0].received == "Could not chdir\r\n8179\r\n"
    assert ctx.steps[1].sent == ca._read_script(ALL, NAME, AT - 5) and ctx.steps[1].received.startswith("=gxp uid 2903")
    read_calls(host, 1)
    assert clock.slept == []


def test_a_logon_only_in_wtmp_passes_as_login_records_after_the_bound(host: Host, clock: FakeClock) -> None:
    reads = [trail(*AUDIT_NONE, *JOURNAL_NONE, *WTMP_HIT)] * 9
    ctx, out = audited(host, *reads)
    summary = f"auditd: not recorded; journal: not recorded; wtmp: {WTMP_LINE}"
    assert finding(out) == (Status.PASS, RES, f"the logon is in the login records (/var/log/wtmp: {WTMP_LINE}), which "
                            f"are not an audit trail; no audit trail record ({summary})", observed(
                                {"auditd": "not recorded", "journal": "not recorded", "wtmp": "recorded"},
                                source="wtmp", record=WTMP_LINE))
    assert steps(ctx) == [session_step(), *[read_step(actual=summary)] * 9]
    assert clock.slept == [1, 2, 4, 8, 10, 10, 10, 10] and host.runs == []
    read_calls(host, 9)


def test_a_logon_recorded_nowhere_fails_after_polling_until_the_bound(host: Host, clock: FakeClock) -> None:
    ctx, out = audited(host, *[trail(*AUDIT_NONE, *WTMP_NONE)] * 4, bound=7, sources=["wtmp", "auditd", "wtmp"])
    summary = "auditd: not recorded; wtmp: not recorded"
    assert finding(out) == (Status.FAIL, RES, f"no audit trail record of the logon within 7 s ({summary})",
                            observed({"auditd": "not recorded", "wtmp": "not recorded"}, bound=7))
    assert steps(ctx) == [session_step(), *[read_step("auditd, wtmp", 7, summary, False)] * 4]
    assert clock.slept == [1, 2, 4] and host.runs == []
    read_calls(host, 4, sources=(TrailSource.AUDITD, TrailSource.WTMP))


def test_a_host_without_any_audit_trail_fails_naming_that(host: Host, clock: FakeClock) -> None:
    absent = trail(b"=gxp auditd absent", b"=gxp journal absent", b"=gxp wtmp absent")
    ctx, out = audited(host, absent, absent, bound=1)
    assert finding(out) == (Status.FAIL, RES, "the host has no audit trail to look in (auditd: absent; journal: "
                            "absent; wtmp: absent)", observed({"auditd": "absent", "journal": "absent",
                                                               "wtmp": "absent"}, bound=1))
    assert clock.slept == [1] and len(ctx.steps) == 3 and len(host.runs) == 0


def test_the_poll_stops_when_the_next_wait_would_pass_the_deadline(host: Host, clock: FakeClock) -> None:
    none = trail(b"=gxp wtmp absent")
    for bound, sleeps in ((0, []), (1, [1]), (2, [1]), (3, [1, 2]), (13, [1, 2, 4]), (15, [1, 2, 4, 8]),
                          (25, [1, 2, 4, 8, 10])):
        clock.slept = []
        host.calls = []
        _, out = audited(host, *[none] * (len(sleeps) + 1), bound=bound, sources=("wtmp",))
        assert clock.slept == sleeps and host.runs == [] and finding(out)[0] is Status.FAIL, bound


def test_an_unreadable_source_is_an_error_unless_a_later_one_holds_the_logon(host: Host, clock: FakeClock) -> None:
    ctx, out = audited(host, trail(b"=gxp auditd unreadable", *JOURNAL_NONE, *WTMP_NONE))
    summary = "auditd: unreadable; journal: not recorded; wtmp: not recorded"
    assert finding(out) == (Status.ERROR, RES, f"the audit trail could not be read: {summary}",
                            observed({"auditd": "unreadable", "journal": "not recorded", "wtmp": "not recorded"}))
    assert steps(ctx) == [session_step(), read_step(actual=summary, ok=None)] and clock.slept == []
    ctx, out = audited(host, trail(b"=gxp auditd unreadable", b"=gxp journal absent", *WTMP_HIT))
    assert finding(out)[:3] == (Status.PASS, RES, f"the logon is in the login records (/var/log/wtmp: {WTMP_LINE}), "
                                "which are not an audit trail; no audit trail record (auditd: unreadable; journal: "
                                f"absent; wtmp: {WTMP_LINE})")
    assert clock.slept == []


@pytest.mark.parametrize("answer, actual, sources", [
    (result(b"=gxp uid 1\n", 1, b"sudo: a terminal is required\x1b[0m\n" + b"s" * 300),
     "the read as root failed (exit 1): sudo: a terminal is required?[0m?" + "s" * 267, None),
    (result(b"=gxp uid 1\n", None, b"timed out"), "the read as root failed (exit None): timed out", None),
    (result(frames(b"=gxp uid 1", b"=gxp auditd absent", b"=gxp journal absent", b"=gxp wtmp absent"), 0, b"big",
            truncated=True), "the read as root failed (exit 0): big", None),
    (OSError("no route to host"), "could not run: OSError: no route to host", None),
    (result(b"=gxp uid 1\n=gxp auditd absent\n"), "auditd: unreadable; journal: unreadable; wtmp: unreadable", None),
])
def test_a_read_that_fails_is_an_error_with_every_source_unreadable(host: Host, clock: FakeClock, answer: Any,
                                                                    actual: str, sources: Any) -> None:
    ctx, out = audited(host, answer)
    assert finding(out) == (Status.ERROR, RES, f"the audit trail could not be read: {actual}",
                            observed({"auditd": "unreadable", "journal": "unreadable", "wtmp": "unreadable"}))
    assert steps(ctx) == [session_step(), read_step(actual=actual, ok=None)] and clock.slept == []
    if isinstance(answer, CommandResult) and answer.exit_code != 0 or getattr(answer, "truncated", False):
        assert (ctx.steps[1].sent, ctx.steps[1].received) == (ca._read_script(ALL, NAME, AT - 5),
                                                              answer.stderr.decode("utf-8", "replace"))


@pytest.mark.parametrize("answer, actual", [((Logon.REFUSED, b""), "logon refused"),
                                            (EOFError("closed"), "could not run: EOFError: closed")])
def test_a_test_account_that_cannot_log_on_is_an_error_and_nothing_is_read(host: Host, clock: FakeClock, answer: Any,
                                                                           actual: str) -> None:
    host.sessions = [answer]
    ctx = ChallengeContext(target())
    out = ca.logon_audited(ctx)
    assert finding(out) == (Status.ERROR, RES, "the test account could not log on, so nothing can be looked for: "
                            f"{actual}", {})
    assert steps(ctx) == [session_step(actual, None if "could not" in actual else False)]
    assert [c[0] for c in host.calls] == ["session"]


@pytest.mark.parametrize("output, ses", [
    (b"8179", "8179"), (b"notice\r\n\r\n8179\r\n\r\n", "8179"), (b"8179\n", "8179"), (b"1234567890\n", "1234567890"),
    (b"4294967295\r\n", ""), (b"12345678901\n", ""), (b"", ""), (b"\r\n\r\n", ""), (b"8179\nnotice\n", ""),
    (b"81 79\n", ""), (b"\xff8179\n", ""), (b"8179\rx\n", ""), (b"\r8179\r\n", "8179"),
    (b"X8179\r\n", ""), (b"8179 \n", ""), (b"8179\r\n \r\n", ""), (b"8179\nX\n", ""),
])
def test_the_audit_session_is_the_last_line_when_it_is_a_number_other_than_unset(host: Host, clock: FakeClock,
                                                                                  output: bytes, ses: str) -> None:
    record = "\n".join([start(ses="8179"), start(ses="1234567890"), start(ses="4294967295", at="1796160572.5")]
                       ).encode()
    ctx, out = audited(host, trail(b"=gxp auditd read", b64(record), b"=gxp wtmp absent"), session=output,
                       sources=("auditd", "wtmp"))
    assert ctx.steps[0].actual == "logon accepted" + (f", audit session {ses}" if ses else "")
    assert ctx.steps[0].received == output.decode("utf-8", "backslashreplace")
    expected = described(ses=f"session {ses}") if ses else described(at="1796160572.5", ses="any session")
    assert finding(out)[3]["record"] == expected


def test_audit_trail_sources_must_name_known_sources_and_are_asked_in_their_order(host: Host) -> None:
    for bad in (["syslog"], ["auditd", "syslog"], [], (), "wtmp", ""):
        with pytest.raises(ChallengeRefused) as refused:
            ca._sources(bad)
        assert str(refused.value) == f"audit_trail_sources must name some of auditd, journal, wtmp; got {list(bad)!r}"
    assert ca._sources(["wtmp", "journal", "wtmp"]) == (TrailSource.JOURNAL, TrailSource.WTMP)
    assert ca._sources(("auditd",)) == (TrailSource.AUDITD,)
    ctx = ChallengeContext(target())
    with pytest.raises(ChallengeRefused):
        ca.logon_audited(ctx, audit_trail_sources=["syslog"])
    assert ctx.steps == [] and host.calls == []


def test_the_logon_audited_challenge_itself_defaults_to_60_seconds_and_every_source(host: Host, clock: FakeClock
                                                                                     ) -> None:
    none = trail(*AUDIT_NONE, *JOURNAL_NONE, *WTMP_NONE)
    ctx, out = audited(host, *[none] * 9, bound=None)
    assert finding(out)[2] == ("no audit trail record of the logon within 60 s (auditd: not recorded; journal: not "
                               "recorded; wtmp: not recorded)")
    assert steps(ctx)[1] == read_step(actual="auditd: not recorded; journal: not recorded; wtmp: not recorded",
                                      ok=False)
    assert clock.slept == [1, 2, 4, 8, 10, 10, 10, 10]


def test_the_logon_audited_plan_reads_once_and_never_waits(host: Host, clock: FakeClock) -> None:
    out = run_challenge(challenge_spec_of(ca.logon_audited), target(policy={"audit_trail_sources": ["journal"]}),  # type: ignore
                        plan=True)
    assert out.findings == () and host.calls == [] and clock.slept == []
    assert [(s.action, s.expected, s.actual, s.planned) for s in out.steps] == [
        (*session_step()[:2], PLANNED, True), (*read_step("journal")[:2], PLANNED, True)]
    ctx = ChallengeContext(target(), plan=True)
    ca.logon_audited(ctx, audit_trail_bound_seconds=5)
    assert len(ctx.steps) == 2 and host.calls == [] and clock.slept == []


def test_the_test_password_is_in_no_step_or_finding(host: Host, clock: FakeClock) -> None:
    host.logons = [Logon.REFUSED] * 4 + [Logon.ACCEPTED]
    host.runs = [result(TALLY), result()]
    first = run_challenge(challenge_spec_of(ca.lockout), target(policy={"lockout_threshold": 3}),  # type: ignore
                          secrets=[PASSWORD])
    host.sessions = [(Logon.ACCEPTED, b"8179\n")]
    host.runs = [trail(*AUDIT_HIT, b"=gxp journal absent", *WTMP_HIT)]
    second = run_challenge(challenge_spec_of(ca.logon_audited), target(), secrets=[PASSWORD])  # type: ignore
    assert [f.status for f in (*first.findings, *second.findings)] == [Status.PASS, Status.PASS]
    assert PASSWORD not in repr(first) + repr(second)


def test_a_poll_that_raises_after_an_unsettled_pass_is_an_error_through_the_engine(host: Host,
                                                                                  clock: FakeClock) -> None:
    """wtmp holds the logon but auditd could not be read: the poll goes on for auditd; when the next read's probe
    raises, the challenge keeps the earlier read's pass and the engine makes it an error (that step is undetermined)."""
    host.sessions = [(Logon.ACCEPTED, b"8179\n")]
    host.runs = [trail(b"=gxp auditd unreadable", *JOURNAL_NONE, *WTMP_HIT), OSError("reset")]
    out = run_challenge(challenge_spec_of(ca.logon_audited), target())  # type: ignore[arg-type]
    (f,) = out.findings
    assert f.status is Status.ERROR and f.message.startswith(
        "step 3 could not be determined (could not run: OSError: reset); the challenge would say: pass, the logon is "
        "in the login records (/var/log/wtmp: ")
    assert [s.ok for s in out.steps] == [True, True, None] and clock.slept == [1]

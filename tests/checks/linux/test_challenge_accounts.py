"""Intrusive Linux challenges against real sshd + PAM + pam_faillock hosts (tests/lab/sshlab.py "faillock" profiles).

"faillock" locks an account after 3 failures until reset, and its scan user may become root; "faillock-nosudo" is the
same host whose scan user may not, so the reset (the clean-up) fails for real. Both have the test account gxptest
and a bystander gxpother, whose state must not change.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest

from checks.linux import challenge_accounts as ca
from scanner.challenge import PLANNED, challenge_spec_of, run_challenge
from scanner.model import Status
from scanner.probes import ssh as probe
from scanner.probes.ssh import Logon
from tests.conftest import lab_unavailable
from tests.factories import make_target
from tests.lab.sshlab import (
    BYSTANDER,
    CHALLENGE_ACCOUNT,
    CHALLENGE_PASSWORD,
    LabAuditd,
    SSHLab,
    require_tools,
)

PW_ENV = "GXP_TEST_CHALLENGE_PW"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    lab = SSHLab(tmp_path_factory.mktemp("sshlab-faillock"))
    try:
        lab.add("faillock", "faillock")
        lab.add("nosudo", "faillock-nosudo")
        lab.add("journal", "faillock", journal=True)  # sshd's log in the host's own journal (tests/lab/sshlab.py)
        lab.add("journal-quiet", "faillock", journal=True, sshd_options=("LogLevel=QUIET",))  # sshd logs nothing
        lab.wait_ready()
        lab.write_known_hosts()
        yield lab
    finally:
        lab.close()


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv(PW_ENV, CHALLENGE_PASSWORD)


def target(lab: SSHLab, name: str, policy: dict | None = None, **opts):
    base = {"connection": "ssh", "host": lab.hosts[name].address, "user": "gxpscan", "become": "sudo",
            "key_file": str(lab.user_key), "known_hosts": str(lab.known_hosts), "connect_timeout": 5,
            "challenge_account": CHALLENGE_ACCOUNT, "challenge_password_env": PW_ENV}
    return make_target(name, policy=policy, **{**base, **opts})


def run(func, tgt, **kw):
    return run_challenge(challenge_spec_of(func), tgt, **kw)


def state(lab: SSHLab, host: str) -> dict[str, bytes]:
    """Every other account's state on the host: its faillock tally files, shadow and passwd."""
    base = lab.profile(lab.hosts[host].profile)
    tallies = base / "var-log" / "faillock"
    files = {f"tally/{p.name}": p.read_bytes() for p in sorted(tallies.glob("*")) if p.name != CHALLENGE_ACCOUNT}
    return {**files, "shadow": (base / "etc" / "shadow").read_bytes(), "passwd": (base / "etc" / "passwd").read_bytes()}


def failed_logons(lab: SSHLab, host: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in lab.hosts[host].log_text().split("\n"):
        if line.startswith("Failed password for "):
            user = line.split()[3] if line.split()[3] != "invalid" else line.split()[5]
            counts[user] = counts.get(user, 0) + 1
    return counts


def test_wrong_passwords_lock_the_account_then_the_unlock_is_verified(lab, caplog):
    caplog.set_level(logging.DEBUG)
    before, failures = state(lab, "faillock"), failed_logons(lab, "faillock")
    out = run(ca.lockout, target(lab, "faillock", {"lockout_threshold": 3}))
    assert [f.status for f in out.findings] == [Status.PASS], out.findings[0].message
    logon = f"password logon over SSH to {lab.hosts['faillock'].address}:22"
    assert [(s.action.split(" as ")[0], s.ok, s.cleanup) for s in out.steps] == [(logon, True, False)] * 4 + [
        ("read the faillock tally of gxptest", True, False), ("reset the faillock tally of gxptest", True, True),
        (logon, True, True)]
    assert [s.action.split(" as gxptest ")[1] for s in out.steps if s.action.startswith(logon)] == [
        "with a wrong password (1 of 3)", "with a wrong password (2 of 3)", "with a wrong password (3 of 3)",
        "with the right password", "with the right password (the unlock works)"]
    assert [s.actual for s in out.steps] == ["logon refused"] * 4 + ["3 valid failures recorded", "tally reset",
                                                                    "logon accepted"]
    assert out.findings[0].observed["tally"] == "3 valid failures recorded"
    # at most threshold + 1 failed attempts, all on the test account; every other account as it was
    after = failed_logons(lab, "faillock")
    assert {u: n - failures.get(u, 0) for u, n in after.items() if n != failures.get(u, 0)} == {CHALLENGE_ACCOUNT: 4}
    assert state(lab, "faillock") == before and BYSTANDER not in lab.hosts["faillock"].log_text()
    leaks = [caplog.text, repr(out), lab.hosts["faillock"].log_text()]
    assert not any(CHALLENGE_PASSWORD in text for text in leaks)


def test_no_lockout_within_the_policy_threshold_fails_and_still_cleans_up(lab):
    out = run(ca.lockout, target(lab, "faillock", {"lockout_threshold": 2}))  # the host locks after 3
    assert out.findings[0].status is Status.FAIL and "no lockout" in out.findings[0].message
    assert [(s.actual, s.ok) for s in out.steps] == [
        ("logon refused", True), ("logon refused", True), ("logon accepted", False),
        ("0 valid failures recorded", True), ("tally reset", True), ("logon accepted", True)]


def test_a_reset_the_scan_user_may_not_do_is_an_error_naming_the_manual_fix(lab):
    out = run(ca.lockout, target(lab, "nosudo", {"lockout_threshold": 3}))
    (finding,) = out.findings
    assert finding.status is Status.ERROR
    assert finding.message.startswith(f"clean-up failed, restore by hand: on {lab.hosts['nosudo'].address}:22 as "
                                      "root: faillock --user gxptest --reset")
    assert "(the challenge said: pass, after 3 wrong passwords the right one was refused" in finding.message
    reset, verify = out.steps[-2:]
    assert (reset.cleanup, reset.ok, verify.cleanup, verify.ok) == (True, None, True, False)
    assert "sudo" in reset.actual and verify.actual == "logon refused"


@pytest.fixture(scope="module")
def auditd(lab, tmp_path_factory):
    """The session's audit daemon, writing the "faillock" host's /var/log/audit/audit.log (tests/lab/sshlab.py)."""
    daemon = LabAuditd(tmp_path_factory.mktemp("auditd"), lab.profile("faillock") / "var-log" / "audit" / "audit.log")
    try:
        reason = daemon.acquire()
        if reason:
            lab_unavailable(reason)
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        daemon.release()


AUDITED = re.compile(r"(USER_START|USER_LOGIN) of gxptest by sshd at (\S+) \((\d+\.\d+), (acct|id 2903), "
                     r"session (\d+)\)")


def test_the_logon_is_in_the_auditd_log_with_user_and_time(lab, auditd):
    out = run(ca.logon_audited, target(lab, "faillock", {"audit_trail_bound_seconds": 10}))
    (finding,) = out.findings
    assert finding.status is Status.PASS, finding.message
    assert finding.observed["source"] == "auditd" and finding.observed["sources"]["auditd"] == "recorded"
    assert finding.message.startswith("the logon is in the audit trail (auditd): ")
    m = AUDITED.fullmatch(finding.observed["record"])
    assert m, finding.observed["record"]
    logon_at = datetime.fromisoformat(finding.observed["logon_at"]).timestamp()
    assert logon_at - 1 <= float(m.group(3)) <= logon_at + 10
    # the record is a line the host's audit daemon wrote, for this account
    line = next(x for x in auditd.log.read_text().split("\n") if f"msg=audit({m.group(3)}:" in x
                and x.startswith(f"type={m.group(1)} "))
    assert ('acct="gxptest"' if m.group(4) == "acct" else " id=2903 ") in line and "res=success" in line
    assert f" ses={m.group(5)} " in line and out.steps[0].actual == f"logon accepted, audit session {m.group(5)}"
    assert [(s.ok, s.cleanup) for s in out.steps][:2] == [(True, False), (True, False)]


@contextmanager
def no_auditd_record(auditd: LabAuditd, how: str):
    if how == "rules drop USER_LOGIN and USER_START":
        auditd.exclude("USER_LOGIN", "USER_START")
        try:
            yield
        finally:
            auditd.include_all()
    else:
        auditd.stop()
        try:
            yield
        finally:
            auditd.start()


@pytest.mark.parametrize("how", ["rules drop USER_LOGIN and USER_START", "auditd stopped"])
@pytest.mark.parametrize("sources, status", [(None, Status.PASS), (["auditd", "journal"], Status.FAIL)])
def test_without_an_auditd_record_wtmp_passes_only_as_login_records(lab, auditd, how, sources, status):
    policy = {"audit_trail_bound_seconds": 3, **({"audit_trail_sources": sources} if sources else {})}
    with no_auditd_record(auditd, how):
        out = run(ca.logon_audited, target(lab, "faillock", policy))
    (finding,) = out.findings
    assert finding.status is status, finding.message
    if status is Status.PASS:
        assert finding.observed["source"] == "wtmp"
        assert finding.observed["sources"] == {"auditd": "not recorded", "journal": "absent", "wtmp": "recorded"}
        assert finding.message.startswith("the logon is in the login records (/var/log/wtmp: gxptest on pts/")
        assert "which are not an audit trail; no audit trail record (auditd: not recorded; journal: absent; wtmp: " \
            "gxptest on pts/" in finding.message
    else:
        assert finding.message == "no audit trail record of the logon within 3 s (auditd: not recorded; journal: " \
                                  "absent)"
    assert len(out.steps) >= 3 and {s.ok for s in out.steps[1:]} == {status is Status.PASS}  # waited the bound


#: Logons that put hostile text into the audit log through sshd and PAM (each fails: no such user).
HOSTILE_NAMES = ('evil" acct="gxptest', 'x acct="gxptest" res=success', "gxptest res=success", "gxptest\x1d")


def test_forged_audit_records_never_pass(lab, auditd):
    """The genuine records of the test account's logons (auid 2903) are dropped by a kernel rule; what reaches the
    log for the account is what hostile user names made sshd and PAM write, and the test account's own output."""
    tgt = target(lab, "faillock", {"audit_trail_bound_seconds": 2, "audit_trail_sources": ["auditd"]})
    auditd.drop_user_records("auid=2903")
    try:
        for name in HOSTILE_NAMES:
            assert probe.password_logon(tgt, name, CHALLENGE_PASSWORD) is Logon.REFUSED
        out = run(ca.logon_audited, tgt)
    finally:
        auditd.include_all()
    (finding,) = out.findings
    assert finding.status is Status.FAIL, finding.message
    assert finding.message == "no audit trail record of the logon within 2 s (auditd: not recorded)"
    log = auditd.log.read_text()
    assert all(name.encode().hex().upper() in log for name in HOSTILE_NAMES)  # they did reach the log, hex-encoded


def test_the_logon_is_in_the_journal_with_user_and_time(lab):
    out = run(ca.logon_audited, target(lab, "journal", {"audit_trail_bound_seconds": 10,
                                                        "audit_trail_sources": ["journal", "wtmp"]}))
    (finding,) = out.findings
    assert finding.status is Status.PASS, finding.message
    assert finding.observed["source"] == "journal" and finding.observed["sources"]["journal"] == "recorded"
    m = re.fullmatch(r"sshd: Accepted password for gxptest at (\S+)", finding.observed["record"])
    assert m and finding.message == f"the logon is in the audit trail (journal): {finding.observed['record']}"
    logon_at = datetime.fromisoformat(finding.observed["logon_at"])
    assert 0 <= (datetime.fromisoformat(m.group(1)) - logon_at).total_seconds() <= 10


def as_test_account(tgt, command: str) -> None:
    """Run a command as the test account (its own session, its own shell)."""
    with probe.verified_transport(tgt) as (transport, _):
        transport.auth_password(CHALLENGE_ACCOUNT, CHALLENGE_PASSWORD)
        chan = transport.open_session(timeout=5)
        chan.settimeout(10)
        chan.exec_command(command)
        assert chan.recv_exit_status() == 0


def test_forged_journal_entries_never_pass(lab, tmp_path):
    """sshd on this host logs nothing; the test account writes sshd's line into the journal itself, once under the
    identifier sshd and once from a program it named sshd."""
    tgt = target(lab, "journal-quiet", {"audit_trail_bound_seconds": 2, "audit_trail_sources": ["journal"]})
    forge = Path(f"/tmp/gxp-forge-{os.getpid()}-{tmp_path.name}")  # /tmp is this machine's: a unique directory
    line = f"Accepted password for {CHALLENGE_ACCOUNT} from 10.200.0.1 port 40000 ssh2"
    try:
        as_test_account(tgt, f"mkdir {forge} && cp /bin/sh {forge}/sshd && echo '{line}' | systemd-cat -t sshd "
                             f"&& systemd-cat -t sshd {forge}/sshd -c \"echo '{line}'; sleep 1\"")
        out = run(ca.logon_audited, tgt)
        seen = probe.run(tgt, "journalctl -q --no-pager -o json SYSLOG_IDENTIFIER=sshd", become=True).stdout
    finally:
        shutil.rmtree(forge, ignore_errors=True)
    (finding,) = out.findings
    assert finding.status is Status.FAIL, finding.message
    assert finding.message == "no audit trail record of the logon within 2 s (journal: not recorded)"
    forged = [json.loads(x) for x in seen.split(b"\n") if x and json.loads(x).get("MESSAGE") == line]
    # both reached the journal as the test account's; the second by a process the journal itself names sshd
    assert len(forged) == 2 and {e["_UID"] for e in forged} == {"2903"} and forged[1]["_COMM"] == "sshd"


def test_a_logon_the_host_does_not_record_fails(lab):
    wtmp = lab.profile("faillock") / "var-log" / "wtmp"
    saved = wtmp.with_name("wtmp.saved")
    os.rename(wtmp, saved)
    try:
        Path(wtmp).symlink_to("/dev/null")  # sshd's records go nowhere
        out = run(ca.logon_audited, target(lab, "faillock", {"audit_trail_bound_seconds": 2,
                                                             "audit_trail_sources": ["wtmp"]}))
    finally:
        wtmp.unlink()
        os.rename(saved, wtmp)
    assert out.findings[0].status is Status.FAIL
    assert out.findings[0].message == "no audit trail record of the logon within 2 s (wtmp: not recorded)"
    assert out.steps[0].ok is True and len(out.steps) >= 2 and {s.ok for s in out.steps[1:]} == {False}


def test_an_audit_trail_the_scan_user_may_not_read_is_an_error(lab):
    # the lockout test leaves the account locked on this host (its clean-up cannot run): unlock it lab-side
    (lab.profile("faillock-nosudo") / "var-log" / "faillock" / CHALLENGE_ACCOUNT).unlink(missing_ok=True)
    out = run(ca.logon_audited, target(lab, "nosudo", {"audit_trail_bound_seconds": 2}))
    (finding,) = out.findings
    assert finding.status is Status.ERROR and finding.message.startswith(
        "the audit trail could not be read: could not run: BecomeError: sudo refused on gxpscan@")
    assert finding.observed["sources"] == {"auditd": "unreadable", "journal": "unreadable", "wtmp": "unreadable"}
    assert [s.ok for s in out.steps] == [True, None]


@pytest.mark.parametrize("sources", [["syslog"], [], "wtmp"])
def test_audit_trail_sources_must_name_known_sources(lab, sources):
    out = run(ca.logon_audited, target(lab, "faillock", {"audit_trail_sources": sources}))
    assert out.findings[0].status is Status.ERROR and "audit_trail_sources must name some of auditd, journal, " \
        "wtmp" in out.findings[0].message
    assert out.steps == ()


@pytest.mark.parametrize("func, policy, steps", [(ca.lockout, {"lockout_threshold": 4}, 4 + 1 + 1 + 2),
                                                  (ca.logon_audited, {}, 2)])
def test_plan_lists_the_steps_without_acting(lab, func, policy, steps):
    tgt = make_target("planned", connection="ssh", host=lab.unreachable(), user="gxpscan", policy=policy,
                      challenge_account=CHALLENGE_ACCOUNT, challenge_password_env="GXP_TEST_UNSET_VAR")
    out = run(func, tgt, plan=True)
    assert out.findings == () and len(out.steps) == steps
    assert {(s.actual, s.planned) for s in out.steps} == {(PLANNED, True)}
    assert [s.cleanup for s in out.steps][-2:] == ([True, True] if func is ca.lockout else [False, False])


def test_an_account_name_that_is_not_plain_is_refused(lab):
    out = run(ca.lockout, target(lab, "faillock", challenge_account="x; reboot"))
    assert out.findings[0].status is Status.ERROR and "not a plain Linux account name" in out.findings[0].message
    assert out.steps == ()


def test_through_the_cli_no_output_holds_the_test_password(lab, tmp_path):
    import json

    from scanner import cli

    tgt = target(lab, "faillock")
    inv = tmp_path / "inv.json"
    inv.write_text(json.dumps({"version": 1, "targets": [{
        "name": "faillock", "type": "linux", **tgt.options,
        "policy": {"lockout_threshold": 3, "audit_trail_bound_seconds": 10}}]}))
    out = tmp_path / "out"
    cli.main(["scan", "-i", str(inv), "-c", "linux.challenge.lockout", "-c", "linux.challenge.logon_audited",
              "--challenge", "intrusive", "-o", str(out), "--no-history", "--format", "json", "--format", "junit",
              "--format", "sarif", "--format", "oq"])
    doc = json.loads((out / "report.json").read_text())
    assert {(f["check"], f["status"], len(f["steps"])) for f in doc["findings"]} == {
        ("linux.challenge.lockout", "pass", 7), ("linux.challenge.logon_audited", "pass", 2)}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 5 and not [p.name for p in files if CHALLENGE_PASSWORD.encode() in p.read_bytes()]

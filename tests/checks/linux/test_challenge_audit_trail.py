"""The logon-audited challenge's reading of a target's audit trail, on hostile bytes (no server needed: these are
the parsers the lab tests in test_challenge_accounts.py drive end to end).

The genuine lines are records this machine's auditd 3.0.9 wrote (ENRICHED format) for a lab logon; each forgery is
one of them changed the way a hostile name, sender or writer could.
"""
from __future__ import annotations

import base64
import json
import struct
from datetime import datetime, timezone

import pytest

from checks.linux import challenge_accounts as ca
from checks.linux.challenge_accounts import Seen, TrailSource

AT = 1796160572.208
LO, HI = AT - 5, AT + 60
GS = "\x1d"
START = ("type=USER_START msg=audit(1796160572.208:7): pid=11136 uid=0 auid=2903 ses=8179 msg='op=PAM:session_open "
         "grantors=pam_loginuid,pam_unix acct=\"gxptest\" exe=\"/usr/sbin/sshd\" hostname=10.200.220.1 "
         "addr=10.200.220.1 terminal=ssh res=success'" + GS + "UID=\"root\" AUID=\"unknown(2903)\"")
LOGIN = ("type=USER_LOGIN msg=audit(1796160572.256:9): pid=11136 uid=0 auid=2903 ses=8179 msg='op=login id=2903 "
         "exe=\"/usr/sbin/sshd\" hostname=10.200.220.1 addr=10.200.220.1 terminal=/dev/pts/0 res=success'" + GS +
         "UID=\"root\" AUID=\"unknown(2903)\" ID=\"unknown(2903)\"")
HOSTILE = 'evil" acct="gxptest'


def audit(line: str, *, uid: str = "2903", ses: str = "8179") -> list[str]:
    return ca.audit_logons(line.encode() + b"\n", "gxptest", uid, LO, HI, ses)


@pytest.mark.parametrize("line, uid, ses, expected", [
    (START, "2903", "8179", "USER_START of gxptest by sshd at 2026-12-01T21:29:32+00:00 (1796160572.208, acct, "
                            "session 8179)"),
    (START, "2903", "", "USER_START of gxptest by sshd at 2026-12-01T21:29:32+00:00 (1796160572.208, acct, "
                        "any session)"),
    (LOGIN, "2903", "8179", "USER_LOGIN of gxptest by sshd at 2026-12-01T21:29:32+00:00 (1796160572.256, id 2903, "
                            "session 8179)"),
    # auditd writes an odd value as bare hex: decoded
    (START.replace('acct="gxptest"', "acct=" + b"gxptest".hex().upper()), "2903", "8179",
     "USER_START of gxptest by sshd at 2026-12-01T21:29:32+00:00 (1796160572.208, acct, session 8179)"),
    # OpenSSH 9.8+: the session process is sshd-session
    (START.replace("/usr/sbin/sshd", "/usr/lib/openssh/sshd-session"), "2903", "8179",
     "USER_START of gxptest by sshd at 2026-12-01T21:29:32+00:00 (1796160572.208, acct, session 8179)"),
])
def test_genuine_audit_records_match(line, uid, ses, expected):
    assert audit(line, uid=uid, ses=ses) == [expected]


@pytest.mark.parametrize("line", [
    START.replace('acct="gxptest"', f'acct="{HOSTILE}"'),  # unencoded quote: a second acct voids the record
    START.replace('acct="gxptest"', 'acct="evil" acct="gxptest"'),
    START.replace('acct="gxptest"', "acct=" + HOSTILE.encode().hex().upper()),  # how auditd writes that name
    START.replace('acct="gxptest"', 'acct="gxptest2"'),
    START.replace('acct="gxptest"', "acct=gxptest"),  # bare and not hex: not how auditd writes a name
    START.replace("res=success'", "res=failed'"),
    START.replace("res=success'", "res=failed' res=success"),  # outside msg='...'
    START.replace(" uid=0 ", " uid=2903 "),  # not sent by root
    START.replace("/usr/sbin/sshd", "/usr/bin/su"),  # not sshd's logon
    START.replace('exe="/usr/sbin/sshd"', 'exe="/tmp/sshd x"'),
    START.replace(" ses=8179 ", " ses=8180 "),  # another session of the account
    START.replace("1796160572.208", "1796160000.208"),  # long before the logon
    START.replace("1796160572.208", "1796160700.000"),  # after the bound
    START.replace("type=USER_START", "type=USER_END"),
    "x" + START,
    START.replace("type=USER_START", "type=USER_START\r"),
    START.replace("grantors=", "grantors=" + "p" * ca.MAX_LINE),
    LOGIN.replace("id=2903", "id=2904"),
    START.replace(" msg='op=", " msg=\"op=").replace("res=success'", "res=success\""),
])
def test_forged_or_foreign_audit_records_never_match(line):
    assert audit(line) == []


def test_a_uid_the_target_did_not_give_matches_no_user_login_by_id():
    assert audit(LOGIN, uid="") == []


def test_a_record_split_over_lines_or_hidden_after_a_newline_is_not_joined():
    data = (START[:60] + "\n" + START[60:] + "\n").encode() + b"junk\x00\n" + START.encode()[:-40]
    assert ca.audit_logons(data, "gxptest", "2903", LO, HI, "8179") == []


def entry(**fields: object) -> bytes:
    base: dict[str, object] = {"MESSAGE": "Accepted password for gxptest from 10.200.220.1 port 34612 ssh2",
                               "_COMM": "sshd", "_UID": "0", "__REALTIME_TIMESTAMP": "1796160572208000",
                               "SYSLOG_IDENTIFIER": "sshd"}
    return json.dumps({**base, **fields}).encode()


JOURNAL_HIT = "sshd: Accepted password for gxptest at 2026-12-01T21:29:32+00:00"


@pytest.mark.parametrize("raw, expected", [
    (entry(), [JOURNAL_HIT]),
    (entry(MESSAGE="Accepted keyboard-interactive/pam for gxptest from 10.200.220.1 port 1 ssh2"), [JOURNAL_HIT]),
    (entry(MESSAGE=list(b"Accepted password for gxptest from 10.200.220.1 port 34612 ssh2")), [JOURNAL_HIT]),
    (entry(_COMM="logger"), []),  # logger -t sshd: the identifier is the writer's, _COMM is the journal's
    (entry(_UID="2903"), []),  # a program the test account named sshd
    (entry(MESSAGE="Accepted password for gxptest2 from 10.200.220.1 port 1 ssh2"), []),
    (entry(MESSAGE="Accepted password for gxptest from 10.200.220.1 port 1 ssh2 (forged)"), []),
    (entry(MESSAGE="Failed password for gxptest from 10.200.220.1 port 1 ssh2"), []),
    (entry(MESSAGE="Accepted publickey for gxptest from 10.200.220.1 port 1 ssh2"), []),
    (entry(__REALTIME_TIMESTAMP="1796150000000000"), []),
    (entry(__REALTIME_TIMESTAMP=1796160572208000), []),  # not the journal's form
    (entry()[:-1] + b', "_COMM": "logger"}', []),  # a key twice
    (entry()[:-1] + b', "_UID": "0"}', []),
    (b"[" + entry() + b"]", []),
    (b'{"MESSAGE": "Accepted password for gxptest from 10.200.220.1 port 1 ssh2", "_COMM": "sshd"', []),
])
def test_journal_entries(raw, expected):
    assert ca.journal_logons(raw + b"\n", "gxptest", LO, HI) == expected


def wtmp_record(user: bytes, at: int, kind: int = ca.USER_PROCESS) -> bytes:
    rec = bytearray(ca.WTMP_RECORD)
    struct.pack_into("<h", rec, 0, kind)
    rec[8:8 + 5] = b"pts/0"
    rec[44:44 + len(user)] = user
    rec[76:76 + 12] = b"10.200.220.1"
    struct.pack_into("<i", rec, 340, at)
    return bytes(rec)


def test_wtmp_records_of_the_account_in_the_window():
    data = (wtmp_record(b"gxptest", int(AT)) + wtmp_record(b"gxptest", int(AT) - 3600)
            + wtmp_record(b"gxpother", int(AT)) + wtmp_record(b"gxptest", int(AT), kind=8) + b"\x07" * 100)
    assert ca.wtmp_logons(data, "gxptest", LO, HI) == [
        "gxptest on pts/0 from 10.200.220.1 at 2026-12-01T21:29:32+00:00"]


def frames(*parts: bytes) -> bytes:
    return b"\n".join(parts) + b"\n"


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


SINCE = datetime.fromtimestamp(AT - 1, timezone.utc)
ALL = tuple(TrailSource)


def test_one_read_gives_each_source_its_own_verdict():
    out = frames(b"=gxp uid 2903", b"=gxp auditd read", b64(START.encode() + b"\n"), b"=gxp journal absent",
                 b"=gxp wtmp read", b64(wtmp_record(b"gxptest", int(AT))))
    seen = ca.sightings(out, ALL, "gxptest", SINCE, 60, "8179")
    assert [(s.source, s.seen) for s in seen] == [
        (TrailSource.AUDITD, Seen.RECORDED), (TrailSource.JOURNAL, Seen.ABSENT), (TrailSource.WTMP, Seen.RECORDED)]
    assert ca.verdict(seen) is True and ca.settled(seen)


@pytest.mark.parametrize("out", [
    b"",
    frames(b"=gxp auditd absent", b"=gxp journal absent", b"=gxp wtmp absent"),  # no uid frame
    frames(b"=gxp uid x", b"=gxp auditd absent", b"=gxp journal absent", b"=gxp wtmp absent"),
    frames(b"=gxp uid 2903", b"=gxp journal absent", b"=gxp auditd absent", b"=gxp wtmp absent"),  # order
    frames(b"=gxp uid 2903", b"=gxp auditd absent", b"=gxp journal absent"),  # one missing
    frames(b"=gxp uid 2903", b"=gxp auditd absent", b"=gxp journal absent", b"=gxp wtmp absent", b"more"),
    frames(b"=gxp uid 2903", b"=gxp auditd read", b"not base64!", b"=gxp journal absent", b"=gxp wtmp absent"),
    frames(b"=gxp uid 2903", b"=gxp auditd recorded", b"=gxp journal absent", b"=gxp wtmp absent"),
    frames(b"=gxp uid 2903", b"=gxp auditd  absent", b"=gxp journal absent", b"=gxp wtmp absent"),
    frames(b"=gxp uid 2903", b"=gxp auditd read"),
])
def test_output_that_is_not_the_scripts_framing_is_unreadable_never_a_pass(out):
    seen = ca.sightings(out, ALL, "gxptest", SINCE, 60)
    assert {s.seen for s in seen} == {Seen.UNREADABLE} and ca.verdict(seen) is None


@pytest.mark.parametrize("states, verdict, settled", [
    ((Seen.UNREADABLE, Seen.ABSENT, Seen.NOT_RECORDED), None, False),  # auditd could have held it: undetermined
    ((Seen.UNREADABLE, Seen.ABSENT, Seen.RECORDED), True, True),  # wtmp holds it (the finding says auditd failed)
    ((Seen.NOT_RECORDED, Seen.ABSENT, Seen.RECORDED), True, False),  # keep asking auditd until the bound
    ((Seen.ABSENT, Seen.ABSENT, Seen.ABSENT), False, False),
    ((Seen.NOT_RECORDED, Seen.NOT_RECORDED, Seen.NOT_RECORDED), False, False),
])
def test_verdict_and_when_to_stop_asking(states, verdict, settled):
    seen = tuple(ca.Sighting(src, st, "r" if st is Seen.RECORDED else "") for src, st in zip(ALL, states, strict=True))
    assert ca.verdict(seen) is verdict and ca.settled(seen) is settled


def test_the_read_script_reads_only_the_asked_sources_and_quotes_the_name():
    script = ca._read_script((TrailSource.AUDITD,), "gxp.test-1", 1796160567)
    assert "emit auditd" in script and "journal" not in script and "wtmp" not in script
    assert "id -u -- gxp.test-1 " in script
    assert "--since @1796160567" in ca._read_script((TrailSource.JOURNAL,), "gxptest", 1796160567)

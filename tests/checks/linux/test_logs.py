"""The system-log checks on small facts at their bounds, asserting status, message and observed values: logic
survivors of checks/linux/logs.py under mutmut (docs/mutation.md, issue 15 fifth session)."""
from __future__ import annotations

from typing import Any

import pytest

from checks.linux import logs
from scanner.facts.linux import FileStat, LogChannel, Logrotate, LogrotateRule, Syslog, SyslogDaemon, VarLog
from scanner.model import Finding, Location, Status, thaw

RSYSLOG_CONF = Location("/etc/rsyslog.conf", 3)


def seen(f: Finding) -> tuple[Status, str, dict[str, Any]]:
    return f.status, f.message, thaw(f.observed)


def syslog(running: bool = True, mode: int | None = 0o640, where: Location | None = RSYSLOG_CONF, umask: int = 0,
           umask_how: str = "", channels: tuple[LogChannel, ...] = ()) -> Syslog:
    return Syslog((SyslogDaemon("rsyslog", True, running, "systemctl is-active: active"),), mode, where, channels,
                  umask, umask_how)


@pytest.mark.parametrize("bad", ["rw-r-----", "0999", "640x", ""])
def test_a_limit_that_is_no_octal_mode_is_an_error(bad: str) -> None:
    got = logs.syslog_file_mode(syslog(), log_file_max_mode=bad)
    assert seen(got) == (Status.ERROR, f"log_file_max_mode {bad!r} is not an octal mode", {})
    assert [seen(f) for f in logs.var_log_perms(VarLog((), True), log_file_max_mode=bad)] == [
        (Status.ERROR, f"log_file_max_mode {bad!r} is not an octal mode", {})]


@pytest.mark.parametrize(("fact", "status", "message", "location"), [
    (syslog(), Status.PASS, "new log files get mode 0640 (0640 set at /etc/rsyslog.conf:3)", RSYSLOG_CONF),
    (syslog(mode=0o644, where=None), Status.FAIL,
     "new log files get mode 0644 (0644, the daemon's default (not set)), wider than 0640", None),
    (syslog(mode=0o666, umask=0o027, umask_how="UMask= of rsyslog.service"), Status.PASS,
     "new log files get mode 0640 (0666 set at /etc/rsyslog.conf:3, less umask 0027 (UMask= of rsyslog.service))",
     RSYSLOG_CONF),
])
def test_syslog_file_mode_under_the_default_limit_says_where_the_mode_comes_from(
        fact: Syslog, status: Status, message: str, location: Location | None) -> None:
    got = logs.syslog_file_mode(fact)
    assert (got.status, got.message, got.location) == (status, message, location)
    assert thaw(got.observed)["max_mode"] == "0640"


@pytest.mark.parametrize("fact", [syslog(running=False), syslog(mode=None)])
def test_syslog_file_mode_without_a_running_daemon_or_a_mode_is_not_applicable(fact: Syslog) -> None:
    assert seen(logs.syslog_file_mode(fact)) == (
        Status.NOT_APPLICABLE, "no syslog daemon runs (see linux.logs.syslog_running)", {})


def entry(path: str, mode: int, uid: int = 0, kind: str = "regular file") -> FileStat:
    return FileStat(path, mode, uid, 4, "root" if uid == 0 else f"u{uid}", "adm", kind)


def test_var_log_owners_below_1000_are_system_accounts_and_directories_are_not_judged_by_owner() -> None:
    entries = (entry("/var/log/app", 0o750, 1000, "directory"), entry("/var/log/a.log", 0o640, 999),
               entry("/var/log/b.log", 0o640, 1000), entry("/var/log/c.log", 0o640, 1001))
    got = [(f.resource, *seen(f)) for f in logs.var_log_perms(VarLog(entries, True))]
    assert got == [
        (f"/var/log/{n}.log", Status.FAIL, f"/var/log/{n}.log: owned by u{uid} (uid {uid}), not root or a system "
         "account", {"mode": "0640", "owner": f"u{uid}", "group": "adm"}) for n, uid in (("b", 1000), ("c", 1001))]


@pytest.mark.parametrize(("count", "more"), [(50, 0), (51, 1), (52, 2)])
def test_var_log_lists_fifty_entries_and_counts_the_rest(count: int, more: int) -> None:
    entries = tuple(entry(f"/var/log/{n:02}.log", 0o644) for n in range(count))
    got = logs.var_log_perms(VarLog(entries, True))
    assert [f.resource for f in got] == [f"/var/log/{n:02}.log" for n in range(50)] + ["/var/log"] * bool(more)
    assert got[0].message == "/var/log/00.log: mode 0644 is wider than 0640"  # the default limit
    if more:
        assert seen(got[-1]) == (Status.FAIL, f"{more} more entries under /var/log are too open", {"more": more})


def rule(rotate: int | None, period: str = "daily", maxage: int | None = None) -> LogrotateRule:
    return LogrotateRule("/var/log/auth.log", rotate, period, maxage, Location("/etc/logrotate.d/rsyslog", 2))


@pytest.mark.parametrize(("days", "status", "message"), [
    (90, Status.PASS, "/var/log/auth.log: rotated copies cover 90 days"),  # the default minimum itself
    (89, Status.FAIL, "/var/log/auth.log: rotated copies cover 89 days, fewer than 90"),
])
def test_rotation_under_the_default_minimum_of_90_days(days: int, status: Status, message: str) -> None:
    got = logs.rotation(Logrotate(True, (rule(days),)))
    assert [(f.resource, *seen(f), f.location) for f in got] == [
        ("/var/log/auth.log", status, message, {"days": days, "rotate": days, "period": "daily", "maxage": None,
                                               "minimum_days": 90}, Location("/etc/logrotate.d/rsyslog", 2))]


def channel(tls: bool, verified: bool) -> LogChannel:
    return LogChannel("rsyslog", "loghost.example:6514", "tcp", tls, verified, "omfwd",
                      Location("/etc/rsyslog.conf", 9))


@pytest.mark.parametrize(("tls", "verified", "status", "message"), [
    (True, False, Status.FAIL, "logs go to loghost.example:6514 over TLS, but the server's identity is not verified"),
    (True, True, Status.PASS, "logs go to loghost.example:6514 over TLS with the server verified"),
    (False, False, Status.FAIL, "logs go to loghost.example:6514 unencrypted (tcp)"),
])
def test_forwarding_requires_a_verified_server_by_default(tls: bool, verified: bool, status: Status,
                                                          message: str) -> None:
    got = logs.forwarding_tls(syslog(channels=(channel(tls, verified),)))
    assert [(f.resource, f.status, f.message) for f in got] == [("rsyslog -> loghost.example:6514", status, message)]

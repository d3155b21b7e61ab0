"""Issue 14 part B parsers: unparseable input is an error, lines split on \\n only, caps are honoured."""
from __future__ import annotations

import pytest

from scanner.collectors.linux_audit import (
    SETUID_MAX_RESULTS,
    parse_audit_rule_files,
    parse_auditd_conf,
    parse_kernel_cmdline,
    parse_setuid_programs,
    setuid_plan,
)
from scanner.collectors.linux_backup import parse_restore_test
from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.collectors.linux_crypto import parse_crypto_policy, parse_ssh_client, parse_swaps
from scanner.collectors.linux_logs import parse_logrotate, parse_syslog, parse_var_log
from tests.factories import make_target

T = make_target()
UNITS_IDLE = b"Id=systemd-journal-upload.service\nActiveState=inactive\n"
SEPARATORS = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def dump(files: dict[str, str]) -> Probe:
    """What a ``dump_files`` probe prints for these files."""
    out = "".join(f"F\t{path}\n" for path in files)
    for i, text in enumerate(files.values(), 1):
        body = text[:-1] if text.endswith("\n") else text
        out += "".join(f"{i}\t{n}\t{line}\n" for n, line in enumerate(body.split("\n"), 1)) if text else ""
    return Probe(0, out.encode())


def logrotate_section(main: str) -> Section:
    return Section(probes={"files": dump({"/etc/logrotate.conf": main}), "logrotate_binary": Probe(0, b"")})


@pytest.mark.parametrize("sep", SEPARATORS)
def test_auditd_conf_comment_with_exotic_separator_stays_a_comment(sep):
    conf = parse_auditd_conf(Section({"/etc/audit/auditd.conf": f"# note{sep}disk_full_action = halt\n"
                                                                 "disk_full_action = suspend\n".encode()}), T)
    assert conf.settings["disk_full_action"] == "suspend"
    assert conf.location("disk_full_action").start_line == 2


@pytest.mark.parametrize("sep", SEPARATORS)
def test_rule_file_comment_with_exotic_separator_stays_a_comment(sep):
    rules = parse_audit_rule_files(Section({"/etc/audit/rules.d/99.rules": f"# x{sep}-e 2\n-e 1\n".encode()}), T)
    assert [r.text for r in rules.control("-e")] == ["-e 1"]


@pytest.mark.parametrize("sep", SEPARATORS)
def test_logrotate_comment_with_exotic_separator_stays_a_comment(sep):
    text = f"weekly\n# x{sep}rotate 99\nrotate 2\n/var/log/syslog {{\n}}\n"
    section = logrotate_section(text)
    rule = parse_logrotate(section, T).for_path("/var/log/syslog")
    assert rule is not None and (rule.rotate, rule.days) == (2, 14)


@pytest.mark.parametrize("sep", SEPARATORS)
def test_rsyslog_comment_with_exotic_separator_does_not_forward(sep):
    section = Section({"/etc/rsyslog.conf": f"# x{sep}*.* @@(o)loghost:514\n".encode()},
                      probes={"binaries": Probe(0, b"/usr/sbin/rsyslogd\n"),
                              "processes": Probe(0, b"/proc/9/exe 0 /usr/sbin/rsyslogd\0"),
                              "units": Probe(0, UNITS_IDLE)})
    assert parse_syslog(section, T).channels == ()


@pytest.mark.parametrize(("parse", "section", "words"), [
    (parse_auditd_conf, Section({"/etc/audit/auditd.conf": b"disk full action\n"}), "not a 'key = value' line"),
    (parse_audit_rule_files, Section({"/etc/audit/rules.d/x.rules": b"w /etc/passwd\n"}), "not an audit rule"),
    (parse_kernel_cmdline, Section({"/proc/cmdline": b""}), "empty"),
    (parse_swaps, Section({"/proc/swaps": b"garbage\n"}, probes={"lsblk": Probe(0, b"{}")}), "Filename"),
    (parse_crypto_policy, Section({"/etc/crypto-policies/config": b"DEFAULT\nLEGACY\n"}), "one policy name"),
    (parse_ssh_client, Section(probes={"ssh_G": Probe(0, b"usage: ssh [-46AaCf...]\n")}), "not an ssh client"),
    (parse_ssh_client, Section(probes={"ssh_G": Probe(3, b"", b"refused: /etc/ssh/ssh_config has Match exec")}),
     "Match exec"),
    (parse_var_log, Section(probes={"find": Probe(0, b"644 root /var/log/x\0")}), "unexpected find output"),
    (parse_logrotate, logrotate_section("/var/log/x {\nrotate many\n}\n"), "needs a number"),
    (parse_logrotate, logrotate_section("/var/log/x {\nrotate 4\n"), "not closed"),
    (parse_syslog, Section({"/etc/rsyslog.conf": b'action(type="omfwd" target="x"\n'},
                           probes={"binaries": Probe(0, b"/usr/sbin/rsyslogd\n"),
                                   "processes": Probe(0, b"/proc/9/exe 0 /usr/sbin/rsyslogd\0"),
                                   "units": Probe(0, UNITS_IDLE)}), r"unterminated action\("),
    (parse_setuid_programs, Section(probes={"find": Probe(0, b"root /usr\0rwsr-xr-x /usr/bin/x\0find-exit 0\0")}),
     "unexpected find output"),
])
def test_unparseable_is_a_parse_error(parse, section, words):
    with pytest.raises(ParseError, match=words):
        parse(section, T)


def test_setuid_search_reports_caps():
    many = b"root /usr\0" + b"".join(f"4755 root root /usr/bin/p{i}\0".encode()
                                      for i in range(SETUID_MAX_RESULTS + 1))
    progs = parse_setuid_programs(Section(probes={"find": Probe(0, many)}), T)
    assert not progs.complete and "result cap" in progs.incomplete_why
    assert len(progs.programs) == SETUID_MAX_RESULTS
    timed = parse_setuid_programs(Section(probes={"find": Probe(0, b"root /usr\0find-exit 124\0")}), T)
    assert not timed.complete and "time cap" in timed.incomplete_why


def test_setuid_plan_is_bounded_and_quotes_roots():
    _, probes = setuid_plan(make_target(policy={"setuid_search_roots": ["/usr", "/srv/a b"]}))
    command = probes[0][1]
    assert "-xdev -maxdepth 3 " in command and "@{timeout} -k 1 5 " in command and "'/srv/a b'" in command
    assert f"-n {SETUID_MAX_RESULTS + 3}" in command


@pytest.mark.parametrize("depth", [0, "4", True])
def test_setuid_bad_depth_is_refused(depth):
    with pytest.raises(ParseError, match="setuid_search_depth"):
        parse_setuid_programs(Section(probes={"find": Probe(0, b"find-exit 0\0")}),
                              make_target(policy={"setuid_search_depth": depth}))


def test_setuid_relative_root_is_refused():
    with pytest.raises(ParseError, match="absolute"):
        parse_setuid_programs(Section(probes={"find": Probe(0, b"find-exit 0\0")}),
                              make_target(policy={"setuid_search_roots": ["usr"]}))


def test_restore_test_command_needs_a_format():
    with pytest.raises(ParseError, match="without restore_test_format"):
        parse_restore_test(Section(probes={"now": Probe(0, b"1700000000\n"), "record": Probe(0, b"ok\n")}),
                           make_target(policy={"restore_test_command": "/usr/local/bin/restore-report"}))


def test_restore_test_ambiguous_regex_is_an_error():
    target = make_target(policy={"restore_test_command": "/usr/local/bin/restore-report",
                                 "restore_test_format": "regex:tested (?P<ts>\\S+)"})
    out = b"tested 2026-01-01\ntested 2025-01-01\n"
    with pytest.raises(ParseError, match="ambiguous"):
        parse_restore_test(Section(probes={"now": Probe(0, b"1767225600\n"), "record": Probe(0, out)}), target)

"""Every Linux parser splits a target's text on ``\\n`` only, as the tools that read those files do.

``str.splitlines`` also breaks on \\r, \\v, \\f, \\x1c-\\x1e, \\x85, U+2028 and U+2029: a comment line
``#\\rPASS_MAX_DAYS 60`` would become a live setting. Each case below parses a clean input, then the same input
with one extra line that holds such a separator, and asserts that what follows the separator had no effect.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from scanner.collectors.linux_accounts import parse_group, parse_passwd, parse_shadow
from scanner.collectors.linux_audit import parse_audit_config, parse_audit_log_modes, parse_auditd, parse_journald
from scanner.collectors.linux_backup import parse_backup_jobs
from scanner.collectors.linux_common import Probe, Section
from scanner.collectors.linux_files import parse_file_modes
from scanner.collectors.linux_password import parse_login_defs, parse_pam
from scanner.collectors.linux_ssh import parse_sshd
from scanner.collectors.linux_sudo import parse_sudoers
from scanner.collectors.linux_time import parse_time_sync
from scanner.model import Target
from tests.factories import make_target

REPO = Path(__file__).resolve().parents[2]
SEPARATORS = ["\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
SEP_IDS = ["CR", "VT", "FF", "FS", "GS", "RS", "NEL", "LS", "PS"]

STAT_OK = "640|0|42|root|shadow|regular file|/etc/shadow\n644|0|0|root|root|regular file|/etc/passwd\n"
PAM_MODULES = "/lib/x86_64-linux-gnu/security/pam_unix.so\n/lib/x86_64-linux-gnu/security/pam_pwquality.so\n" \
              "/lib/x86_64-linux-gnu/security/pam_faillock.so\n/lib/x86_64-linux-gnu/security/pam_pwhistory.so\n"
SSHD_T = "permitrootlogin no\npasswordauthentication no\nciphers aes256-gcm@openssh.com\n"
AUDITD_PROC = "/proc/611/exe 0 /usr/sbin/auditd\0"
BACKUP_PROBES = {"cron_scripts": "", "units": "", "enabled_timers": "", "unit_matches": "",
                 "timer_files": "missing|/etc/systemd/system/*.timer\n",
                 "cron_stat": "644|0|0|root|root|regular file|/etc/crontab\n"
                              "644|0|0|root|root|regular file|/etc/cron.d/x\n"
                              "755|0|0|root|root|regular file|/etc/cron.daily/x\n"
                              "600|0|0|root|crontab|regular file|/var/spool/cron/crontabs/root\n",
                 "processes": ""}


@dataclass(frozen=True)
class Case:
    """One parser fed a file (or probe) to which ``extra`` (holding the separator) is appended."""

    id: str
    parse: Callable[[Section, Target], object]
    files: dict[str, str]
    probes: dict[str, str]
    where: str  # the file path or probe label that gets the extra line
    extra: str  # "{sep}" marks where the separator goes
    effect: Callable[[object], object]  # the part of the value the extra line must not change
    prepend: bool = False  # the extra line goes before the content, not after it

    def section(self, sep: str | None, line: str | None = None) -> Section:
        """The input, with the extra line (separator ``sep``, or ``line`` as given) added."""
        files = dict(self.files)
        probes = dict(self.probes)
        if line is None and sep is not None:
            line = self.extra.replace("{sep}", sep)
        if line is not None:
            into = files if self.where.startswith("/") else probes
            old = into.get(self.where, "")
            into[self.where] = line + "\n" + old if self.prepend else old + line + "\n"
        return Section(files={k: v.encode() for k, v in files.items()},
                       probes={k: Probe(0, v.encode()) for k, v in probes.items()})


def _attr(*names: str) -> Callable[[object], object]:
    def get(value: object) -> object:
        for name in names:
            value = getattr(value, name)
        return value
    return get


def _journald_files(extra_storage: str = "") -> dict[str, str]:
    return {"/etc/systemd/journald.conf": "[Journal]\nStorage=volatile\n"}


CASES = [
    Case("login.defs", parse_login_defs, {"/etc/login.defs": "PASS_MAX_DAYS 99999\n", "/etc/default/useradd": ""},
         {}, "/etc/login.defs", "#{sep}PASS_MAX_DAYS 60", _attr("values")),
    Case("login.defs-blank-word", parse_login_defs, {"/etc/login.defs": "PASS_MAX_DAYS 99999\n",
                                                     "/etc/default/useradd": ""},
         {}, "/etc/login.defs", "{sep}PASS_MAX_DAYS 60", lambda v: v.values.get("PASS_MAX_DAYS")),  # type: ignore
    Case("useradd", parse_login_defs, {"/etc/login.defs": "", "/etc/default/useradd": "INACTIVE=-1\n"},
         {}, "/etc/default/useradd", "#{sep}INACTIVE=30", _attr("useradd")),
    Case("pam.d", parse_pam, {"/etc/pam.d/common-password": "password required pam_unix.so\n"},
         {"modules": PAM_MODULES}, "/etc/pam.d/common-password", "#{sep}password requisite pam_pwquality.so minlen=14",
         _attr("rules")),
    Case("pam.d-args", parse_pam, {"/etc/pam.d/common-auth": "auth required pam_unix.so\n"},
         {"modules": PAM_MODULES}, "/etc/pam.d/common-auth", "auth required pam_faillock.so #{sep}deny=3",
         lambda v: sorted({k for r in v.rules for k in r.args})),  # type: ignore[attr-defined]
    Case("pwquality.conf", parse_pam, {"/etc/pam.d/common-password": "password required pam_unix.so\n",
                                       "/etc/security/pwquality.conf": "minlen = 8\n"},
         {"modules": PAM_MODULES}, "/etc/security/pwquality.conf", "#{sep}minlen = 14", _attr("pwquality")),
    Case("faillock.conf", parse_pam, {"/etc/pam.d/common-auth": "auth required pam_unix.so\n",
                                      "/etc/security/faillock.conf": ""},
         {"modules": PAM_MODULES}, "/etc/security/faillock.conf", "#{sep}deny = 3", _attr("faillock")),
    Case("pwhistory.conf", parse_pam, {"/etc/pam.d/common-auth": "auth required pam_unix.so\n",
                                       "/etc/security/pwhistory.conf": ""},
         {"modules": PAM_MODULES}, "/etc/security/pwhistory.conf", "#{sep}remember = 24", _attr("pwhistory")),
    Case("pam-modules", parse_pam, {"/etc/pam.d/common-auth": "auth required pam_unix.so\n"},
         {"modules": "/lib/security/pam_unix.so\n"}, "modules", "/nonexistent{sep}/lib/security/pam_faillock.so",
         lambda v: sorted(f.rsplit("/", 1)[-1] for f in v.module_files)),  # type: ignore[attr-defined]
    Case("sshd -T", parse_sshd, {}, {"sshd_T": SSHD_T}, "sshd_T", "banner none{sep}maxauthtries 2",
         lambda v: v.options.get("maxauthtries")),  # type: ignore[attr-defined]
    Case("sudoers", parse_sudoers, {"/etc/sudoers": "root ALL=(ALL) ALL\n"}, {}, "/etc/sudoers",
         "#{sep}eve ALL=(ALL) NOPASSWD: ALL", lambda v: [s.text for s in v.lines if "eve" in s.text]),  # type: ignore
    Case("passwd", parse_passwd, {"/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n"}, {}, "/etc/passwd",
         "#{sep}toor:x:0:0::/root:/bin/sh", _attr("entries")),
    Case("group", parse_group, {"/etc/group": "root:x:0:\n"}, {}, "/etc/group", "#{sep}wheel:x:10:eve",
         _attr("entries")),
    Case("shadow", parse_shadow, {}, {"shadow": "root:$y$HASH:20000:0:99999:7:::\n"}, "shadow",
         "#{sep}eve::20000:0:99999:7:::", _attr("entries")),
    Case("stat", parse_file_modes, {}, {"stat": STAT_OK}, "stat",
         "missing|/etc/gshadow{sep}666|0|0|root|root|regular file|/etc/shadow",
         lambda v: v.files["/etc/shadow"]),  # type: ignore[attr-defined]
    Case("audit log stat", parse_audit_log_modes, {},
         {"stat": "750|0|0|root|root|directory|/var/log/audit\n"}, "stat",
         "missing|/x{sep}600|0|0|root|root|regular file|/var/log/audit/audit.log", _attr("files")),
    Case("auditctl -l", parse_auditd, {}, {"auditctl_s": "enabled 1\n", "processes": AUDITD_PROC,
                                           "auditctl_l": "-w /etc/passwd -p wa -k identity\n"}, "auditctl_l",
         "No rules{sep}-w /etc/shadow -p wa -k identity", lambda v: [r for r in v.rules if r.startswith("-w /etc/sh")]),  # type: ignore
    Case("auditctl -s", parse_auditd, {}, {"auditctl_s": "enabled 0\n", "processes": AUDITD_PROC, "auditctl_l": ""},
         "auditctl_s", "backlog_limit 8192{sep}enabled 1", _attr("enabled"), prepend=True),
    Case("audisp-remote", parse_audit_config,
         {"/etc/audit/plugins.d/au-remote.conf": "active = yes\npath = /sbin/audisp-remote\n",
          "/etc/audit/audisp-remote.conf": ""}, {}, "/etc/audit/audisp-remote.conf",
         "#{sep}remote_server = logs.example.com", _attr("remote_plugins")),
    Case("rsyslog", parse_audit_config, {"/etc/rsyslog.conf": "*.* /var/log/messages\n"}, {}, "/etc/rsyslog.conf",
         "#{sep}*.* @@logs.example.com:514", _attr("syslog_forwarding")),
    Case("syslog-ng", parse_audit_config, {"/etc/syslog-ng/syslog-ng.conf": "options { };\n"}, {},
         "/etc/syslog-ng/syslog-ng.conf", '#{sep}destination d_net { network("logs.example.com"); };',
         _attr("syslog_forwarding")),
    Case("journal-upload", parse_audit_config, {"/etc/systemd/journal-upload.conf": "[Upload]\n"}, {},
         "/etc/systemd/journal-upload.conf", "#{sep}URL=https://logs.example.com", _attr("journal_upload")),
    Case("journald.conf", parse_journald, _journald_files(),
         {"journald_binary": "", "journal_dir": "", "units": "Id=systemd-journald.service\nActiveState=active\n"},
         "/etc/systemd/journald.conf",
         "#{sep}Storage=persistent", _attr("storage")),
    Case("timedatectl", parse_time_sync, {}, {"timedatectl": "NTP=yes\nNTPSynchronized=no\n"}, "timedatectl",
         "Timezone=UTC{sep}NTPSynchronized=yes", _attr("synchronized")),
    Case("crontab", parse_backup_jobs, {"/etc/crontab": "SHELL=/bin/sh\n"}, BACKUP_PROBES, "/etc/crontab",
         "#{sep}0 1 * * * root /usr/bin/restic backup /", _attr("jobs")),
    Case("cron.d", parse_backup_jobs, {"/etc/cron.d/x": "SHELL=/bin/sh\n"}, BACKUP_PROBES, "/etc/cron.d/x",
         "# nightly{sep}0 1 * * * root /usr/bin/borg create ::x /", _attr("jobs")),
    Case("root crontab", parse_backup_jobs, {"/var/spool/cron/crontabs/root": "MAILTO=root\n"}, BACKUP_PROBES,
         "/var/spool/cron/crontabs/root", "#{sep}0 1 * * * /usr/bin/restic backup /", _attr("jobs")),
    Case("cron scripts", parse_backup_jobs, {}, BACKUP_PROBES, "cron_scripts",
         "/etc/cron.daily/x:# old{sep}/etc/cron.daily/x:restic backup /", _attr("jobs")),
]


def test_the_cases_cover_every_line_based_parser():
    line_based = {"parse_login_defs", "parse_pam", "parse_sshd", "parse_sudoers", "parse_passwd", "parse_group",
                  "parse_shadow", "parse_file_modes", "parse_audit_log_modes", "parse_auditd", "parse_audit_config",
                  "parse_journald", "parse_time_sync", "parse_backup_jobs"}
    assert {c.parse.__name__ for c in CASES} == line_based


@pytest.mark.parametrize("sep", SEPARATORS, ids=SEP_IDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_separator_other_than_newline_does_not_start_a_line(case: Case, sep: str) -> None:
    target = make_target()
    clean = case.effect(case.parse(case.section(None), target))
    with_extra = case.effect(case.parse(case.section(sep), target))
    assert with_extra == clean


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_same_line_split_on_newline_does_take_effect(case: Case) -> None:
    """The control: with a real newline in place of the separator, the extra line changes the value."""
    target = make_target()
    line = case.extra.replace(" #{sep}", " ") if case.id == "pam.d-args" else \
        case.extra.replace("#{sep}", "\n").replace("{sep}", "\n")
    clean = case.effect(case.parse(case.section(None), target))
    assert case.effect(case.parse(case.section(None, line), target)) != clean


def test_no_splitlines_in_collectors_or_checks():
    """``str.splitlines`` must not come back: split a target's text with ``linux_common.lines`` (on \\n only)."""
    offenders = [f"{p.relative_to(REPO)}:{n}" for root in ("scanner/collectors", "checks")
                 for p in sorted((REPO / root).rglob("*.py"))
                 for n, line in enumerate(p.read_text().split("\n"), 1) if re.search(r"\.splitlines\(", line)]
    assert offenders == []

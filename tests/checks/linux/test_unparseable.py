"""Fail closed: evidence that is missing, unreadable or not understood makes the check ``error``, never ``pass``.

Each row takes a recorded case whose check passes (or fails) cleanly, damages one recording, and expects
``error`` with the reason in the message.
"""
from __future__ import annotations

import pytest

from scanner.model import Status
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.checks.linux.recorded import case_target, changed_copy, recorded_facts

SSHD = "probes/sshd_effective/sshd_T"
BROKEN = [
    # (case, check, {relative path: new content or None to delete}, words expected in the error)
    ("hardened", "linux.ssh.root_login", {f"{SSHD}.out": "Usage: sshd [-46DdeGiqTtV]\n"},
     "not an sshd configuration dump"),
    ("hardened", "linux.ssh.crypto", {f"{SSHD}.out": "", f"{SSHD}.rc": "255",
                                      f"{SSHD}.err": "Missing privilege separation directory: /run/sshd\n"},
     "Missing privilege separation directory"),
    ("hardened", "linux.ssh.max_auth_tries", {f"{SSHD}.out": "permitrootlogin no\npasswordauthentication no\n"
                                                             "ciphers aes256-ctr\nmaxauthtries lots\n"},
     "ValueError"),
    ("hardened", "linux.accounts.uid0", {"files/etc/passwd": "root:x:0:0:root:/root\n"}, "expected 7"),
    ("hardened", "linux.accounts.uid0", {"files/etc/passwd": None}, "/etc/passwd does not exist"),
    ("hardened", "linux.accounts.empty_password",
     {"probes/shadow/shadow.out": "", "probes/shadow/shadow.rc": "2",
      "probes/shadow/shadow.err": "awk: cannot open /etc/shadow (Permission denied)\n"}, "Permission denied"),
    ("hardened", "linux.password.max_age", {"probes/shadow/shadow.out": "alice:$y$HASH:20230:1:ninety:14:30::\n"},
     "not an integer"),
    ("hardened", "linux.accounts.empty_password", {"probes/shadow/shadow.out": "alice:$6$abc$realhash:1:1:90:7:30::\n"},
     "redacted form"),
    ("hardened", "linux.crypto.disk_encryption", {"probes/block_devices/lsblk.out": "lsblk: unknown column: PATH\n"},
     "not JSON"),
    ("hardened", "linux.crypto.disk_encryption", {"probes/mounts/findmnt.out": "", "probes/mounts/findmnt.rc": "1"},
     "findmnt -J: exit 1"),
    ("hardened", "linux.sudo.nopasswd", {"unreadable.txt": "/etc/sudoers\n"}, "cannot read /etc/sudoers"),
    ("hardened", "linux.time.synchronized",
     {"probes/time_sync/timedatectl.out": None, "probes/time_sync/timedatectl.rc": "1",
      "probes/time_sync/timedatectl.err": "System has not been booted with systemd as init system (PID 1).\n"},
     "no time synchronisation source could be queried"),
    ("hardened", "linux.audit.auditd_active", {"probes/auditd/auditctl_s.out": "garbage\n"}, "no 'enabled' line"),
    ("hardened", "linux.files.shadow_perms", {"probes/file_modes/stat.out": "640 root shadow /etc/shadow\n"},
     "unexpected stat output"),
    ("hardened", "linux.password.max_age", {"files/etc/login.defs": None}, "/etc/login.defs does not exist"),
    ("hardened", "linux.password.min_length",
     {"files/etc/pam.d/common-password": None, "files/etc/pam.d/common-auth": None,
      "files/etc/pam.d/common-account": None}, "none of the PAM stack files exists"),
    ("hardened", "linux.password.lockout", {"files/etc/pam.d/common-auth": "auth\n"}, "not a PAM rule"),
    ("hardened", "linux.password.complexity", {"unreadable.txt": "/etc/security/pwquality.conf.d\n"},
     "cannot read /etc/security/pwquality.conf.d"),
    ("hardened", "linux.backup.recent", {"files/var/lib/restic/last-success": None},
     "backup status file /var/lib/restic/last-success does not exist"),
    ("weak", "linux.backup.recent", {"probes/backup_status/status.out": "all good\n"},
     "does not match the declared pattern"),
    ("weak", "linux.backup.recent", {"probes/backup_status/status.rc": "3"}, "exit 3"),
    ("hardened", "linux.audit.journald_persistent", {"probes/journald/journal_dir.rc": "124"}, "timed out"),
    ("hardened", "linux.backup.scheduled", {"probes/backup_jobs/processes.rc": "1"}, "list processes: exit 1"),
    ("debian12", "linux.backup.scheduled", {"unreadable.txt": "/var/spool/cron/crontabs\n"},
     "could not be searched: /var/spool/cron/crontabs"),
]


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(["checks.linux"])


@pytest.mark.parametrize(("case", "check_id", "changes", "reason"), BROKEN,
                         ids=[f"{c}-{k}-{r[:30]}" for c, k, _, r in BROKEN])
def test_broken_evidence_is_an_error(tmp_path, registry, case, check_id, changes, reason):
    changed_copy(case, tmp_path, changes)
    target = case_target(case, tmp_path)
    findings = evaluate(registry.checks[check_id], recorded_facts(case, target, tmp_path), target)
    assert [f.status for f in findings] == [Status.ERROR], [f.message for f in findings]
    assert reason in findings[0].message


@pytest.mark.parametrize(("case", "check_id"), sorted({(c, k) for c, k, _, _ in BROKEN}))
def test_the_undamaged_case_does_not_error(registry, case, check_id):
    findings = evaluate(registry.checks[check_id], recorded_facts(case), case_target(case))
    assert Status.ERROR not in {f.status for f in findings}

"""sudo: privilege escalation always asks for the user's password."""
from __future__ import annotations

import re

from scanner.facts.linux import Sudoers
from scanner.model import Finding, Location, failed, not_applicable, passed
from scanner.registry import check

_NO_AUTH = re.compile(r"(\bNOPASSWD\s*:)|(^Defaults\b.*!\s*authenticate\b)")


@check(id="linux.sudo.nopasswd", title="sudo always asks for a password", severity="high", area="access_control",
       criterion="No sudoers rule grants NOPASSWD and authentication is not turned off with !authenticate.",
       remediation="Remove NOPASSWD from the listed sudoers rules and '!authenticate' from Defaults (edit with "
                   "visudo); give automation a narrowly scoped rule for the exact commands it needs instead.")
def nopasswd(sudoers: Sudoers) -> Finding:
    if not sudoers.installed:
        return not_applicable("sudoers", "sudo is not installed (/etc/sudoers does not exist)")
    offending = [s for s in sudoers.lines if _NO_AUTH.search(s.text)]
    if offending:
        return failed("sudoers", f"{len(offending)} sudoers line(s) skip authentication",
                      location=offending[0].location, rules=[f"{s.file}:{s.line}: {s.text}" for s in offending])
    files = sorted({s.file for s in sudoers.lines})
    return passed("sudoers", "no sudoers rule skips authentication", location=Location("/etc/sudoers"),
                  files=files, rules=[])

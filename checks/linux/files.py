"""Ownership and modes of the account databases."""
from __future__ import annotations

from typing import Any

from checks.linux._common import mode_problems
from scanner.facts.linux import FileModes
from scanner.model import Finding, Location, failed, not_applicable, passed
from scanner.registry import check


def file_findings(modes: FileModes, paths: tuple[str, ...], max_mode: int, groups: tuple[str, ...],
                  required: tuple[str, ...]) -> list[Finding]:
    findings = []
    for path in paths:
        st = modes.files.get(path)
        if st is None:
            if path in required:
                findings.append(failed(path, f"{path} does not exist", location=Location(path)))
            elif path in modes.files:
                findings.append(not_applicable(path, f"{path} does not exist on this system"))
            continue
        observed: dict[str, Any] = {"mode": st.octal, "owner": st.owner, "group": st.group}
        problems = mode_problems(st, max_mode, groups)
        if problems:
            findings.append(failed(path, f"{path}: {'; '.join(problems)}", location=Location(path), **observed))
        else:
            findings.append(passed(path, f"{path} is {st.octal} {st.owner}:{st.group}", location=Location(path),
                                   **observed))
    return findings


@check(id="linux.files.shadow_perms", title="Shadow files are readable by root only", severity="high",
       area="access_control",
       criterion="/etc/shadow and /etc/gshadow (and their backups) are owned by root, group root or shadow, "
                 "mode 0640 or stricter.",
       remediation="chown root:shadow (or root:root) and chmod 0640 (or stricter) /etc/shadow, /etc/gshadow and "
                   "their backups.")
def shadow_perms(file_modes: FileModes) -> list[Finding]:
    return file_findings(file_modes, ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"),
                         0o640, ("root", "shadow"), required=("/etc/shadow",))


@check(id="linux.files.passwd_perms", title="Account files are writable by root only", severity="high",
       area="access_control",
       criterion="/etc/passwd and /etc/group (and their backups) are owned by root:root, mode 0644 or stricter.",
       remediation="chown root:root and chmod 0644 /etc/passwd, /etc/group and their backups (the files ending in "
                   "-).")
def passwd_perms(file_modes: FileModes) -> list[Finding]:
    return file_findings(file_modes, ("/etc/passwd", "/etc/group", "/etc/passwd-", "/etc/group-"),
                         0o644, ("root",), required=("/etc/passwd", "/etc/group"))

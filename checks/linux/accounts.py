"""Local accounts: one superuser, unique identities, no account without a password."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from checks.linux._common import first_location, rule_text
from scanner.facts.linux import Groups, Pam, Passwd, Shadow
from scanner.model import Finding, Location, failed, passed
from scanner.registry import check


@check(id="linux.accounts.uid0", title="Only root has UID 0", severity="critical", area="access_control",
       criterion="No account other than root has UID 0 in /etc/passwd.",
       remediation="Give every account other than root its own UID (usermod -u) or remove it; grant administrative "
                   "rights through sudo so each action traces to a named user.")
def uid0(passwd: Passwd) -> Finding:
    holders = sorted(e.name for e in passwd.entries if e.uid == 0)
    others = [n for n in holders if n != "root"]
    if others:
        return failed("/etc/passwd", f"accounts other than root have UID 0: {', '.join(others)}", uid0=holders)
    return passed("/etc/passwd", "only root has UID 0", uid0=holders)


def _duplicates(values: Sequence[str | int]) -> list[str | int]:
    return sorted((v for v, n in Counter(values).items() if n > 1), key=str)


@check(id="linux.accounts.unique_ids", title="User and group identities are unique", severity="high",
       area="access_control",
       criterion="No two local accounts share a UID or a name, and no two groups share a GID or a name.",
       remediation="Give each account and group a unique name and ID (usermod -u, groupmod -g), fix the ownership of "
                   "their files, and run pwck and grpck to confirm.")
def unique_ids(passwd: Passwd, group: Groups) -> list[Finding]:
    findings = []
    for resource, names, ids, id_kind in (
        ("/etc/passwd", [e.name for e in passwd.entries], [e.uid for e in passwd.entries], "UID"),
        ("/etc/group", [e.name for e in group.entries], [e.gid for e in group.entries], "GID"),
    ):
        dup_names, dup_ids = _duplicates(names), _duplicates(ids)
        observed: dict[str, Any] = {"duplicate_names": dup_names, f"duplicate_{id_kind.lower()}s": dup_ids}
        if dup_names or dup_ids:
            shared = {i: sorted(n for n, x in zip(names, ids, strict=True) if x == i) for i in dup_ids}
            detail = "; ".join([f"name {n} repeated" for n in dup_names] +
                               [f"{id_kind} {i} shared by {', '.join(ns)}" for i, ns in shared.items()])
            findings.append(failed(resource, f"identities are not unique: {detail}", **observed))
        else:
            findings.append(passed(resource, f"{len(names)} entries, all names and {id_kind}s unique", **observed))
    return findings


@check(id="linux.accounts.empty_password", title="No account has an empty password", severity="critical",
       area="access_control",
       criterion="No account has an empty password field in /etc/shadow or /etc/passwd, and pam_unix is not given "
                 "nullok (which accepts an empty password) in the auth or password stack.",
       remediation="Lock or set a password for each listed account (passwd -l <user>) and remove nullok from the "
                   "pam_unix.so lines of the PAM stack.")
def empty_password(passwd: Passwd, shadow: Shadow, pam: Pam) -> list[Finding]:
    empty = sorted({e.name for e in shadow.entries if e.state == "empty"} |
                   {e.name for e in passwd.entries if e.password == ""})
    findings = [
        failed("/etc/shadow", f"accounts with an empty password: {', '.join(empty)}", empty=empty,
               location=Location("/etc/shadow")) if empty else
        passed("/etc/shadow", f"none of {len(shadow.entries)} accounts has an empty password", empty=[],
               location=Location("/etc/shadow"))
    ]
    nullok = [r for t in ("auth", "password") for r in pam.find(t, "pam_unix") if "nullok" in r.args]
    if nullok:
        findings.append(failed("pam", f"pam_unix accepts an empty password (nullok): {rule_text(nullok[0])}",
                               location=nullok[0].location, rules=[rule_text(r) for r in nullok]))
    else:
        findings.append(passed("pam", "pam_unix does not accept empty passwords (no nullok)", rules=[],
                               location=first_location(pam, "auth", ("pam_unix",))))
    return findings

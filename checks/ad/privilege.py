"""Active Directory privileged group membership (nested membership included)."""
from __future__ import annotations

from typing import Any

from checks.ldap.common import flavor_gate
from scanner.model import Area, Finding, Severity, failed, passed
from scanner.registry import check


@check(id="ad.privileged_groups", title="Privileged groups hold only approved accounts",
       severity=Severity.CRITICAL, area=Area.ACCESS_CONTROL,
       criterion="Every user in Domain Admins, Enterprise Admins, Schema Admins, Administrators, Account, Backup "
                 "and Server Operators, directly or through nested groups, is in approved_privileged.")
def privileged_groups(root_dse: Any, privileged_groups: Any,
                      approved_privileged: tuple[str, ...] = ()) -> list[Finding]:
    if na := flavor_gate(root_dse, "ad", f"domain {root_dse.base_dn}"):
        return [na]
    approved = {a.lower() for a in approved_privileged}
    out = []
    for group in privileged_groups:
        members = [{"sam": m.sam, "nested": m.nested, "enabled": m.enabled} for m in group.members]
        extra = [m for m in group.members if m.sam.lower() not in approved]
        if extra:
            names = ", ".join(f"{m.sam} ({'nested' if m.nested else 'direct'}"
                              f"{'' if m.enabled else ', disabled'})" for m in extra)
            out.append(failed(group.name, f"unapproved members: {names}", members=members, sid=group.sid,
                              unapproved=[m.sam for m in extra]))
        else:
            out.append(passed(group.name, f"{len(members)} member(s), all approved", members=members, sid=group.sid))
    return out

"""The access list of a Windows host: every local account (built-in ones by relative id, whatever their names),
enabled, last logon, password last set, and whether it is a member of the local Administrators group
(S-1-5-32-544); a group in Administrators (a domain group, or a local group) is a row of its own with its grant,
named, since every one of its members is an administrator of the host.

Built from ``windows.local_accounts`` and ``windows.admin_group``. The facts say nothing of lockout, of other local
groups or of the members of a nested group: those stay unknown (None, or a note), never "not privileged".
"""
from __future__ import annotations

from collections.abc import Mapping

from scanner.access.classify import account_type
from scanner.access.extract import Built, Extractor
from scanner.access.model import Account, AccountType, Grant
from scanner.facts.windows import ADMINISTRATORS_SID, AdminGroup, AdminMember, LocalAccount, LocalAccounts
from scanner.model import Fact, Target

REQUIRED = ("windows.local_accounts", "windows.admin_group")
PRIVILEGE = "local Administrators"
#: relative id -> what the built-in account is
BUILTIN_RIDS = {500: "the built-in Administrator (RID 500)", 501: "the built-in Guest (RID 501)",
                503: "DefaultAccount, managed by Windows (RID 503)",
                504: "WDAGUtilityAccount, used by Windows Defender Application Guard (RID 504)"}


def _grant(group: AdminGroup, member: AdminMember) -> Grant:
    where = "" if member.local else "domain "
    if member.kind == "group":
        why = (f"{where}group {member.name} is a member of the local Administrators group {group.name} "
               f"({ADMINISTRATORS_SID}): each of its members is an administrator of this host")
    else:
        why = f"direct member of the local Administrators group {group.name} ({ADMINISTRATORS_SID}) as {member.name}"
    return Grant(PRIVILEGE, why, "windows.admin_group")


def _local_account(target: Target, a: LocalAccount, group: AdminGroup) -> Account:
    kind, reason = account_type(target, a.name, builtin=BUILTIN_RIDS.get(a.rid))
    grants = tuple(_grant(group, m) for m in group.members if m.sid.upper() == a.sid.upper())
    return Account(system=target.name, platform="windows", name=a.name, id=a.sid, type=kind, type_reason=reason,
                   enabled=a.enabled, locked=None, grants=grants, last_logon=a.last_logon, last_logon_known=True,
                   password_changed=a.password_last_set, groups=(group.name,) if grants else (),
                   evidence=REQUIRED)


def _member_row(target: Target, m: AdminMember, group: AdminGroup) -> Account:
    """A member of Administrators that is not a local account: a domain user, or a (domain or local) group."""
    if m.kind == "group":
        kind = AccountType.SHARED
        reason = f"a {'local' if m.local else 'domain'} group: every one of its members holds its rights"
    else:
        kind, reason = account_type(target, m.name)
    return Account(system=target.name, platform="windows", name=m.name, id=m.sid, type=kind, type_reason=reason,
                   enabled=None, locked=None, grants=(_grant(group, m),), groups=(group.name,),
                   evidence=("windows.admin_group",))


def build(target: Target, facts: Mapping[str, Fact]) -> Built:
    accounts, group = facts["windows.local_accounts"].value, facts["windows.admin_group"].value
    assert isinstance(accounts, LocalAccounts) and isinstance(group, AdminGroup)
    local = {a.sid.upper() for a in accounts.accounts}
    rows = [_local_account(target, a, group) for a in accounts.accounts]
    others = [m for m in group.members if m.sid.upper() not in local]
    rows += [_member_row(target, m, group) for m in others]
    notes = [f"{m.name} ({m.sid}) is a group in the local Administrators group: its members are not listed here "
             "(for a domain group, see the directory's access list)" for m in others if m.kind == "group"]
    notes += [f"{m.name} ({m.sid}) is a local member of the local Administrators group that is not in the local "
              "account list" for m in others if m.local and m.kind != "group"]
    sids: dict[str, list[str]] = {}
    for a in accounts.accounts:
        sids.setdefault(a.sid.upper(), []).append(a.name)
    notes += [f"accounts {', '.join(names)} share the SID {sid}" for sid, names in sids.items() if len(names) > 1]
    return Built(tuple(rows), notes=tuple(notes))


EXTRACTOR = Extractor(facts=REQUIRED, build=build)

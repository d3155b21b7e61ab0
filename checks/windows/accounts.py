"""Windows access control: local accounts, the Administrators group, UAC, the idle lock and RDP logon."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from checks.windows._common import expect, flagged, fold, policy_first, rdp_off, settings_finding
from scanner.facts.windows import (
    BUILTIN_ADMIN_RID,
    GUEST_RID,
    RDP_TCP,
    SYSTEM_POLICIES,
    TS_POLICIES,
    AdminGroup,
    LocalAccounts,
    Registry,
)
from scanner.model import Area, Finding, Severity, error, failed, passed
from scanner.registry import check

#: Default names of the built-in Administrator (RID 500) in common display languages; a rename away from these
#: is what "renamed" means. German keeps "Administrator".
DEFAULT_ADMIN_NAMES = ("Administrator", "Administrateur", "Administrador", "Amministratore", "Administratör",
                       "Järjestelmänvalvoja", "Administratorius", "Администратор", "Rendszergazda")


@check(id="windows.accounts.guest_disabled", title="The built-in Guest account is disabled", severity=Severity.HIGH,
       area=Area.ACCESS_CONTROL,
       criterion="The local account with relative id 501 (Guest, whatever its name) is disabled.",
       remediation="Disable the Guest account: Disable-LocalUser -SID (the computer's SID)-501, or the security "
                   "option 'Accounts: Guest account status' = Disabled.")
def guest_disabled(local_accounts: LocalAccounts) -> Finding:
    guest = local_accounts.by_rid(GUEST_RID)
    if guest is None:
        return error("Guest (RID 501)", "no local account with RID 501 in the account list: cannot judge")
    if guest.enabled:
        return failed(guest.name, f"the Guest account {guest.name} ({guest.sid}) is enabled", sid=guest.sid)
    return passed(guest.name, "the Guest account is disabled", sid=guest.sid)


@check(id="windows.accounts.builtin_admin", title="The built-in Administrator is disabled or renamed",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="The local account with relative id 500 is disabled, or renamed away from its default names "
                 "(builtin_admin_default_names), so that guessing attacks need its name too.",
       remediation="Disable the account with RID 500 and use named administrator accounts, or rename it "
                   "('Accounts: Rename administrator account').")
def builtin_admin(local_accounts: LocalAccounts,
                  builtin_admin_default_names: tuple[str, ...] = DEFAULT_ADMIN_NAMES) -> Finding:
    admin = local_accounts.by_rid(BUILTIN_ADMIN_RID)
    if admin is None:
        return error("Administrator (RID 500)", "no local account with RID 500 in the account list: cannot judge")
    obs: dict[str, Any] = {"name": admin.name, "sid": admin.sid, "enabled": admin.enabled}
    if not admin.enabled:
        return passed(admin.name, "the built-in Administrator is disabled", **obs)
    if admin.name.casefold() in fold(builtin_admin_default_names):
        return failed(admin.name, f"the built-in Administrator is enabled under its default name {admin.name}", **obs)
    return passed(admin.name, f"the built-in Administrator is enabled but renamed to {admin.name}", **obs)


@check(id="windows.accounts.local_admins", title="Only approved principals are local Administrators",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="Every member of the local Administrators group (S-1-5-32-544) is the built-in Administrator or is "
                 "named (DOMAIN\\name or SID) in approved_privileged (the policy name the AD pack uses for approved "
                 "holders of privileged groups); domain groups are named, as their members are administrators too.",
       remediation="Remove the listed members (Remove-LocalGroupMember -SID S-1-5-32-544 -Member ...), or add them "
                   "to approved_privileged in the inventory policy after approval.")
def local_admins(admin_group: AdminGroup, approved_privileged: tuple[str, ...] = ()) -> Finding:
    allowed = fold(approved_privileged)
    members = [f"{m.name} ({m.kind}{'' if m.local else ', domain'})" for m in admin_group.members]
    extra = [m for m in admin_group.members
             if m.name.casefold() not in allowed and m.sid.casefold() not in allowed
             and not (m.local and m.kind == "user" and m.sid.endswith(f"-{BUILTIN_ADMIN_RID}"))]
    obs: dict[str, Any] = {"members": members, "allowed": list(approved_privileged)}
    if extra:
        groups = [m.name for m in extra if m.kind == "group"]
        nested = f"; groups whose members are administrators too: {', '.join(groups)}" if groups else ""
        return failed(admin_group.name, f"{len(extra)} member(s) not approved: "
                      f"{', '.join(m.name for m in extra)}{nested}", not_allowed=[m.name for m in extra], **obs)
    return passed(admin_group.name, f"all {len(members)} member(s) are approved", **obs)


@check(id="windows.accounts.password_required", title="Every enabled local account needs a password",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="No enabled local account has the 'password not required' flag (an empty password would be "
                 "accepted).",
       remediation="Clear the flag: Set-LocalUser -Name <name> -PasswordRequired $true (or net user <name> "
                   "/passwordreq:yes), then set a password.")
def password_required(local_accounts: LocalAccounts) -> Finding:
    return flagged(local_accounts, "local accounts", lambda a: not a.password_required, "need no password",
                   "every enabled local account needs a password")


@check(id="windows.accounts.password_never_expires", title="Enabled local accounts' passwords expire",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="No enabled local account has 'password never expires', except those named in service_accounts.",
       remediation="Set-LocalUser -Name <name> -PasswordNeverExpires $false, or list approved service accounts in "
                   "service_accounts.")
def password_never_expires(local_accounts: LocalAccounts, service_accounts: tuple[str, ...] = ()) -> Finding:
    return flagged(local_accounts, "local accounts", lambda a: not a.password_expires, "have passwords that never "
                   "expire", "every enabled local account's password expires", service_accounts)


@check(id="windows.accounts.stale", title="No enabled local account is unused for too long",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="Every enabled local account logged on within stale_account_days; one that never logged on is "
                 "stale once its password is older than that.",
       remediation="Disable or remove the listed accounts (Disable-LocalUser), after confirming with their owners.")
def stale(local_accounts: LocalAccounts, stale_account_days: int = 90) -> Finding:
    limit = datetime.now(timezone.utc) - timedelta(days=stale_account_days)

    def is_stale(a: Any) -> bool:
        last = a.last_logon or a.password_last_set
        return last is None or last < limit

    return flagged(local_accounts, "local accounts", is_stale, f"not used for more than {stale_account_days} days",
                   f"every enabled local account was used within {stale_account_days} days")


@check(id="windows.accounts.unique_ids", title="Local account names and SIDs are unique",
       severity=Severity.MEDIUM, area=Area.ACCESS_CONTROL,
       criterion="No two local accounts share a SID or a name (compared case-insensitively): one ID, one person.",
       remediation="Remove or rename the duplicates; a duplicated SID means a cloned system image that was not "
                   "generalised (Sysprep) and must be rebuilt.")
def unique_ids(local_accounts: LocalAccounts) -> Finding:
    sids: dict[str, list[str]] = {}
    names: dict[str, list[str]] = {}
    for a in local_accounts.accounts:
        sids.setdefault(a.sid.upper(), []).append(a.name)
        names.setdefault(a.name.casefold(), []).append(a.sid)
    dup = [f"SID {s}: {', '.join(n)}" for s, n in sids.items() if len(n) > 1]
    dup += [f"name {n}: {', '.join(s)}" for n, s in names.items() if len(s) > 1]
    if dup:
        return failed("local accounts", "duplicated: " + "; ".join(dup), duplicates=dup)
    return passed("local accounts", f"{len(local_accounts.accounts)} local accounts, all names and SIDs unique",
                  duplicates=[])


@check(id="windows.auth.uac", title="User Account Control is on and asks administrators",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="EnableLUA = 1 (Admin Approval Mode) and ConsentPromptBehaviorAdmin is 1 or 2 (credentials or "
                 "consent on the secure desktop).",
       remediation="Security options: 'User Account Control: Run all administrators in Admin Approval Mode' = "
                   "Enabled and 'Behavior of the elevation prompt for administrators' = 'Prompt for consent on the "
                   "secure desktop'.")
def uac(registry: Registry) -> Finding:
    problems: list[str] = []
    obs: dict[str, Any] = {}
    expect(registry, SYSTEM_POLICIES, "EnableLUA", lambda v: v == 1, "1", problems, obs)
    expect(registry, SYSTEM_POLICIES, "ConsentPromptBehaviorAdmin", lambda v: v in (1, 2), "1 or 2", problems, obs)
    return settings_finding("User Account Control", problems, "UAC is on and prompts administrators on the secure "
                            "desktop", **obs)


@check(id="windows.session.idle_lock", title="Idle sessions lock", severity=Severity.MEDIUM,
       area=Area.ACCESS_CONTROL,
       criterion="The machine inactivity limit (InactivityTimeoutSecs) is set and at most idle_timeout_seconds.",
       remediation="Security option 'Interactive logon: Machine inactivity limit' = 900 seconds or less.")
def idle_lock(registry: Registry, idle_timeout_seconds: int = 900) -> Finding:
    problems: list[str] = []
    obs: dict[str, Any] = {"limit": idle_timeout_seconds}
    expect(registry, SYSTEM_POLICIES, "InactivityTimeoutSecs", lambda v: 0 < v <= idle_timeout_seconds,
           f"1 to {idle_timeout_seconds} seconds", problems, obs)
    return settings_finding("machine inactivity limit", problems, "idle sessions lock in time", **obs)


@check(id="windows.rdp.nla", title="Remote Desktop requires Network Level Authentication",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="Where Remote Desktop is allowed, UserAuthentication = 1 (policy key first, then RDP-Tcp): users "
                 "authenticate before a session is created.",
       remediation="Computer Configuration > Administrative Templates > Windows Components > Remote Desktop "
                   "Services > Security: 'Require user authentication for remote connections by using Network Level "
                   "Authentication' = Enabled.")
def nla(registry: Registry) -> Finding:
    if off := rdp_off(registry, "Remote Desktop"):
        return off
    value, where = policy_first(registry, TS_POLICIES, RDP_TCP, "UserAuthentication")
    if value == 1:
        return passed("Remote Desktop", f"Network Level Authentication is required ({where} = 1)", value=value)
    return failed("Remote Desktop", f"Network Level Authentication is not required ({where} = {value})", value=value)

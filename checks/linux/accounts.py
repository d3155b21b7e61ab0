"""Local accounts: one superuser, unique identities, no account without a password; system accounts, account
dates, umask, root's PATH, home directories, trust files, su and PAM bypasses."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from checks.linux._common import first_location, rule_text
from scanner.facts.linux import (
    Groups,
    Homes,
    HostClock,
    LoginDefs,
    LoginEnv,
    Pam,
    PamServices,
    Passwd,
    PasswdEntry,
    Shadow,
)
from scanner.model import Finding, Location, error, failed, not_applicable, passed
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


# ---------------------------------------------------------------- issue 14: accounts and access in depth

#: Accounts that traditionally keep GID 0 or a special shell (CIS lists the same exceptions).
GID0_ALLOWED = ("root", "sync", "shutdown", "halt", "operator")
SPECIAL_SHELL_ACCOUNTS = ("root", "sync", "shutdown", "halt")
NOLOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/nologin",
                  "/usr/bin/nologin")
NOBODY_UID = 65534


def _uid_min(login_defs: LoginDefs) -> int:
    return login_defs.int("UID_MIN") or 1000


def _interactive(entry: PasswdEntry, uid_min: int) -> bool:
    """A person's account: root, or a UID from UID_MIN up (not nobody) with a login shell."""
    return (entry.uid == 0 or uid_min <= entry.uid != NOBODY_UID) and entry.shell not in NOLOGIN_SHELLS


@check(id="linux.accounts.gid0", title="Only root has GID 0", severity="high", area="access_control",
       criterion="No account other than root (and the historical sync, shutdown, halt and operator) has GID 0 as its "
                 "primary group, and GID 0 is the group root.",
       remediation="Give each listed account its own primary group (usermod -g) and rename or renumber a group "
                   "other than root that has GID 0 (groupmod).")
def gid0(passwd: Passwd, group: Groups) -> Finding:
    users = sorted(e.name for e in passwd.entries if e.gid == 0)
    groups = sorted(g.name for g in group.entries if g.gid == 0)
    bad_users = [u for u in users if u not in GID0_ALLOWED]
    bad_groups = [g for g in groups if g != "root"]
    observed: dict[str, Any] = {"gid0_accounts": users, "gid0_groups": groups}
    if bad_users or bad_groups:
        parts = ([f"accounts with primary GID 0: {', '.join(bad_users)}"] if bad_users else []) + \
                ([f"groups other than root with GID 0: {', '.join(bad_groups)}"] if bad_groups else [])
        return failed("/etc/passwd", "; ".join(parts), location=Location("/etc/passwd"), **observed)
    return passed("/etc/passwd", "GID 0 belongs to root only", location=Location("/etc/passwd"), **observed)


@check(id="linux.accounts.shadowed", title="Every password is in the shadow file", severity="high",
       area="access_control",
       criterion="Every /etc/passwd entry has 'x' in its password field, so no hash is in the world-readable file.",
       remediation="Run pwconv to move the listed hashes into /etc/shadow, then check that /etc/passwd has 'x' in "
                   "every password field.")
def shadowed(passwd: Passwd) -> Finding:
    bad = sorted(e.name for e in passwd.entries if e.password != "x")
    if bad:
        return failed("/etc/passwd", f"accounts whose password is not in /etc/shadow: {', '.join(bad)}",
                      location=Location("/etc/passwd"), accounts=bad)
    return passed("/etc/passwd", f"all {len(passwd.entries)} accounts use the shadow file",
                  location=Location("/etc/passwd"), accounts=[])


@check(id="linux.accounts.system_shells", title="System accounts cannot log in", severity="medium",
       area="access_control",
       criterion="Every account below UID_MIN (login.defs, default 1000), other than root, sync, shutdown and halt, "
                 "has nologin or false as its shell.",
       remediation="Set the shell of each listed system account to /usr/sbin/nologin (usermod -s).")
def system_shells(passwd: Passwd, login_defs: LoginDefs) -> Finding:
    uid_min = _uid_min(login_defs)
    bad = {e.name: e.shell for e in passwd.entries
           if e.uid < uid_min and e.name not in SPECIAL_SHELL_ACCOUNTS and e.shell not in NOLOGIN_SHELLS}
    observed: dict[str, Any] = {"uid_min": uid_min, "accounts": bad}
    if bad:
        listed = ", ".join(f"{n} ({s or 'no shell'})" for n, s in sorted(bad.items()))
        return failed("/etc/passwd", f"system accounts with a login shell: {listed}", location=Location("/etc/passwd"),
                      **observed)
    return passed("/etc/passwd", f"no system account below UID {uid_min} has a login shell",
                  location=Location("/etc/passwd"), **observed)


@check(id="linux.accounts.system_locked", title="System accounts have no usable password", severity="high",
       area="access_control",
       criterion="No account below UID_MIN (login.defs, default 1000) other than root has a usable password in "
                 "/etc/shadow (its password is locked or disabled).",
       remediation="Lock each listed system account (usermod -L, or passwd -l) and give it no password.")
def system_locked(passwd: Passwd, shadow: Shadow, login_defs: LoginDefs) -> Finding:
    uid_min = _uid_min(login_defs)
    system = {e.name for e in passwd.entries if e.uid < uid_min and e.name != "root"}
    bad = sorted(e.name for e in shadow.entries if e.name in system and e.state in ("hash", "empty"))
    observed: dict[str, Any] = {"uid_min": uid_min, "accounts": bad}
    if bad:
        return failed("/etc/shadow", f"system accounts with a usable password: {', '.join(bad)}",
                      location=Location("/etc/shadow"), **observed)
    return passed("/etc/shadow", f"all {len(system)} system accounts are locked", location=Location("/etc/shadow"),
                  **observed)


@check(id="linux.accounts.expiry", title="Account and password dates are plausible", severity="medium",
       area="access_control",
       criterion="No account has its last password change in the future (which would defeat password ageing), and "
                 "no account with a usable password has passed its account expiry date.",
       remediation="For each listed account, set the last change date (chage -d) or expire the password "
                   "(chage -d 0); lock an account whose expiry date has passed (usermod -L) or set a new expiry "
                   "date (chage -E) if it is still needed.")
def expiry(shadow: Shadow, clock: HostClock) -> Finding:
    today = int(clock.now.timestamp() // 86400)
    future = {e.name: e.last_change for e in shadow.entries if e.last_change is not None and e.last_change > today}
    expired = {e.name: e.expire for e in shadow.entries if e.usable and e.expire is not None and e.expire <= today}
    expiring = {e.name: _day(e.expire) for e in shadow.entries if e.expire is not None and e.expire > today}
    observed: dict[str, Any] = {"today": _day(today), "changed_in_future": {k: _day(v) for k, v in future.items()},
                                "expired_with_password": {k: _day(v) for k, v in expired.items()},
                                "expiry_dates": expiring}
    problems = ([f"last password change in the future: {', '.join(sorted(future))}"] if future else []) + \
               ([f"expired but with a usable password: {', '.join(sorted(expired))}"] if expired else [])
    if problems:
        return failed("/etc/shadow", "; ".join(problems), location=Location("/etc/shadow"), **observed)
    return passed("/etc/shadow", f"all account dates are consistent with {_day(today)}",
                  location=Location("/etc/shadow"), **observed)


def _day(days: int | None) -> str:
    return "" if days is None else (date(1970, 1, 1) + timedelta(days=days)).isoformat()


@check(id="linux.accounts.umask", title="New files are not readable by everyone", severity="medium",
       area="access_control",
       criterion="login.defs UMASK and every umask command in the system and root shell start-up files mask at "
                 "least the bits of umask_min (default 027: no write for the group, nothing for others).",
       remediation="Set 'UMASK 027' in /etc/login.defs and 'umask 027' in place of each listed umask command "
                   "(/etc/profile, /etc/bash.bashrc or /etc/bashrc, /etc/profile.d).")
def umask(login_defs: LoginDefs, login_env: LoginEnv, umask_min: int = 0o027) -> list[Finding]:
    raw = login_defs.values.get("UMASK")
    settings = [("/etc/login.defs UMASK", int(raw, 8) if raw else 0o022, login_defs.location("UMASK"))]
    settings += [(f"{u.file}:{u.line}", u.value, u.location) for u in login_env.umasks]
    findings = []
    for where, value, location in settings:
        observed: dict[str, Any] = {"umask": f"{value:03o}", "required": f"{umask_min:03o}"}
        if value & umask_min == umask_min:
            findings.append(passed(where, f"umask {value:03o} masks {umask_min:03o}", location=location, **observed))
        else:
            findings.append(failed(where, f"umask {value:03o} leaves {(umask_min & ~value):03o} open, expected at "
                                          f"least {umask_min:03o}" + (" (UMASK unset: 022)" if not raw and
                                                                       where.startswith("/etc/login.defs") else ""),
                                   location=location, **observed))
    return findings


@check(id="linux.accounts.root_path", title="Root's PATH holds only trusted directories", severity="high",
       area="access_control",
       criterion="No PATH setting that applies to root (shell start-up files, /etc/environment, login.defs "
                 "ENV_SUPATH, sudo secure_path) has an empty, '.' or relative element, and every directory in it "
                 "is owned by root and not writable by group or others. Elements built from other variables are "
                 "listed, not judged.",
       remediation="Remove '.', empty and relative elements from the listed PATH settings, and chown root and "
                   "chmod go-w each listed directory (or drop it from root's PATH).")
def root_path(login_env: LoginEnv) -> list[Finding]:
    findings = []
    for setting in login_env.paths:
        problems, unresolved = [], []
        for element in setting.elements:
            if element == "$PATH":
                continue
            if element in ("", ".") or not element.startswith(("/", "$")):
                problems.append(f"{element or 'an empty element'} is relative to the working directory")
            elif element.startswith("$"):
                unresolved.append(element)
            elif element not in login_env.dirs:
                return [error(f"{setting.file}:{setting.line}", f"the directory {element} was not examined",
                              location=setting.location)]
            elif (st := login_env.dirs[element]) is not None:
                if st.owner != "root":
                    problems.append(f"{element} is owned by {st.owner}")
                if st.mode & 0o022:
                    problems.append(f"{element} is writable by group or others ({st.octal})")
        resource = f"{setting.file}:{setting.line}"
        observed: dict[str, Any] = {"path": ":".join(setting.elements), "unresolved": unresolved}
        if problems:
            findings.append(failed(resource, f"PATH is unsafe for root: {'; '.join(problems)}",
                                   location=setting.location, problems=problems, **observed))
        else:
            findings.append(passed(resource, "every PATH directory is root's and not writable by others",
                                   location=setting.location, **observed))
    return findings or [passed("PATH", "no PATH setting found in the start-up files", files=list(login_env.files))]


def _capped(homes: Homes) -> list[Finding]:
    if not homes.capped:
        return []
    return [error("/etc/passwd", f"only the first {homes.cap} of {homes.accounts} accounts were examined (cap "
                                 f"{homes.cap}); the others are not judged", examined=len(homes.homes))]


@check(id="linux.accounts.home_dirs", title="Home directories belong to their users and are private",
       severity="medium", area="access_control",
       criterion="The home directory of every interactive account (root, and UID_MIN and up with a login shell) "
                 "exists, is a directory (not a symlink), is owned by the account, and has a mode no wider than "
                 "home_max_mode (default 0750). At most 500 accounts are examined; more is an error.",
       remediation="Create missing homes (mkhomedir_helper <user>), chown each listed home to its user and chmod "
                   "it to 0750 or stricter.")
def home_dirs(homes: Homes, passwd: Passwd, login_defs: LoginDefs, home_max_mode: int = 0o750) -> list[Finding]:
    uid_min = _uid_min(login_defs)
    people = {e.name for e in passwd.entries if _interactive(e, uid_min)}
    findings = []
    for home in homes.homes:
        if home.user not in people:
            continue
        st = home.stat
        if st is None:
            findings.append(failed(home.user, f"the home {home.path} of {home.user} does not exist",
                                   location=Location(home.path), home=home.path))
            continue
        observed: dict[str, Any] = {"home": home.path, "mode": st.octal, "owner": st.owner, "kind": st.kind}
        problems = [] if st.kind == "directory" else [f"it is a {st.kind}, not a directory"]
        problems += [f"owner {st.owner} is not {home.user}"] if st.uid != home.uid else []
        problems += [f"mode {st.octal} is wider than {home_max_mode:04o}"] \
            if st.kind == "directory" and st.mode & ~home_max_mode & 0o7777 else []
        if problems:
            findings.append(failed(home.user, f"{home.path}: {'; '.join(problems)}", location=Location(home.path),
                                   **observed))
        else:
            findings.append(passed(home.user, f"{home.path} is {st.octal} {st.owner}", location=Location(home.path),
                                   **observed))
    return _capped(homes) + (findings or [passed("/etc/passwd", "no interactive account has a home to examine")])


@check(id="linux.accounts.dot_files", title="No .rhosts, .netrc or .forward; dot files not writable by others",
       severity="high", area="access_control",
       criterion="No home directory holds a .rhosts, .netrc or .forward file (trust by host, stored passwords, mail "
                 "redirection), and no dot file directly in a home is writable by group or others. At most 500 "
                 "homes and 200 dot files per home are examined; symlinks are not followed.",
       remediation="Remove the listed .rhosts, .netrc and .forward files (move stored credentials to a secrets "
                   "store), and chmod go-w the listed dot files.")
def dot_files(homes: Homes) -> list[Finding]:
    banned, writable, examined = [], [], set()
    for home in homes.homes:
        if home.stat is None or home.stat.kind != "directory" or home.path in examined:
            continue
        examined.add(home.path)
        for dot in home.dot_files:
            if dot.name in (".rhosts", ".netrc", ".forward", ".shosts"):
                banned.append(dot)
            elif dot.kind == "file" and dot.mode & 0o022:
                writable.append(dot)
    findings = _capped(homes)
    for dot in banned:
        findings.append(failed(dot.path, f"{dot.path} exists ({dot.name} owned by {dot.owner})",
                               location=Location(dot.path), mode=f"{dot.mode:04o}", owner=dot.owner))
    for dot in writable:
        findings.append(failed(dot.path, f"{dot.path} is writable by group or others ({dot.mode:04o})",
                               location=Location(dot.path), mode=f"{dot.mode:04o}", owner=dot.owner))
    if not banned and not writable:
        findings.append(passed("home directories", f"no .rhosts, .netrc or .forward and no writable dot file in "
                                                   f"{len(examined)} homes", homes=len(examined)))
    return findings


@check(id="linux.accounts.securetty", title="Root console logins are limited to local terminals", severity="low",
       area="access_control",
       criterion="If /etc/securetty exists it lists no pseudo-terminal (pts) or network terminal, so pam_securetty "
                 "cannot let root log in directly over a remote terminal.",
       remediation="Remove the pts/* and similar remote terminals from /etc/securetty (keep console and tty1-6).")
def securetty(login_env: LoginEnv) -> Finding:
    where = Location("/etc/securetty")
    if login_env.securetty is None:
        return not_applicable("/etc/securetty", "/etc/securetty does not exist (the distribution does not use "
                                                "pam_securetty); remote root login is judged by linux.ssh.root_login")
    remote = [(n, t) for n, t in login_env.securetty if re.match(r"(pts(/|$)|ttyp|ptys?)", t)]
    ttys = [t for _, t in login_env.securetty]
    if remote:
        return failed("/etc/securetty", f"root may log in on remote terminals: {', '.join(t for _, t in remote)}",
                      location=Location("/etc/securetty", remote[0][0]), ttys=ttys)
    return passed("/etc/securetty", f"{len(ttys)} local terminals only", location=where, ttys=ttys)


@check(id="linux.accounts.su_restricted", title="su is restricted to an administrators' group", severity="medium",
       area="access_control",
       criterion="/etc/pam.d/su has an installed pam_wheel.so auth rule with use_uid (not 'trust', which lets the "
                 "group su without a password) whose group exists, and a failure of that rule ends the su: control "
                 "required or requisite (optional or sufficient let everyone else go on to the password).",
       remediation="Create an administrators' group (e.g. sugroup), add 'auth required pam_wheel.so use_uid "
                   "group=sugroup' to /etc/pam.d/su and put only the administrators in it.")
def su_restricted(pam_services: PamServices, pam: Pam, group: Groups) -> Finding:
    rules = pam_services.service("su")
    if rules is None:
        if "/etc/pam.d/su" in pam_services.errors:
            return error("/etc/pam.d/su", pam_services.errors["/etc/pam.d/su"])
        return not_applicable("/etc/pam.d/su", "su has no PAM configuration (su is not installed)")
    wheel = [r for r in rules if r.type == "auth" and r.name == "pam_wheel.so" and "deny" not in r.args]
    installed = [r for r in wheel if pam.installed(r)]
    where = Location("/etc/pam.d/su", installed[0].line) if installed else Location("/etc/pam.d/su")
    if not installed:
        extra = " (pam_wheel.so is named but not installed)" if wheel else ""
        return failed("/etc/pam.d/su", f"any user who knows root's password can su: no pam_wheel rule{extra}",
                      location=where, rules=[rule_text(r) for r in wheel])
    rule = installed[0]
    name = rule.args.get("group") or ("wheel" if any(g.name == "wheel" for g in group.entries) else
                                      next((g.name for g in group.entries if g.gid == 0), "root"))
    members = next((list(g.members) for g in group.entries if g.name == name), None)
    observed: dict[str, Any] = {"rule": rule_text(rule), "group": name, "members": members}
    if "trust" in rule.args:
        return failed("/etc/pam.d/su", f"members of {name} su without a password (pam_wheel trust)",
                      location=where, **observed)
    if rule.control not in ("required", "requisite"):
        return failed("/etc/pam.d/su", f"pam_wheel is '{rule.control}': a user outside {name} is not stopped",
                      location=where, **observed)
    if "use_uid" not in rule.args:
        return failed("/etc/pam.d/su", "pam_wheel without use_uid judges the login name, not the user running su",
                      location=where, **observed)
    if members is None:
        return failed("/etc/pam.d/su", f"pam_wheel names group {name}, which does not exist", location=where,
                      **observed)
    return passed("/etc/pam.d/su", f"su is limited to group {name}", location=where, **observed)


_SKIPS = re.compile(r"success=(done|ok|[1-9][0-9]*)")


@check(id="linux.accounts.pam_succeed_if", title="No PAM rule lets a login skip authentication", severity="high",
       area="access_control",
       criterion="No auth rule in /etc/pam.d uses pam_succeed_if.so or pam_permit.so as 'sufficient' or with a "
                 "success action that ends or skips the stack, which would log a user in on a condition (a group, a "
                 "UID range, a terminal) without a password.",
       remediation="Remove the listed rules, or change their control so that a match can only deny "
                   "(requisite/required), not grant, authentication.")
def pam_succeed_if(pam_services: PamServices) -> list[Finding]:
    if pam_services.errors:
        path, reason = sorted(pam_services.errors.items())[0]
        return [error(path, f"a PAM file could not be read as PAM rules, so a bypass cannot be excluded: {reason}")]
    bypass = [r for rules in pam_services.rules.values() for r in rules
              if r.type == "auth" and r.name in ("pam_succeed_if.so", "pam_permit.so")
              and (r.control == "sufficient" or _SKIPS.search(r.control))]
    if bypass:
        return [failed(r.file, f"authentication can be skipped: {rule_text(r)}", location=r.location,
                       rule=rule_text(r)) for r in bypass]
    return [passed("/etc/pam.d", f"no bypass rule in {len(pam_services.rules)} PAM files",
                   files=len(pam_services.rules))]

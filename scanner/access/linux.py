"""The access list of a Linux host: every /etc/passwd account, its type, password state, groups, and why it is
privileged (uid 0, each sudo rule that names it directly, through a group or a User_Alias).

Built from ``linux.passwd``, ``linux.shadow``, ``linux.group`` and ``linux.sudoers`` (required), and, when
collected, ``linux.login_defs`` (UID_MIN, SYS_UID_MIN), ``linux.clock`` (account expiry) and ``linux.last_logons``.
A sudoers line this module cannot read is never silence: the accounts it may name get an "(unverified)" grant.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scanner.access.classify import account_type
from scanner.access.extract import Built, Extractor
from scanner.access.model import Account, Grant
from scanner.facts.linux import Groups, HostClock, LoginDefs, Passwd, PasswdEntry, Shadow, ShadowEntry, Sudoers
from scanner.model import Fact, Target

REQUIRED = ("linux.passwd", "linux.shadow", "linux.group", "linux.sudoers")
OPTIONAL = ("linux.login_defs", "linux.clock")
NOLOGIN_SHELLS = frozenset({"/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false", "/bin/nologin",
                            "/usr/bin/nologin"})
DEFAULT_UID_MIN = 1000
DEFAULT_SYS_UID_MIN = 100  # Debian's base-passwd owns the static uids below it
NOBODY_UID = 65534
SUDO = "sudo"
UNVERIFIED = "sudo (unverified)"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: a sudoers line that is no user specification (settings, alias definitions, includes)
_NOT_A_RULE = re.compile(r"(Defaults|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\b")
_USER_ALIAS = re.compile(r"User_Alias[ \t]+(.*)$")
_INCLUDE = re.compile(r"[#@](include|includedir)[ \t]+(.*)$")
_ALIAS_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
#: one item of a user list: an optional '!' and a name, %group, %#gid, #uid, %:group, +netgroup, ALL or an alias
_ITEM = re.compile(r"(!*)[ \t]*([^ \t,!\"\\]+)")
_COLLECTED_DIR = "/etc/sudoers.d"


@dataclass(frozen=True)
class Host:
    """What the sudoers rules are matched against."""

    entries: tuple[PasswdEntry, ...]
    groups: Groups
    aliases: Mapping[str, tuple[str, ...]]

    def group_path(self, entry: PasswdEntry, name: str | None = None, gid: int | None = None) -> str | None:
        """How ``entry`` is in the group (by name or gid): "(primary group)" or "(member)", or None."""
        for g in self.groups.entries:
            if (name is not None and g.name != name) or (gid is not None and g.gid != gid):
                continue
            if g.gid == entry.gid:
                return f"group {g.name} (primary group)"
            if entry.name in g.members:
                return f"group {g.name}"
        return None

    def known_group(self, name: str | None = None, gid: int | None = None) -> bool:
        return any((name is None or g.name == name) and (gid is None or g.gid == gid) for g in self.groups.entries)


class Unreadable(ValueError):
    """A sudoers item or line this module cannot settle; the message says why."""


def _split_user_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _user_aliases(sudoers: Sudoers) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for line in sudoers.lines:
        m = _USER_ALIAS.match(line.text)
        if not m:
            continue
        for definition in re.split(r"[ \t]*:[ \t]*(?=[A-Z][A-Z0-9_]*[ \t]*=)", m.group(1)):
            name, eq, members = definition.partition("=")
            if eq and _ALIAS_NAME.fullmatch(name.strip()):
                out[name.strip()] = tuple(_split_user_list(members))
    return out


def _item_matches(item: str, entry: PasswdEntry, host: Host, depth: int = 0) -> str | None:
    """Why one user-list item (without its '!') names ``entry``: "" directly, a path, or None. Raises
    ``Unreadable`` for an item whose members the facts cannot tell."""
    if item == "ALL":
        return "ALL users"
    if item.startswith("%:") or item.startswith("+"):
        raise Unreadable(f"{item} is a non-Unix group or a netgroup, whose members are not collected")
    if item.startswith("%#"):
        if not item[2:].isdigit():
            raise Unreadable(f"{item} is not a group id")
        gid = int(item[2:])
        if not host.known_group(gid=gid) and entry.gid != gid:
            raise Unreadable(f"group id {gid} is not in /etc/group")
        return host.group_path(entry, gid=gid) or (f"gid {gid} (primary group)" if entry.gid == gid else None)
    if item.startswith("%"):
        name = item[1:]
        if not host.known_group(name=name):
            raise Unreadable(f"group {name} is not in /etc/group (its members come from elsewhere)")
        return host.group_path(entry, name=name)
    if item.startswith("#"):
        if not item[1:].isdigit():
            raise Unreadable(f"{item} is not a user id")
        return f"uid {entry.uid}" if entry.uid == int(item[1:]) else None
    if item in host.aliases:
        if depth > 8:
            raise Unreadable(f"User_Alias {item} nests too deeply")
        why = _list_matches(host.aliases[item], entry, host, depth + 1)
        return None if why is None else f"User_Alias {item}" + (f", {why}" if why else "")
    if _ALIAS_NAME.fullmatch(item) and item not in {e.name for e in host.entries}:
        raise Unreadable(f"{item} looks like a User_Alias that is not defined in the collected files")
    return "" if item == entry.name else None


def _list_matches(items: Iterable[str], entry: PasswdEntry, host: Host, depth: int = 0) -> str | None:
    """Why a user list names ``entry`` (the last matching item wins, '!' negates as in sudo), or None."""
    found: str | None = None
    for raw in items:
        m = _ITEM.fullmatch(raw)
        if not m:
            raise Unreadable(f"user list item {raw!r} is not understood")
        why = _item_matches(m.group(2), entry, host, depth)
        if why is not None:
            found = None if len(m.group(1)) % 2 else why
    return found


def _rule_users(text: str) -> list[str]:
    """The user list of a user specification 'users hosts = commands'."""
    left, eq, _ = text.partition("=")
    if not eq or '"' in left or "\\" in left:
        raise Unreadable("the line is not a user specification this reader understands")
    words = re.sub(r"[ \t]*,[ \t]*", ",", left.strip()).split()
    if len(words) != 2:
        raise Unreadable("the line is not 'users hosts = commands'")
    return _split_user_list(words[0])


def _named_by(text: str, entry: PasswdEntry, host: Host) -> str | None:
    """How a line this module cannot read may name ``entry`` in its user part (before any '='): its name, a group
    it is in, or ALL as the first word; None."""
    left = text.partition("=")[0]
    words = [w for w in re.split(r"[ \t,():!%\"'\\]+", left) if w]
    if words[:1] == ["ALL"]:
        return "names ALL"
    if entry.name in words:
        return "names the account"
    for g in host.groups.entries:
        if g.name in words and (g.gid == entry.gid or entry.name in g.members):
            return f"names its group {g.name}"
    return None


def _unverified(entries: Iterable[PasswdEntry], text: str, where: str, reason: str,
                host: Host) -> dict[str, list[Grant]]:
    """An "(unverified)" grant for every account the line may name; every account when it names none known."""
    named = {e.name: _named_by(text, e, host) for e in entries}
    anyone = not any(named.values())
    return {name: [Grant(UNVERIFIED, f"may grant sudo: rule '{text}' ({where}) "
                                     f"{how or 'names no known account'}: {reason}", "linux.sudoers")]
            for name, how in named.items() if how or anyone}


def _include_unread(text: str) -> str | None:
    """The file or directory an include line names when the collector did not read it (it reads the main file
    and /etc/sudoers.d)."""
    m = _INCLUDE.match(text)
    if not m:
        return None
    path = m.group(2).strip().strip('"')
    collected = path.rstrip("/") == _COLLECTED_DIR if m.group(1) == "includedir" else \
        path.startswith(_COLLECTED_DIR + "/") or path == "/etc/sudoers"
    return None if collected else path


def sudo_grants(passwd: Passwd, groups: Groups, sudoers: Sudoers) -> dict[str, list[Grant]]:
    """Account name -> its sudo grants, in sudoers order."""
    out: dict[str, list[Grant]] = {e.name: [] for e in passwd.entries}
    if not sudoers.installed:
        return out
    host = Host(passwd.entries, groups, _user_aliases(sudoers))
    for line in sudoers.lines:
        where = f"{line.file}:{line.line}"
        unread = _include_unread(line.text)
        if unread is not None:
            for name, grants in _unverified(passwd.entries, line.text, where,
                                            f"{unread} is included but not collected", host).items():
                out[name] += grants
            continue
        if _INCLUDE.match(line.text) or _NOT_A_RULE.match(line.text) or _USER_ALIAS.match(line.text):
            continue
        try:
            users = _rule_users(line.text)
            matched = {e.name: _list_matches(users, e, host) for e in passwd.entries}
        except Unreadable as exc:
            for name, grants in _unverified(passwd.entries, line.text, where, str(exc), host).items():
                out[name] += grants
            continue
        for name, why in matched.items():
            if why is not None:
                path = f" via {why}" if why else " names the user"
                out[name].append(Grant(SUDO, f"sudo rule '{line.text}' ({where}){path}", "linux.sudoers"))
    return out


def _value(facts: Mapping[str, Fact], name: str) -> object | None:
    fact = facts.get(name)
    return fact.value if fact is not None and fact.ok else None


def _type_reason(entry: PasswdEntry, uid_min: int, sys_uid_min: int) -> tuple[str | None, str | None]:
    """(built-in reason, service reason) of the platform for the account."""
    if entry.uid == 0 and entry.name == "root":
        return "root, the superuser (uid 0)", None
    if entry.uid == NOBODY_UID:
        return f"the unprivileged placeholder account (uid {NOBODY_UID})", None
    if 0 < entry.uid < sys_uid_min:
        return f"static system account (uid {entry.uid} below SYS_UID_MIN {sys_uid_min})", None
    if 0 < entry.uid < uid_min and entry.shell in NOLOGIN_SHELLS:
        return None, f"system account (uid {entry.uid} below UID_MIN {uid_min}) with no login shell ({entry.shell})"
    return None, None


def _day(days: int | None) -> datetime | None:
    return _EPOCH + timedelta(days=days) if days else None  # 0: the password must be changed at the next logon


def _state(sh: ShadowEntry | None, clock: HostClock | None) -> tuple[bool | None, bool | None]:
    """(enabled, locked): enabled is False once the account expired; locked when no password logon is possible."""
    if sh is None:
        return None, None
    locked = sh.state in ("locked", "disabled")
    if sh.expire is None:
        return True, locked
    if clock is None:
        return None, locked
    return sh.expire > clock.now.timestamp() // 86400, locked


def build(target: Target, facts: Mapping[str, Fact]) -> Built:
    passwd, shadow, groups, sudoers = (facts[n].value for n in REQUIRED)
    assert isinstance(passwd, Passwd) and isinstance(shadow, Shadow) and isinstance(groups, Groups)
    assert isinstance(sudoers, Sudoers)
    login_defs, clock = _value(facts, "linux.login_defs"), _value(facts, "linux.clock")
    uid_min = sys_uid_min = None
    if isinstance(login_defs, LoginDefs):
        uid_min, sys_uid_min = login_defs.int("UID_MIN"), login_defs.int("SYS_UID_MIN")
    uid_min, sys_uid_min = uid_min or DEFAULT_UID_MIN, sys_uid_min or DEFAULT_SYS_UID_MIN
    shadows = {e.name: e for e in shadow.entries}
    sudo = sudo_grants(passwd, groups, sudoers)
    evidence = tuple(n for n in REQUIRED + OPTIONAL if n in facts and facts[n].ok)
    notes = [f"{e.name}: no /etc/shadow entry, password state unknown" for e in passwd.entries
             if e.name not in shadows]
    accounts = []
    for e in passwd.entries:
        builtin, service = _type_reason(e, uid_min, sys_uid_min)
        kind, reason = account_type(target, e.name, builtin=builtin, service=service)
        grants = [Grant("uid 0", "uid 0 in /etc/passwd: the superuser's rights", "linux.passwd")] if e.uid == 0 \
            else []
        enabled, locked = _state(shadows.get(e.name), clock if isinstance(clock, HostClock) else None)
        primary = [g.name for g in groups.entries if g.gid == e.gid][:1]
        member_of = sorted(g.name for g in groups.entries if e.name in g.members and g.name not in primary)
        sh = shadows.get(e.name)
        accounts.append(Account(
            system=target.name, platform="linux", name=e.name, id=f"uid:{e.uid}:{e.name}", type=kind,
            type_reason=reason, enabled=enabled, locked=locked, grants=tuple(grants + sudo[e.name]),
            password_changed=_day(sh.last_change) if sh and sh.state in ("hash", "locked") else None,
            groups=tuple(primary + member_of), evidence=evidence))
    return Built(tuple(accounts), notes=tuple(notes))


EXTRACTOR = Extractor(facts=REQUIRED, optional=OPTIONAL, build=build)

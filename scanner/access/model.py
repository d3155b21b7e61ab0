"""The values of an access review: every account of a system, what it may do and why.

Everything here is built from facts by pure functions (``scanner.access.extract``) and is JSON-serialisable
(``account_to_dict`` / ``system_to_dict`` and back, strictly validated: a run record or a review file is input).
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from scanner.value import frozen


class AccountType(str, enum.Enum):
    PERSON = "person"  # one named human
    SERVICE = "service"  # used by software (policy service_accounts, no interactive shell, IAM role, ...)
    SHARED = "shared"  # used by several people (policy shared_account_patterns)
    BUILTIN = "builtin"  # created by the system itself (root, daemon accounts, Administrator, Guest, krbtgt)

    def __str__(self) -> str:
        return self.value


@frozen
class Grant:
    """One reason an account is privileged."""

    privilege: str  # short, stable, comparable between reviews: "uid 0", "sudo", "Domain Admins", "IAM admin"
    why: str  # the full path for the reviewer: "sudo rule '%wheel ALL=(ALL) ALL' (/etc/sudoers:12) via group wheel"
    source: str  # the fact it was read from (``linux.sudoers``), i.e. where its evidence is in the run


@frozen
class Account:
    system: str  # the inventory target name
    platform: str  # linux | windows | aws | ldap
    name: str  # login name, sAMAccountName, IAM user name, uid
    id: str  # stable identity on the system: uid number, SID, ARN, DN
    type: AccountType
    type_reason: str  # why it has that type ("uid 0", "listed in policy service_accounts", ...)
    enabled: bool | None  # None: not knowable from the facts
    locked: bool | None
    grants: tuple[Grant, ...] = ()  # empty: not privileged
    mfa: bool | None = None  # None: unknown or not a concept on the platform
    last_logon: datetime | None = None
    last_logon_known: bool = False  # True with last_logon None: never logged on
    password_changed: datetime | None = None  # None: unknown, or no password
    groups: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()  # the fact names the row was built from

    @property
    def privileged(self) -> bool:
        return bool(self.grants)

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the account between two reviews (system, id)."""
        return (self.system, self.id)


@frozen
class SystemAccess:
    """One system's access list, or why it could not be had (``error``: fail closed, no partial list)."""

    system: str
    platform: str
    collected_at: datetime
    accounts: tuple[Account, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()  # what is incomplete but not wrong ("last logon not readable: needs root")
    flavor: str = ""  # openldap | ad for directories; empty elsewhere

    @property
    def ok(self) -> bool:
        return self.error is None


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def account_to_dict(a: Account) -> dict[str, Any]:
    return {"system": a.system, "platform": a.platform, "name": a.name, "id": a.id, "type": a.type.value,
            "type_reason": a.type_reason, "enabled": a.enabled, "locked": a.locked,
            "privileged": a.privileged,
            "grants": [{"privilege": g.privilege, "why": g.why, "source": g.source} for g in a.grants],
            "mfa": a.mfa, "last_logon": _time(a.last_logon), "last_logon_known": a.last_logon_known,
            "password_changed": _time(a.password_changed), "groups": list(a.groups),
            "evidence": list(a.evidence)}


def system_to_dict(s: SystemAccess) -> dict[str, Any]:
    return {"system": s.system, "platform": s.platform, "flavor": s.flavor,
            "collected_at": s.collected_at.isoformat(), "error": s.error, "notes": list(s.notes),
            "accounts": [account_to_dict(a) for a in s.accounts]}


class AccessFormatError(ValueError):
    """An access list in a file or run record is not what gxpscan writes; the message names the path."""


def _req(d: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = d.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise AccessFormatError(f"{where}.{key}: missing or not a {kind.__name__}")
    return value


def _opt_time(d: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = d.get(key)
    if value is None:
        return None
    try:
        return datetime.fromisoformat(_req(d, key, str, where))
    except ValueError:
        raise AccessFormatError(f"{where}.{key}: not an ISO time") from None


def _strs(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AccessFormatError(f"{where}: not a list of strings")
    return tuple(value)


def _tristate(d: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = d.get(key)
    if value is not None and not isinstance(value, bool):
        raise AccessFormatError(f"{where}.{key}: not true, false or null")
    return value


def account_from_dict(d: Any, where: str) -> Account:
    if not isinstance(d, Mapping):
        raise AccessFormatError(f"{where}: not an object")
    try:
        kind = AccountType(_req(d, "type", str, where))
    except ValueError:
        raise AccessFormatError(f"{where}.type: not one of {[t.value for t in AccountType]}") from None
    grants = []
    for i, g in enumerate(_req(d, "grants", list, where)):
        gw = f"{where}.grants[{i}]"
        if not isinstance(g, Mapping):
            raise AccessFormatError(f"{gw}: not an object")
        grants.append(Grant(_req(g, "privilege", str, gw), _req(g, "why", str, gw), _req(g, "source", str, gw)))
    known = d.get("last_logon_known", False)
    if not isinstance(known, bool):
        raise AccessFormatError(f"{where}.last_logon_known: not true or false")
    return Account(
        system=_req(d, "system", str, where), platform=_req(d, "platform", str, where),
        name=_req(d, "name", str, where), id=_req(d, "id", str, where), type=kind,
        type_reason=_req(d, "type_reason", str, where), enabled=_tristate(d, "enabled", where),
        locked=_tristate(d, "locked", where), grants=tuple(grants), mfa=_tristate(d, "mfa", where),
        last_logon=_opt_time(d, "last_logon", where), last_logon_known=known,
        password_changed=_opt_time(d, "password_changed", where),
        groups=_strs(d.get("groups", []), f"{where}.groups"),
        evidence=_strs(d.get("evidence", []), f"{where}.evidence"))


def system_from_dict(d: Any, where: str) -> SystemAccess:
    if not isinstance(d, Mapping):
        raise AccessFormatError(f"{where}: not an object")
    error = d.get("error")
    if error is not None and not isinstance(error, str):
        raise AccessFormatError(f"{where}.error: not a string or null")
    collected = _opt_time(d, "collected_at", where)
    if collected is None:
        raise AccessFormatError(f"{where}.collected_at: missing")
    accounts = tuple(account_from_dict(a, f"{where}.accounts[{i}]")
                     for i, a in enumerate(_req(d, "accounts", list, where)))
    return SystemAccess(system=_req(d, "system", str, where), platform=_req(d, "platform", str, where),
                        collected_at=collected, accounts=accounts, error=error,
                        notes=_strs(d.get("notes", []), f"{where}.notes"), flavor=str(d.get("flavor", "")))

"""A periodic access review: every account of every system, what changed since the last approved review, the
reviewer's decisions.

Everything here is a pure function over values (no I/O): ``build_review`` makes a review from the systems'
access lists (``scanner.access.model``), the previous approved review and the policy; ``review_to_dict`` and
``review_from_dict`` are its JSON form (published as ``gxpscan schema access-review``, read back strictly:
a review is input when it is the previous one, or when decisions are recorded into it).

The reviewer reads the changes first: accounts decided "remove" in the previous review that are still present
(findings), then new and removed accounts, privilege gained or lost (by ``Grant.privilege``, with the why),
enabled or disabled, type changed, and accounts unused for longer than the target's policy
``stale_account_days`` (default 90) or never used.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from scanner.access.model import (
    AccessFormatError,
    Account,
    AccountType,
    SystemAccess,
    system_from_dict,
    system_to_dict,
)

FORMAT = "gxpscan-access-review/1"
DEFAULT_STALE_DAYS = 90


class Decision(str, enum.Enum):
    KEEP = "keep"
    REMOVE = "remove"  # the account must go: still present at the next review, it is a finding
    CHANGE = "change"  # its rights or type must change (the comment says how)

    @property
    def needs_comment(self) -> bool:
        return self is not Decision.KEEP


class ChangeKind(str, enum.Enum):
    """What the reviewer is shown, in this order (findings first)."""

    STILL_PRESENT = "decided remove, still present"  # a finding
    NEW = "new account"
    REMOVED = "removed account"
    PRIVILEGE_GAINED = "privilege gained"
    PRIVILEGE_LOST = "privilege lost"
    ENABLED = "enabled"
    DISABLED = "disabled"
    TYPE_CHANGED = "type changed"
    RENAMED = "renamed"  # the same id under another name
    NOT_COMPARED = "system not compared"  # an error list now or then, or a system no longer reviewed
    STALE = "unused longer than policy"
    NEVER_USED = "never used"

    @property
    def finding(self) -> bool:
        return self is ChangeKind.STILL_PRESENT


_ORDER = {k: i for i, k in enumerate(ChangeKind)}


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    system: str
    id: str  # the account's id ("" for a system-level change)
    name: str
    detail: str


@dataclass(frozen=True)
class AccountDecision:
    system: str
    id: str
    name: str
    decision: Decision
    comment: str
    source: str  # where it was read: "decisions.csv:12"


@dataclass(frozen=True)
class ReviewClause:
    """A clause the review is evidence for: what the review shows and what stays procedural (data, own words)."""

    framework: str
    clause: str
    title: str
    evidence: str  # partial | procedural
    shows: str  # what this review is evidence of
    procedural: str  # what the site must still show with its own records


@dataclass(frozen=True)
class PreviousReview:
    review_id: str
    manifest_sha256: str
    created: datetime
    signatures: tuple[str, ...]  # "reviewer Jane Doe, 2026-12-01T10:00:00+00:00, meaning 'Approved'"


@dataclass(frozen=True)
class Review:
    review_id: str
    created: datetime
    tool_version: str
    operator: str  # user@host that ran the review
    operator_name: str  # the printed name given (--operator-name / GXPSCAN_OPERATOR)
    inventory: str
    inventory_sha256: str
    source: str  # "collected from the targets", or the run it was read from
    stale_days: Mapping[str, int]  # per system
    systems: tuple[SystemAccess, ...]
    missing: tuple[str, ...] = ()  # "target: why" for every target without an access list (fail closed)
    previous: PreviousReview | None = None
    changes: tuple[Change, ...] = ()
    decisions: tuple[AccountDecision, ...] = ()
    clauses: tuple[ReviewClause, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def findings(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind.finding)

    @property
    def errors(self) -> tuple[str, ...]:
        """Every system whose list could not be had, and every target missing one."""
        return tuple(f"{s.system}: {s.error}" for s in self.systems if not s.ok) + self.missing

    def accounts(self) -> Iterable[Account]:
        for s in self.systems:
            yield from s.accounts


# --- the review --------------------------------------------------------------------------------------------------

def _idle_days(a: Account, now: datetime) -> int | None:
    return (now - a.last_logon).days if a.last_logon is not None else None


def usage_changes(systems: Sequence[SystemAccess], stale_days: Mapping[str, int], now: datetime) -> list[Change]:
    """Enabled (or maybe enabled) accounts never used, or unused for longer than their system's policy. A built-in
    or service account whose password is locked is left out: that is how a system account is meant to be (a Linux
    daemon's ``*``), and two dozen of them per host would bury the accounts a reviewer must look at."""
    out = []
    for s in systems:
        limit = stale_days.get(s.system, DEFAULT_STALE_DAYS)
        for a in s.accounts:
            if a.enabled is False or (a.locked is True and a.type in (AccountType.BUILTIN, AccountType.SERVICE)):
                continue
            idle = _idle_days(a, now)
            if a.last_logon_known and a.last_logon is None:
                out.append(Change(ChangeKind.NEVER_USED, s.system, a.id, a.name, "enabled, never logged on"))
            elif idle is not None and idle > limit:
                out.append(Change(ChangeKind.STALE, s.system, a.id, a.name,
                                  f"last logon {a.last_logon.isoformat() if a.last_logon else ''}, {idle} days ago "
                                  f"(policy stale_account_days: {limit})"))
    return out


def _grants(a: Account) -> dict[str, str]:
    out: dict[str, str] = {}
    for g in a.grants:
        out[g.privilege] = f"{out[g.privilege]}; {g.why}" if g.privilege in out else g.why
    return out


def _state(value: bool | None) -> str:
    return "unknown" if value is None else "yes" if value else "no"


def account_changes(old: Account, new: Account) -> list[Change]:
    """What changed on one account between two reviews."""
    out = []
    before, after = _grants(old), _grants(new)
    for p in sorted(set(after) - set(before)):
        out.append(Change(ChangeKind.PRIVILEGE_GAINED, new.system, new.id, new.name, f"{p}: {after[p]}"))
    for p in sorted(set(before) - set(after)):
        out.append(Change(ChangeKind.PRIVILEGE_LOST, new.system, new.id, new.name, f"{p}: {before[p]} (was)"))
    if old.enabled != new.enabled:
        kind = ChangeKind.ENABLED if new.enabled else ChangeKind.DISABLED
        out.append(Change(kind, new.system, new.id, new.name,
                          f"enabled: {_state(old.enabled)} -> {_state(new.enabled)}"))
    if old.type != new.type:
        out.append(Change(ChangeKind.TYPE_CHANGED, new.system, new.id, new.name,
                          f"{old.type.value} -> {new.type.value} ({new.type_reason})"))
    if old.name != new.name:  # the id is the identity
        out.append(Change(ChangeKind.RENAMED, new.system, new.id, new.name, f"renamed from {old.name!r}"))
    return out


def _describe(a: Account) -> str:
    grants = "; ".join(f"{g.privilege}: {g.why}" for g in a.grants)
    return f"{a.type.value}, enabled {_state(a.enabled)}" + (f", privileged ({grants})" if grants else "")


def compare(previous: Sequence[SystemAccess], current: Sequence[SystemAccess],
            decisions: Sequence[AccountDecision] = ()) -> list[Change]:
    """The changes between the previous approved review's systems and the current ones."""
    out: list[Change] = []
    before = {s.system: s for s in previous}
    now = {s.system: s for s in current}
    for name, s in now.items():
        old = before.get(name)
        if not s.ok:
            out.append(Change(ChangeKind.NOT_COMPARED, name, "", "", f"the access list is an error now: {s.error}"))
            continue
        if old is not None and not old.ok:
            out.append(Change(ChangeKind.NOT_COMPARED, name, "", "",
                              f"the previous review has no list for it (error: {old.error}); every account is new"))
        old_accounts = {a.id: a for a in old.accounts} if old is not None and old.ok else {}
        new_accounts = {a.id: a for a in s.accounts}
        why_new = "" if old is not None else " (the system was not in the previous review)"
        for a in s.accounts:
            was = old_accounts.get(a.id)
            if was is None:
                out.append(Change(ChangeKind.NEW, name, a.id, a.name, _describe(a) + why_new))
            else:
                out.extend(account_changes(was, a))
        for a in old_accounts.values():
            if a.id not in new_accounts:
                out.append(Change(ChangeKind.REMOVED, name, a.id, a.name, _describe(a) + " (was)"))
    for name in before:
        if name not in now:
            out.append(Change(ChangeKind.NOT_COMPARED, name, "", "", "in the previous review, not in this one"))
    present = {(s.system, a.id): a for s in current if s.ok for a in s.accounts}
    for d in decisions:
        if d.decision is Decision.REMOVE and (d.system, d.id) in present:
            a = present[(d.system, d.id)]
            out.append(Change(ChangeKind.STILL_PRESENT, d.system, d.id, a.name,
                              f"decided remove in the previous review ({d.comment}); still present, enabled "
                              f"{_state(a.enabled)}"))
    return out


def sort_changes(changes: Iterable[Change]) -> tuple[Change, ...]:
    return tuple(sorted(changes, key=lambda c: (_ORDER[c.kind], c.system, c.name, c.id, c.detail)))


def build_review(base: Review, previous: Review | None, previous_info: PreviousReview | None, now: datetime) -> Review:
    """``base`` (identity, systems, policy) with its changes: against ``previous`` when given, and usage."""
    changes = usage_changes(base.systems, base.stale_days, now)
    if previous is not None:
        changes += compare(previous.systems, base.systems, previous.decisions)
    return replace(base, previous=previous_info, changes=sort_changes(changes))


def with_decisions(review: Review, decisions: Sequence[AccountDecision]) -> Review:
    return replace(review, decisions=tuple(decisions))


def exit_status(review: Review) -> str:
    """``findings`` (a "remove" still present), ``errors`` (a list missing or error: fail closed) or ``ok``."""
    if review.findings:
        return "findings"
    return "errors" if review.errors else "ok"


# --- one row per account (CSV, HTML) -------------------------------------------------------------------------------

ROW_COLUMNS = ("system", "platform", "account", "id", "type", "enabled", "locked", "privileged", "why", "mfa",
               "last_logon", "password_age_days", "groups", "changes", "decision", "comment")


def account_row(a: Account, now: datetime, changes: Sequence[Change] = (),
                decision: AccountDecision | None = None) -> tuple[str, ...]:
    """The reviewer's row of one account, as text, in ``ROW_COLUMNS`` order."""
    if a.last_logon is not None:
        logon = a.last_logon.isoformat()
    else:
        logon = "never" if a.last_logon_known else "unknown"
    age = str((now - a.password_changed).days) if a.password_changed is not None else ""
    return (a.system, a.platform, a.name, a.id, a.type.value, _state(a.enabled), _state(a.locked),
            "yes" if a.privileged else "no", "; ".join(f"{g.privilege}: {g.why}" for g in a.grants),
            _state(a.mfa), logon, age, "; ".join(a.groups),
            "; ".join(f"{c.kind.value}: {c.detail}" for c in changes),
            decision.decision.value if decision else "", decision.comment if decision else "")


def rows(review: Review) -> Iterable[tuple[str, ...]]:
    by_account: dict[tuple[str, str], list[Change]] = {}
    for c in review.changes:
        by_account.setdefault((c.system, c.id), []).append(c)
    decided = {(d.system, d.id): d for d in review.decisions}
    for a in review.accounts():
        yield account_row(a, review.created, by_account.get(a.key, ()), decided.get(a.key))


# --- JSON ----------------------------------------------------------------------------------------------------------

def _change_dict(c: Change) -> dict[str, str]:
    return {"kind": c.kind.name.lower(), "system": c.system, "id": c.id, "name": c.name, "detail": c.detail}


def review_to_dict(r: Review) -> dict[str, Any]:
    return {
        "format": FORMAT, "review_id": r.review_id, "created": r.created.isoformat(),
        "tool_version": r.tool_version, "operator": r.operator, "operator_name": r.operator_name,
        "inventory": r.inventory, "inventory_sha256": r.inventory_sha256, "source": r.source,
        "stale_account_days": dict(r.stale_days), "missing": list(r.missing), "notes": list(r.notes),
        "previous": None if r.previous is None else {
            "review_id": r.previous.review_id, "manifest_sha256": r.previous.manifest_sha256,
            "created": r.previous.created.isoformat(), "signatures": list(r.previous.signatures)},
        "summary": summary(r),
        "findings": [_change_dict(c) for c in r.findings],
        "changes": [_change_dict(c) for c in r.changes if not c.kind.finding],
        "decisions": [{"system": d.system, "id": d.id, "name": d.name, "decision": d.decision.value,
                       "comment": d.comment, "source": d.source} for d in r.decisions],
        "clauses": [{"framework": c.framework, "clause": c.clause, "title": c.title, "evidence": c.evidence,
                     "shows": c.shows, "procedural": c.procedural} for c in r.clauses],
        "systems": [system_to_dict(s) for s in r.systems],
    }


def summary(r: Review) -> dict[str, int]:
    accounts = list(r.accounts())
    return {"systems": len(r.systems), "systems_error": sum(not s.ok for s in r.systems) + len(r.missing),
            "accounts": len(accounts), "privileged": sum(a.privileged for a in accounts),
            "findings": len(r.findings), "changes": len(r.changes) - len(r.findings), "decisions": len(r.decisions)}


def _s(d: Mapping[str, Any], key: str, where: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise AccessFormatError(f"{where}.{key}: missing or not a string")
    return value


def _time(d: Mapping[str, Any], key: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(_s(d, key, where))
    except ValueError:
        raise AccessFormatError(f"{where}.{key}: not an ISO time") from None


def _list(d: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = d.get(key)
    if not isinstance(value, list):
        raise AccessFormatError(f"{where}.{key}: missing or not a list")
    return value


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AccessFormatError(f"{where}: not an object")
    return value


def _enum(kind: type[enum.Enum], value: str, where: str) -> Any:
    try:
        return kind[value.upper()] if kind is ChangeKind else kind(value)
    except (KeyError, ValueError):
        raise AccessFormatError(f"{where}: {value[:60]!r} is not one of {[m.name.lower() for m in kind]}") from None


def _strings(d: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _list(d, key, where)
    if not all(isinstance(v, str) for v in items):
        raise AccessFormatError(f"{where}.{key}: not a list of strings")
    return tuple(items)


def review_from_dict(doc: Any, where: str = "review") -> Review:
    """A review as ``review_to_dict`` wrote it; AccessFormatError naming the path otherwise."""
    d = _obj(doc, where)
    if d.get("format") != FORMAT:
        raise AccessFormatError(f"{where}.format: not {FORMAT}")
    stale = _obj(d.get("stale_account_days"), f"{where}.stale_account_days")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in stale.values()):
        raise AccessFormatError(f"{where}.stale_account_days: not a number of days per system")
    prev = d.get("previous")
    previous = None
    if prev is not None:
        pw = f"{where}.previous"
        p = _obj(prev, pw)
        previous = PreviousReview(_s(p, "review_id", pw), _s(p, "manifest_sha256", pw), _time(p, "created", pw),
                                  _strings(p, "signatures", pw))
    changes = []
    for key in ("findings", "changes"):
        for i, c in enumerate(_list(d, key, where)):
            cw = f"{where}.{key}[{i}]"
            c = _obj(c, cw)
            changes.append(Change(_enum(ChangeKind, _s(c, "kind", cw), f"{cw}.kind"), _s(c, "system", cw),
                                  _s(c, "id", cw), _s(c, "name", cw), _s(c, "detail", cw)))
    decisions = []
    for i, x in enumerate(_list(d, "decisions", where)):
        xw = f"{where}.decisions[{i}]"
        x = _obj(x, xw)
        decisions.append(AccountDecision(_s(x, "system", xw), _s(x, "id", xw), _s(x, "name", xw),
                                         _enum(Decision, _s(x, "decision", xw), f"{xw}.decision"),
                                         _s(x, "comment", xw), _s(x, "source", xw)))
    clauses = []
    for i, c in enumerate(_list(d, "clauses", where)):
        cw = f"{where}.clauses[{i}]"
        c = _obj(c, cw)
        clauses.append(ReviewClause(*(_s(c, k, cw) for k in ("framework", "clause", "title", "evidence", "shows",
                                                              "procedural"))))
    return Review(
        review_id=_s(d, "review_id", where), created=_time(d, "created", where),
        tool_version=_s(d, "tool_version", where), operator=_s(d, "operator", where),
        operator_name=_s(d, "operator_name", where), inventory=_s(d, "inventory", where),
        inventory_sha256=_s(d, "inventory_sha256", where), source=_s(d, "source", where),
        stale_days=dict(stale), systems=tuple(system_from_dict(s, f"{where}.systems[{i}]")
                                              for i, s in enumerate(_list(d, "systems", where))),
        missing=_strings(d, "missing", where), previous=previous, changes=sort_changes(changes),
        decisions=tuple(decisions), clauses=tuple(clauses), notes=_strings(d, "notes", where))


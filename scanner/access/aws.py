"""The AWS IAM access list: the root user, every IAM user and every IAM role of each scanned account.

Who is listed (from ``aws.iam_credential_report``, ``aws.iam_users``, ``aws.iam_groups``, ``aws.iam_roles``):

- the account root user (built-in; privileged by nature: IAM policies do not limit it);
- every IAM user: enabled when it has a console password or an active access key, MFA from the credential report,
  last logon = the latest of the console password's last use and the access keys' last use, password last
  changed, the groups it is in;
- every IAM role as a service account ("IAM role"; AWS service-linked roles as built-in), last logon = RoleLastUsed,
  and who may assume it (the trust policy's principals, summarised) in the ``why`` of each of its grants.

What is privileged (a ``Grant`` per policy statement; a user's policies are its own **and those of every group it
is in**, named "via group G"):

- ``IAM admin``: an Allow of every action (``*``, ``*:*``) on every resource, or of every action but a few
  (``NotAction``) when IAM actions are not among the few; the AWS managed policy ``AdministratorAccess``;
- ``IAM full access``: an Allow of every IAM action (``iam:*``) on IAM resources; AWS managed ``IAMFullAccess``;
- ``IAM privilege escalation``: an Allow, on IAM resources, of an IAM action that lets a principal give itself or
  another one more rights (``ESCALATION_ACTIONS``: attach or put a policy, new policy version, add to a group,
  change a trust policy, create keys or passwords), or of every action on IAM resources only;
- ``power user``: every action except IAM (``NotAction`` covering ``iam:*``); AWS managed ``PowerUserAccess``.

An AWS managed policy's document is not collected: it is judged by its ARN (the three above; any other AWS managed
policy grants none of these). Fail closed, a privilege the facts cannot settle is a grant whose privilege ends in
"(unverified)" and whose ``why`` says "may grant ...": an Allow with a ``Condition``, a customer managed policy whose
document could not be read, a group whose policies were not read, a user missing from the authorization details.
A Deny removes a grant only when it is a full explicit deny of the same actions: unconditional, on every resource,
naming every action of the grant (``*`` for admin and power user, ``iam:*`` for IAM full access, each escalation
action for escalation) in a policy that applies to the same principal. Permission boundaries, service control
policies, session and resource policies are not read: they can only narrow a grant, so the list may overstate
what someone can do, never understate it.
"""
from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from scanner.access.classify import account_type
from scanner.access.extract import Built, Extractor
from scanner.access.model import Account, Grant
from scanner.facts.aws import (
    AccountSummary,
    AttachedPolicy,
    AwsResources,
    CredentialUser,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    PolicyDocument,
)
from scanner.model import Fact, Target, thaw

REPORT, USERS, GROUPS, ROLES = "aws.iam_credential_report", "aws.iam_users", "aws.iam_groups", "aws.iam_roles"
SUMMARY = "aws.account_summary"
ROOT_NAME = "<root_account>"  # the credential report's name for the root user
#: IAM records console sign-ins since this day: a password of a user created later without a date was never used
SIGN_IN_TRACKING = datetime(2014, 10, 20, tzinfo=timezone.utc)

ADMIN, IAM_FULL, ESCALATION, POWER_USER, ROOT = (
    "IAM admin", "IAM full access", "IAM privilege escalation", "power user", "account root")
#: AWS managed policies judged by ARN (their documents are not collected): the path after ``policy/``.
MANAGED = {"AdministratorAccess": ADMIN, "IAMFullAccess": IAM_FULL, "PowerUserAccess": POWER_USER}
#: IAM actions that let a principal raise its own or another principal's rights (lower case).
ESCALATION_ACTIONS = tuple(a.lower() for a in (
    "iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:PutUserPolicy",
    "iam:PutGroupPolicy", "iam:PutRolePolicy", "iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion",
    "iam:AddUserToGroup", "iam:UpdateAssumeRolePolicy", "iam:CreateAccessKey", "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile"))
ALL_ACTIONS = frozenset({"*", "*:*"})
STATEMENT_LIMIT = 300  # characters of a statement quoted in a why
TRUST_LIMIT = 12  # principals named in a role's trust summary
SERVICE_LINKED_PATH = "/aws-service-role/"


# ------------------------------------------------------------------------------ the IAM policy language
def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (str, Mapping)):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def _statements(document: PolicyDocument | None) -> list[Mapping[str, Any]]:
    if not isinstance(document, Mapping):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()),
                      re.DOTALL)


def _glob(pattern: str, value: str) -> bool:
    """IAM's wildcard match (``*`` any run, ``?`` one character), case-insensitive as IAM matches actions."""
    return _wildcard(pattern).fullmatch(value.lower()) is not None


def _covers_service(pattern: str, service: str) -> bool:
    """Whether an action pattern matches every action of ``service`` (``iam:*``, ``i*``, ``*``)."""
    p = pattern.lower()
    if p in ALL_ACTIONS:
        return True
    head = p[:-1]
    return p.endswith("*") and "*" not in head and "?" not in head and f"{service}:".startswith(head) \
        or p == f"{service}:*"


def _actions(patterns: Iterable[Any]) -> list[str]:
    return [str(a) for a in patterns]


def _reaches_iam(statement: Mapping[str, Any]) -> bool:
    """Whether a statement's resources can include an IAM resource (``*``, ``NotResource``, an IAM ARN)."""
    if "NotResource" in statement:
        return True
    for r in _actions(_as_list(statement.get("Resource"))):
        parts = r.split(":")  # arn:PARTITION:SERVICE:...
        if "*" in r and len(parts) < 3 or len(parts) >= 3 and _glob(parts[2], "iam"):
            return True
    return False


def _every_resource(statement: Mapping[str, Any]) -> bool:
    return "NotResource" in statement or "*" in _actions(_as_list(statement.get("Resource")))


@dataclass(frozen=True)
class _Reach:
    """What one Allow statement grants of the privileges listed: the privilege and the actions a Deny must name."""

    privilege: str
    actions: tuple[str, ...]  # "*": every action; "iam:*": every IAM action; else concrete actions


def _allow_reach(s: Mapping[str, Any]) -> _Reach | None:
    if "NotAction" in s:
        excluded = _actions(_as_list(s.get("NotAction")))
        if any(p.lower() in ALL_ACTIONS for p in excluded) or not _every_resource(s) and not _reaches_iam(s):
            return None
        if any(_covers_service(p, "iam") for p in excluded):
            return _Reach(POWER_USER, ("*",)) if _every_resource(s) else None
        return _Reach(ADMIN, ("*",)) if _every_resource(s) else _Reach(ESCALATION, ("*",))
    actions = _actions(_as_list(s.get("Action")))
    if any(a.lower() in ALL_ACTIONS for a in actions):
        if _every_resource(s):
            return _Reach(ADMIN, ("*",))
        return _Reach(ESCALATION, ("*",)) if _reaches_iam(s) else None
    if not _reaches_iam(s):
        return None
    if any(_covers_service(a, "iam") for a in actions):
        return _Reach(IAM_FULL, ("iam:*",))
    # only patterns that can name an IAM action ("iam:...", "*:...", or no colon: "*Policy" spans it)
    iam = [a for a in actions if ":" not in a or _glob(a.split(":", 1)[0], "iam")]
    hit = tuple(e for e in ESCALATION_ACTIONS if any(_glob(a, e) for a in iam))
    return _Reach(ESCALATION, hit) if hit else None


def _full_deny(s: Mapping[str, Any], reach: _Reach) -> bool:
    """An unconditional Deny on every resource naming every action of ``reach``."""
    if s.get("Effect") != "Deny" or "Condition" in s or "NotAction" in s or "NotResource" in s \
            or "*" not in _actions(_as_list(s.get("Resource"))):
        return False
    denied = _actions(_as_list(s.get("Action")))
    for action in reach.actions:
        if action == "*":
            ok = any(p.lower() in ALL_ACTIONS for p in denied)
        elif action == "iam:*":
            ok = any(_covers_service(p, "iam") for p in denied)
        else:
            ok = any(_glob(p, action) for p in denied)
        if not ok:
            return False
    return True


def _quote(statement: Mapping[str, Any]) -> str:
    text = json.dumps(thaw(statement), sort_keys=True, default=str, ensure_ascii=False)
    return text if len(text) <= STATEMENT_LIMIT else text[:STATEMENT_LIMIT] + "..."


# ------------------------------------------------------------------------------ grants of one principal
@dataclass(frozen=True)
class _Policy:
    """One policy that applies to a principal, with how it got there."""

    label: str  # "inline policy x", "AWS managed policy AdministratorAccess (arn:...)"
    how: str  # "attached directly", "via group admins", "attached to the role"
    source: str  # the fact it was read from
    document: PolicyDocument | None
    managed: str | None = None  # the privilege of an AWS managed policy judged by its ARN
    unreadable: str | None = None  # why the document could not be read


def _attached(p: AttachedPolicy, how: str, source: str, errors: Mapping[str, str]) -> _Policy:
    if p.aws_managed:
        path = p.arn.split(":", 5)[-1]
        managed = MANAGED.get(path.removeprefix("policy/")) if path.startswith("policy/") else None
        return _Policy(f"AWS managed policy {p.name} ({p.arn})", how, source, None, managed=managed)
    label = f"customer managed policy {p.name} ({p.arn})"
    missing = errors.get(f"policy {p.arn}") or (None if p.document is not None else "its document was not collected")
    return _Policy(label, how, source, p.document, unreadable=missing)


def _policies(attached: Iterable[AttachedPolicy], inline: Iterable[InlinePolicy], how: str, source: str,
              errors: Mapping[str, str]) -> list[_Policy]:
    return [*(_attached(p, how, source, errors) for p in attached),
            *(_Policy(f"inline policy {p.name}", how, source, p.document) for p in inline)]


@dataclass(frozen=True)
class _Verdict:
    """One policy document judged: its Allow statements that reach a listed privilege, and its Deny statements."""

    document: PolicyDocument | None  # kept so that its id stays its own while cached
    allows: tuple[tuple[Mapping[str, Any], _Reach], ...]
    denies: tuple[Mapping[str, Any], ...]


class _Judge:
    """Judges each policy document once per build (a managed or group policy applies to many principals)."""

    def __init__(self) -> None:
        self._seen: dict[int, _Verdict] = {}

    def __call__(self, document: PolicyDocument | None) -> _Verdict:
        found = self._seen.get(id(document))
        if found is None or found.document is not document:
            statements = _statements(document)
            allows = tuple((s, r) for s in statements if s.get("Effect") == "Allow"
                           for r in (_allow_reach(s),) if r is not None)
            found = _Verdict(document, allows, tuple(s for s in statements if s.get("Effect") == "Deny"))
            self._seen[id(document)] = found
        return found


def _grants(judge: _Judge, policies: Sequence[_Policy], unknown: Sequence[tuple[str, str]],
            suffix: str = "") -> tuple[Grant, ...]:
    """The grants of a principal from every policy that applies to it; ``unknown``: (why, source) of what could
    not be read and may grant admin."""
    denies = [s for p in policies for s in judge(p.document).denies]
    out: list[Grant] = []

    def add(grant: Grant) -> None:
        if grant not in out:
            out.append(grant)

    for p in policies:
        where = f"{p.label} {p.how}"
        if p.managed:
            judged = _Reach(p.managed, ("iam:*",) if p.managed == IAM_FULL else ("*",))
            if not any(_full_deny(d, judged) for d in denies):
                add(Grant(p.managed, f"{where}: judged by its ARN{suffix}", p.source))
        if p.unreadable:
            add(Grant(f"{ADMIN} (unverified)", f"may grant {ADMIN}: {where}: {p.unreadable}{suffix}", p.source))
        for s, reach in judge(p.document).allows:
            if any(_full_deny(d, reach) for d in denies):
                continue
            if "Condition" in s:
                add(Grant(f"{reach.privilege} (unverified)", f"may grant {reach.privilege}: {where}, only under a "
                          f"condition not evaluated: statement {_quote(s)}{suffix}", p.source))
            else:
                add(Grant(reach.privilege, f"{where}: statement {_quote(s)}{suffix}", p.source))
    for why, source in unknown:
        add(Grant(f"{ADMIN} (unverified)", f"may grant {ADMIN}: {why}{suffix}", source))
    return tuple(out)


def _errors_beyond_policies(errors: Mapping[str, str]) -> list[str]:
    return [f"{k}: {v}" for k, v in errors.items() if not k.startswith("policy ")]


# ------------------------------------------------------------------------------ users, root, roles
def _latest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _user_grants(judge: _Judge, detail: IamUser | None,
                 groups: Mapping[tuple[str, str], IamGroup]) -> tuple[Grant, ...]:
    """A user's grants from its own policies and those of every group it is in."""
    if detail is None:
        return _grants(judge, (), [("the user's policies and groups were not read (not in the authorization details)",
                             USERS)])
    policies = _policies(detail.attached, detail.inline, "attached directly", USERS, detail.errors)
    unknown = [(f"the user's evidence is incomplete: {e}", USERS) for e in _errors_beyond_policies(detail.errors)]
    for name in detail.groups:
        group = groups.get((detail.account, name))
        if group is None:
            unknown.append((f"the policies of group {name} were not read", GROUPS))
            continue
        policies += _policies(group.attached, group.inline, f"via group {name}", GROUPS, group.errors)
        unknown += [(f"group {name}'s evidence is incomplete: {e}", GROUPS)
                    for e in _errors_beyond_policies(group.errors)]
    return _grants(judge, policies, unknown)


def _last_logon(row: CredentialUser) -> tuple[datetime | None, bool]:
    """The latest use of the password or a key, and whether that is known (a "no_information" password of a user
    created before IAM tracked sign-ins, 2014-10-20, may have been used)."""
    last = _latest(row.password_last_used, *(k.last_used for k in row.keys))
    tracked = row.created is not None and row.created >= SIGN_IN_TRACKING
    return last, last is not None or not row.password_use_unknown or tracked


def _user(judge: _Judge, target: Target, row: CredentialUser, detail: IamUser | None,
          groups: Mapping[tuple[str, str], IamGroup]) -> Account:
    last, known = _last_logon(row)
    kind, reason = account_type(target, row.user)
    return Account(system=target.name, platform=target.type.value, name=row.user, id=row.arn, type=kind,
                   type_reason=reason, enabled=row.password_enabled or any(k.active for k in row.keys), locked=None,
                   grants=_user_grants(judge, detail, groups), mfa=row.mfa_active, last_logon=last,
                   last_logon_known=known,
                   password_changed=row.password_last_changed, groups=detail.groups if detail is not None else (),
                   evidence=(REPORT, USERS, GROUPS) if detail is not None and detail.groups else (REPORT, USERS))


def _root(target: Target, arn: str, row: CredentialUser | None, summary: AccountSummary | None) -> Account:
    """The account root user, from its credential report row, else from the account itself (and the account
    summary's root MFA when collected)."""
    kind, reason = account_type(target, ROOT_NAME, builtin="the AWS account root user")
    grant = Grant(ROOT, "the account root user can do everything in the account; IAM policies do not limit it",
                  REPORT)
    if row is None:
        keys = summary.root_access_keys_present if summary is not None else False
        return Account(system=target.name, platform=target.type.value, name=ROOT_NAME, id=arn, type=kind,
                       type_reason=reason, enabled=True if keys else None, locked=None, grants=(grant,),
                       mfa=summary.root_mfa_enabled if summary is not None else None,
                       evidence=(REPORT, SUMMARY) if summary is not None else (REPORT,))
    last, known = _last_logon(row)
    active = row.password_enabled or any(k.active for k in row.keys)
    return Account(system=target.name, platform=target.type.value, name=row.user, id=row.arn, type=kind,
                   type_reason=reason, enabled=True if active else None,  # the report does not say for its password
                   locked=None, grants=(grant,), mfa=row.mfa_active, last_logon=last, last_logon_known=known,
                   password_changed=row.password_last_changed, evidence=(REPORT,))


def _unreported(judge: _Judge, target: Target, u: IamUser, groups: Mapping[tuple[str, str], IamGroup]) -> Account:
    """A user in the authorization details but not (yet) in the credential report: listed, credentials unknown."""
    kind, reason = account_type(target, u.name)
    return Account(system=target.name, platform=target.type.value, name=u.name, id=u.arn, type=kind,
                   type_reason=reason, enabled=None, locked=None, grants=_user_grants(judge, u, groups), mfa=None,
                   groups=u.groups, evidence=(USERS, GROUPS) if u.groups else (USERS,))


def _principals(principal: Any) -> list[str]:
    if principal == "*":
        return ["anyone (*)"]
    if not isinstance(principal, Mapping):
        return [f"unrecognised principal {json.dumps(principal, default=str)}"]
    out = []
    for kind, values in sorted(principal.items()):
        for v in _actions(_as_list(values)):
            if kind == "AWS" and v == "*":
                out.append("any AWS principal (*)")
            elif kind == "AWS" and (re.fullmatch(r"[0-9]{12}", v) or re.fullmatch(r"arn:[^:]+:iam::[0-9]{12}:root", v)):
                out.append(f"account {v.split(':')[4] if v.startswith('arn:') else v}")
            elif kind == "Service":
                out.append(f"service {v}")
            elif kind == "Federated":
                out.append(f"federated {v}")
            else:
                out.append(v)
    return out


def trust_summary(trust: PolicyDocument | None) -> str:
    """Who may assume a role, from its trust policy, in a few words."""
    if trust is None:
        return "unknown (the trust policy was not read)"
    found: list[str] = []
    for s in _statements(trust):
        if s.get("Effect") != "Allow":
            continue
        if "NotPrincipal" in s:
            found.append("anyone but " + ", ".join(_principals(s.get("NotPrincipal"))))
            continue
        cond = " (with conditions)" if "Condition" in s else ""
        found += [p + cond for p in _principals(s.get("Principal"))]
    found = list(dict.fromkeys(found))
    if not found:
        return "nobody (no Allow in the trust policy)"
    more = f" and {len(found) - TRUST_LIMIT} more" if len(found) > TRUST_LIMIT else ""
    return "; ".join(found[:TRUST_LIMIT]) + more


def _role(judge: _Judge, target: Target, role: IamRole) -> Account:
    linked = "an AWS service-linked role (AWS creates and manages it)" \
        if role.path.startswith(SERVICE_LINKED_PATH) else None
    kind, reason = account_type(target, role.name, builtin=linked, service="IAM role")
    trust = trust_summary(role.trust)
    policies = _policies(role.attached, role.inline, "attached to the role", ROLES, role.errors)
    unknown = [(f"the role's evidence is incomplete: {e}", ROLES) for e in _errors_beyond_policies(role.errors)
               if not e.startswith("trust:")]
    assumable = None if role.trust is None else any(s.get("Effect") == "Allow" for s in _statements(role.trust))
    return Account(system=target.name, platform=target.type.value, name=role.name, id=role.arn, type=kind,
                   type_reason=reason, enabled=assumable, locked=None,
                   grants=_grants(judge, policies, unknown, suffix=f"; may be assumed by: {trust}"),
                   last_logon=role.last_used, last_logon_known=role.last_used is not None, evidence=(ROLES,))


NOTES = (
    "last logon: for an IAM user, the latest of its console password's last use and its access keys' last use "
    "(credential report); for a role, RoleLastUsed (AWS tracks a trailing window: no date is shown as unknown)",
    "permission boundaries, service control policies, session and resource policies are not read: they can only "
    "narrow a grant",
)


def build(target: Target, facts: Mapping[str, Fact]) -> Built:
    report: AwsResources[CredentialUser] = facts[REPORT].value
    users: AwsResources[IamUser] = facts[USERS].value
    groups: AwsResources[IamGroup] = facts[GROUPS].value
    roles: AwsResources[IamRole] = facts[ROLES].value
    details = {u.arn: u for u in users.items}
    by_name = {(g.account, g.name): g for g in groups.items}
    summaries = {a.account: a for a in _optional(facts, SUMMARY)}
    judge = _Judge()
    accounts: list[Account] = []
    notes = list(NOTES)
    for account, arn in dict.fromkeys((s.account, s.account_arn) for s in report.scopes):
        rows = [r for r in report.items if r.account == account]
        root = next((r for r in rows if r.is_root), None)
        if root is None:
            notes.append(f"account {account}: the credential report has no root user row; the root user is "
                         "listed from the account (root MFA from the account summary when collected)")
        accounts.append(_root(target, arn, root, summaries.get(account)))
        accounts += [_user(judge, target, r, details.get(r.arn), by_name) for r in rows if not r.is_root]
        reported = {r.arn for r in rows}
        accounts += [_unreported(judge, target, u, by_name) for u in users.items
                     if u.account == account and u.arn not in reported]
        accounts += [_role(judge, target, r) for r in roles.items if r.account == account]
    return Built(tuple(accounts), notes=tuple(notes))


def _optional(facts: Mapping[str, Fact], name: str) -> tuple[Any, ...]:
    fact = facts.get(name)
    return tuple(fact.value.items) if fact is not None and fact.ok else ()


EXTRACTOR = Extractor(facts=(REPORT, USERS, GROUPS, ROLES), optional=(SUMMARY,), build=build)

__all__ = ["EXTRACTOR", "build", "trust_summary"]

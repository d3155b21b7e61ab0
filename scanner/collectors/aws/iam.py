"""IAM facts: the credential report, users, groups and roles with their policies, the password policy, the
account summary, and IAM Access Analyzer per region."""
from __future__ import annotations

import csv
import io
import time
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from scanner.collectors.aws._api import Api, ApiError, AwsFact, declare, parse_date, policy_document
from scanner.facts.aws import (
    AccessKey,
    AccountSummary,
    AnalyzerRegion,
    AttachedPolicy,
    CredentialUser,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    PasswordPolicy,
    PolicyDocument,
    build_arn,
)
from scanner.value import frozen

CREDENTIAL_REPORT_WAIT_S = 30.0
#: Analyzer types that find external access (the ACCOUNT_/ORGANIZATION_UNUSED_ACCESS and internal-access types
#: look for something else and do not count).
EXTERNAL_ACCESS = frozenset({"ACCOUNT", "ORGANIZATION"})
ROOT_USER = "<root_account>"  # the credential report's name for the root user
#: The credential report columns the checks judge by.
REPORT_COLUMNS = ("user", "arn", "user_creation_time", "password_enabled", "password_last_used",
                  "password_last_changed", "mfa_active", *(f"access_key_{i}_{c}" for i in (1, 2)
                                                            for c in ("active", "last_rotated", "last_used_date")))


def _credential_report(api: Api, region: str) -> list[CredentialUser]:
    gen = api.fact.call("GenerateCredentialReport")
    deadline, pause = time.monotonic() + CREDENTIAL_REPORT_WAIT_S, 0.2
    while (api.call(gen, region) or {}).get("State") != "COMPLETE":
        if time.monotonic() > deadline:
            raise ApiError(f"{gen.action}: the credential report was not ready within {CREDENTIAL_REPORT_WAIT_S:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 2.0)
    report = api.call(api.fact.call("GetCredentialReport"), region) or {}
    content = report.get("Content", b"")
    text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    missing = sorted(set(REPORT_COLUMNS) - set(header))
    if missing:  # a column we judge by, absent, would read as "false" for every user: never guess
        raise ApiError(f"iam:GetCredentialReport returned a report without the column(s) {', '.join(missing)}")
    return [_credential_row(api, _aligned(header, fields)) for fields in reader if fields]


def _aligned(header: list[str], fields: list[str]) -> dict[str, str]:
    """One report row by column name. IAM names may hold commas: a report that does not quote them (moto's does
    not) splits ``user`` and ``arn`` into more fields; they are joined back only where exactly one split gives an ARN
    ending in the user's name, else the report is refused (a shifted row would put dates in boolean columns)."""
    extra = len(fields) - len(header)
    if extra == 0:
        return dict(zip(header, fields, strict=True))
    if extra > 0 and header[:2] == ["user", "arn"]:
        head = fields[:2 + extra]
        splits = [(",".join(head[:i]), ",".join(head[i:])) for i in range(1, 2 + extra)]
        fits = [(u, a) for u, a in splits if a.startswith("arn:") and a.endswith("/" + u)]
        if len(fits) == 1:
            return dict(zip(header, [*fits[0], *fields[2 + extra:]], strict=True))
    raise ApiError(f"iam:GetCredentialReport returned a row of {len(fields)} fields for {len(header)} columns "
                   "that cannot be aligned")


def _credential_row(api: Api, row: Mapping[str, str]) -> CredentialUser:
    keys = tuple(
        AccessKey(index=i, active=row.get(f"access_key_{i}_active") == "true",
                  last_rotated=parse_date(row.get(f"access_key_{i}_last_rotated")),
                  last_used=parse_date(row.get(f"access_key_{i}_last_used_date")))
        for i in (1, 2)
    )
    return CredentialUser(
        account=api.account.id, user=row["user"], arn=row["arn"], created=parse_date(row.get("user_creation_time")),
        password_enabled=row.get("password_enabled") == "true",
        password_last_used=parse_date(row.get("password_last_used")),
        password_last_changed=parse_date(row.get("password_last_changed")),
        mfa_active=row.get("mfa_active") == "true", keys=keys, is_root=row["user"] == ROOT_USER,
        password_use_unknown=row.get("password_last_used") == "no_information",
    )


def _aws_managed(api: Api, arn: str) -> bool:
    """AWS managed policies live in the pseudo-account ``aws`` of the account's partition."""
    return arn.startswith(build_arn(api.account.partition, "iam", "", "aws", "policy/"))


@frozen
class _Details:
    """One paginated GetAccountAuthorizationDetails of one entity kind, with the account's customer managed
    policy documents (default version)."""

    entries: tuple[Mapping[str, Any], ...]
    documents: Mapping[str, PolicyDocument]
    local: frozenset[str]


def _details(api: Api, region: str, kind: str, key: str) -> _Details:
    pages = api.raw_pages(api.fact.call("GetAccountAuthorizationDetails"), region, Filter=[kind, "LocalManagedPolicy"])
    local = [p for page in pages for p in page.get("Policies", [])]
    documents = {p["Arn"]: policy_document(v["Document"]) for p in local for v in p.get("PolicyVersionList", [])
                 if v.get("IsDefaultVersion") and "Document" in v}
    return _Details(tuple(e for page in pages for e in page.get(key, [])), documents,
                    frozenset(p["Arn"] for p in local))


def _policies(api: Api, details: _Details, entry: Mapping[str, Any], inline_key: str,
              errors: dict[str, str]) -> tuple[tuple[AttachedPolicy, ...], tuple[InlinePolicy, ...]]:
    """An entity's attached and inline policies; a customer managed policy without its document is an error."""
    attached = []
    for a in entry.get("AttachedManagedPolicies", []):
        arn = a["PolicyArn"]
        if arn in details.local and arn not in details.documents:
            errors[f"policy {arn}"] = f"iam:GetAccountAuthorizationDetails returned no document for {arn}"
        attached.append(AttachedPolicy(arn=arn, name=a["PolicyName"], document=details.documents.get(arn),
                                       aws_managed=_aws_managed(api, arn)))
    inline = tuple(InlinePolicy(name=p["PolicyName"], document=policy_document(p["PolicyDocument"]))
                   for p in entry.get(inline_key, []))
    return tuple(attached), inline


def _iam_users(api: Api, region: str) -> list[IamUser]:
    """Users with their policies and groups from one paginated GetAccountAuthorizationDetails (no per-user
    calls)."""
    details = _details(api, region, "User", "UserDetailList")
    out = []
    for u in details.entries:
        errors: dict[str, str] = {}
        attached, inline = _policies(api, details, u, "UserPolicyList", errors)
        out.append(IamUser(account=api.account.id, name=u["UserName"], arn=u["Arn"], attached=attached,
                           inline=inline, errors=MappingProxyType(errors),
                           groups=tuple(str(g) for g in u.get("GroupList", []))))
    return out


def _iam_groups(api: Api, region: str) -> list[IamGroup]:
    """Groups with their attached and inline policies (what a member gets through the group)."""
    details = _details(api, region, "Group", "GroupDetailList")
    out = []
    for g in details.entries:
        errors: dict[str, str] = {}
        attached, inline = _policies(api, details, g, "GroupPolicyList", errors)
        out.append(IamGroup(account=api.account.id, name=g["GroupName"], arn=g["Arn"], attached=attached,
                            inline=inline, errors=MappingProxyType(errors)))
    return out


def _iam_roles(api: Api, region: str) -> list[IamRole]:
    """Roles with their trust policy (who may assume them), attached and inline policies, and last use."""
    details = _details(api, region, "Role", "RoleDetailList")
    out = []
    for r in details.entries:
        errors: dict[str, str] = {}
        attached, inline = _policies(api, details, r, "RolePolicyList", errors)
        trust = r.get("AssumeRolePolicyDocument")
        if trust is None:
            errors["trust"] = f"iam:GetAccountAuthorizationDetails returned no trust policy for {r['Arn']}"
        last = (r.get("RoleLastUsed") or {}).get("LastUsedDate")
        out.append(IamRole(account=api.account.id, name=r["RoleName"], arn=r["Arn"], path=str(r.get("Path", "/")),
                           trust=None if trust is None else policy_document(trust), attached=attached,
                           inline=inline, last_used=last if isinstance(last, datetime) else parse_date(last),
                           errors=MappingProxyType(errors)))
    return out


def _password_policy(api: Api, region: str) -> list[PasswordPolicy]:
    got = api.call(api.fact.call("GetAccountPasswordPolicy"), region, absent=("NoSuchEntity",))
    if got is None:
        return [PasswordPolicy(account=api.account.id, arn=api.account.root_arn, present=False)]
    p = got["PasswordPolicy"]
    return [PasswordPolicy(
        account=api.account.id, arn=api.account.root_arn, present=True, min_length=p.get("MinimumPasswordLength"),
        require_symbols=bool(p.get("RequireSymbols")), require_numbers=bool(p.get("RequireNumbers")),
        require_uppercase=bool(p.get("RequireUppercaseCharacters")),
        require_lowercase=bool(p.get("RequireLowercaseCharacters")),
        max_age_days=p.get("MaxPasswordAge") if p.get("ExpirePasswords", "MaxPasswordAge" in p) else None,
        reuse_prevention=p.get("PasswordReusePrevention"),
    )]


def _account_summary(api: Api, region: str) -> list[AccountSummary]:
    got = (api.call(api.fact.call("GetAccountSummary"), region) or {}).get("SummaryMap", {})
    for key in ("AccountMFAEnabled", "AccountAccessKeysPresent"):
        if key not in got:
            raise ApiError(f"iam:GetAccountSummary did not return {key}")
    return [AccountSummary(account=api.account.id, arn=api.account.root_arn,
                           root_mfa_enabled=got["AccountMFAEnabled"] == 1,
                           root_access_keys_present=got["AccountAccessKeysPresent"] == 1,
                           users=int(got.get("Users", 0)))]


def _access_analyzers(api: Api, region: str) -> list[AnalyzerRegion]:
    found = api.pages(api.fact.call("ListAnalyzers"), region, "analyzers")
    return [AnalyzerRegion(account=api.account.id, region=region,
                           arn=api.account.arn("access-analyzer", region, "analyzer"),
                           active=tuple(a["name"] for a in found
                                        if a.get("status") == "ACTIVE" and a.get("type") in EXTERNAL_ACCESS))]


DEFINITIONS: tuple[AwsFact, ...] = (
    AwsFact("aws.iam_credential_report",
            (declare("iam", "GenerateCredentialReport"), declare("iam", "GetCredentialReport")),
            _credential_report, regional=False),
    AwsFact("aws.iam_users",
            (declare("iam", "GetAccountAuthorizationDetails"),),
            _iam_users, regional=False),
    AwsFact("aws.iam_groups",
            (declare("iam", "GetAccountAuthorizationDetails"),),
            _iam_groups, regional=False),
    AwsFact("aws.iam_roles",
            (declare("iam", "GetAccountAuthorizationDetails"),),
            _iam_roles, regional=False),
    AwsFact("aws.password_policy", (declare("iam", "GetAccountPasswordPolicy"),), _password_policy, regional=False),
    AwsFact("aws.account_summary", (declare("iam", "GetAccountSummary"),), _account_summary, regional=False),
    AwsFact("aws.access_analyzers", (declare("accessanalyzer", "ListAnalyzers"),), _access_analyzers),
)

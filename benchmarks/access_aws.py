"""Benchmark: building the AWS IAM access list from collected facts (pure, no I/O).

A synthetic account of --users IAM users (each in two of --groups groups, one inline and one customer managed
policy of a few statements), --roles roles (trust policy, one AWS managed policy) is built once as facts; then
``scanner.access.aws.build`` is timed (CPU, median of --runs) and its peak traced allocation reported.
Run:  python3 benchmarks/access_aws.py [--users 10000] [--groups 200] [--roles 1000] [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanner.access.aws import build  # noqa: E402
from scanner.facts.aws import (  # noqa: E402
    GLOBAL,
    AccessKey,
    AttachedPolicy,
    AwsResources,
    CredentialUser,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    PolicyDocument,
    Scope,
)
from scanner.model import Evidence, Fact, Platform, Target, freeze  # noqa: E402

ACCOUNT = "123456789012"
AT = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _doc(i: int) -> PolicyDocument:
    doc: PolicyDocument = freeze({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::b{i}/*"},
        {"Effect": "Allow", "Action": "iam:Get*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]})
    return doc


def facts(users: int, groups: int, roles: int) -> dict[str, Fact]:
    scope = (Scope(ACCOUNT, GLOBAL, "aws", f"arn:aws:iam::{ACCOUNT}:root"),)
    admin = AttachedPolicy("arn:aws:iam::aws:policy/AdministratorAccess", "AdministratorAccess", None, True)
    local = [AttachedPolicy(f"arn:aws:iam::{ACCOUNT}:policy/p{i}", f"p{i}", _doc(i)) for i in range(50)]
    g = [IamGroup(ACCOUNT, f"g{i}", f"arn:aws:iam::{ACCOUNT}:group/g{i}", (admin,) if i == 0 else (local[i % 50],),
                  (InlinePolicy("inline", _doc(i)),)) for i in range(groups)]
    rows: list[CredentialUser] = []
    details: list[IamUser] = []
    for i in range(users):
        arn = f"arn:aws:iam::{ACCOUNT}:user/u{i}"
        rows.append(CredentialUser(ACCOUNT, f"u{i}", arn, AT, True, AT, AT, i % 2 == 0,
                                   (AccessKey(1, True, AT, AT), AccessKey(2, False, None, None))))
        details.append(IamUser(ACCOUNT, f"u{i}", arn, (local[i % 50],), (InlinePolicy("own", _doc(i)),),
                               MappingProxyType({}), groups=(f"g{i % groups}", f"g{(i * 7) % groups}")))
    trust = freeze({"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                   "Action": "sts:AssumeRole"}]})
    r = [IamRole(ACCOUNT, f"r{i}", f"arn:aws:iam::{ACCOUNT}:role/r{i}", "/", trust, (admin,) if i % 10 == 0
                 else (local[i % 50],)) for i in range(roles)]
    made: dict[str, list[Any]] = {"aws.iam_credential_report": rows, "aws.iam_users": details,
                                  "aws.iam_groups": g, "aws.iam_roles": r}
    return {n: Fact(n, AwsResources(scope, tuple(v)), (Evidence.of("bench", ""),)) for n, v in made.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--roles", type=int, default=1_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    f = facts(args.users, args.groups, args.roles)
    target = Target(name="bench", type=Platform.AWS, options={}, policy={})
    times = []
    for _ in range(args.runs):
        start = time.process_time()
        built = build(target, f)
        times.append(time.process_time() - start)
    tracemalloc.start()
    build(target, f)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    result = {"users": args.users, "groups": args.groups, "roles": args.roles, "accounts": len(built.accounts),
              "privileged": sum(a.privileged for a in built.accounts),
              "build_cpu_s_median": round(statistics.median(times), 3), "peak_alloc_mib": round(peak / 2**20, 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

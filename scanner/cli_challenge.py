"""`gxpscan scan --challenge safe|intrusive [--plan]`: which challenges run, whether the inventory allows them, and
the dry run that lists every step without acting (see scanner/challenge.py)."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from scanner.challenge import ChallengeSpec
    from scanner.executors import ExecutorSpec
    from scanner.model import Target
    from scanner.registry import Registry


class ChallengeUsageError(Exception):
    """The inventory or the options do not allow the challenges asked for; nothing was contacted."""


def add_scan_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--challenge", choices=["safe", "intrusive"], default=None,
                   help="also run challenge tests that act on the targets to prove controls work: 'safe' ones only "
                        "negotiate and are refused (weak ciphers, protocols, anonymous access); 'intrusive' ones "
                        "also change state on a designated test account (challenge_account, challenge_password_env "
                        "per target: failed logons until lockout, a refused password change) and restore it. "
                        "--check globs select challenges too ('*.challenge.*' for challenges only)")
    s.add_argument("--plan", action="store_true",
                   help="with --challenge: print every step each challenge would take on each target, act on "
                        "nothing, write nothing, and exit")


def select(args: argparse.Namespace, registry: Registry, targets: Sequence[Target],
           executor: ExecutorSpec) -> list[ChallengeSpec]:
    """The challenges this scan runs (none without --challenge); refused before any connection when the inventory
    does not name a usable test account for an intrusive challenge, or the targets run on remote workers."""
    if args.challenge is None:
        if args.plan:
            raise ChallengeUsageError("--plan needs --challenge safe|intrusive")
        return []
    tests = registry.select_challenges(args.challenge, patterns=args.check)
    intrusive = [t for t in tests if t.impact.value == "intrusive"]
    if intrusive and executor.remote and not args.plan:
        raise ChallengeUsageError("--challenge intrusive runs on this machine only (one target at a time per test "
                                  "account): use it without --executor")
    problems = [p for t in targets for p in account_problems(t, [c for c in intrusive if t.type in c.platforms])]
    if problems and not args.plan:
        raise ChallengeUsageError("--challenge intrusive: " + "; ".join(problems))
    return tests


def account_problems(target: Target, intrusive: Sequence[ChallengeSpec]) -> list[str]:
    """What is wrong with the target's test account for these intrusive challenges (empty: nothing)."""
    if not intrusive:
        return []
    where = f"targets[{target.name}]"
    account, env = target.opt("challenge_account"), target.opt("challenge_password_env")
    out = []
    if not account:
        out.append(f"{where}.challenge_account: required ({intrusive[0].id} acts on a designated test account)")
    elif str(account).casefold() in {str(target.opt(k)).casefold() for k in ("user", "bind_dn", "username")
                                     if target.opt(k)}:
        out.append(f"{where}.challenge_account: {account} is the account the scan logs in with; name a test account")
    if not env:
        out.append(f"{where}.challenge_password_env: required with challenge_account")
    elif not os.environ.get(str(env)):
        out.append(f"{where}.challenge_password_env: environment variable {env} is not set or empty")
    return out


def print_plan(tests: Sequence[ChallengeSpec], targets: Sequence[Target], out: TextIO | None = None) -> int:
    """The dry run: per target, per challenge, every step of the expected path. No probe is called."""
    out = out or sys.stdout
    from reports.text import for_terminal
    from scanner.challenge import run_challenge

    total = 0
    for target in targets:
        mine = [t for t in tests if target.type in t.platforms]
        print(for_terminal(f"target {target.name} ({target.type.value}): {len(mine)} challenge(s)"), file=out)
        for spec in mine:
            outcome = run_challenge(spec, target, plan=True)
            print(for_terminal(f"  {spec.id} [{spec.impact.value}] {spec.title}"), file=out)
            for problem in account_problems(target, [spec] if spec.impact.value == "intrusive" else []):
                print(for_terminal(f"    cannot run: {problem}"), file=out)
            for step in outcome.steps:
                mark = "clean-up: " if step.cleanup else ""
                print(for_terminal(f"    {step.n}. {mark}{step.action} -> expected: {step.expected}"), file=out)
            if not outcome.steps:
                print("    (no step: the challenge has nothing to try on this target as configured)", file=out)
            total += len(outcome.steps)
    print(f"{total} step(s) planned; nothing was contacted", file=out)
    return 0


def list_challenges(registry: Registry, clause_map: Mapping[str, Sequence[str]], *, platform: str | None = None,
                    as_json: bool = False, out: TextIO | None = None) -> int:
    """`gxpscan checks --challenges`: every challenge with its impact, platforms and clauses."""
    import json

    from tabulate import tabulate

    out = out or sys.stdout
    tests = [t for t in registry.select_challenges("intrusive")
             if platform is None or platform in {p.value for p in t.platforms}]
    if as_json:
        json.dump([{"id": t.id, "title": t.title, "impact": t.impact.value, "severity": t.severity.value,
                    "area": t.area.value, "platforms": sorted(p.value for p in t.platforms), "criterion": t.criterion,
                    "params": dict(t.params), "clauses": list(clause_map.get(t.id, ())), "module": t.module}
                   for t in tests], out, indent=2, default=str)
        print(file=out)
        return 0
    print(tabulate([[t.id, t.impact.value, t.severity.value, ", ".join(sorted(p.value for p in t.platforms)), t.title]
                    for t in tests], headers=["challenge", "impact", "severity", "platforms", "title"]), file=out)
    print(f"\n{len(tests)} challenges", file=out)
    return 0

"""What changed between two runs: pure functions on two Runs (``gxpscan diff``).

A result is identified by (target, check, resource) and, when a check reports the same resource more than once,
its position among those. Each difference lands in exactly one place:

- **new failures**: a result present in both runs that is now ``fail`` and was not (pass, error, manual, ...),
  or a resource that appears failing under a check that ran on that target before;
- **fixed**: ``fail`` before, ``pass`` now;
- **changed**: any other change of status (pass -> error, fail -> not_applicable, ...);
- **policy changes**: a change of status explained by the policy, not by the system: a waiver added or expired,
  a threshold in the observed values that differs, or the same observed values judged by different check code
  or a different inventory;
- **no longer scanned**: targets absent from the new run; checks absent for a target still scanned; resources
  no longer reported by a check still run (each listed separately);
- **added**: new targets, new checks on a target, new resources (their results, failures included, are listed
  there: a new target or check is not a change of the system).

Only new failures make ``gxpscan diff`` exit 1. The JSON form (``to_json``) is documented in the README.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.model import Result, Run, RunInfo, Severity, Status, thaw

Key = tuple[str, str, str, int]

JSON_FORMAT = "gxpscan-diff/1"


@dataclass(frozen=True)
class Change:
    target: str
    check: str
    resource: str
    before: Status | None
    after: Status | None
    severity: Severity
    message: str  # the new run's message (the old one when the result is gone)
    reason: str = ""  # for policy changes: what changed in the policy


@dataclass(frozen=True)
class RunDiff:
    old: RunInfo
    new: RunInfo
    new_failures: tuple[Change, ...]
    fixed: tuple[Change, ...]
    changed: tuple[Change, ...]
    policy_changes: tuple[Change, ...]
    gone_targets: tuple[str, ...]
    gone_checks: tuple[tuple[str, str], ...]
    gone_resources: tuple[Change, ...]
    added_targets: tuple[str, ...]
    added_checks: tuple[tuple[str, str], ...]
    added_results: tuple[Change, ...]

    @property
    def checks_changed(self) -> bool:
        return self.old.checks_fingerprint != self.new.checks_fingerprint

    @property
    def inventory_changed(self) -> bool:
        return self.old.inventory_sha256 != self.new.inventory_sha256

    @property
    def unchanged(self) -> bool:
        return not any((self.new_failures, self.fixed, self.changed, self.policy_changes, self.gone_targets,
                        self.gone_checks, self.gone_resources, self.added_targets, self.added_checks,
                        self.added_results))


def _index(run: Run) -> dict[Key, Result]:
    seen: Counter[tuple[str, str, str]] = Counter()
    out: dict[Key, Result] = {}
    for r in run.results:
        base = (r.target, r.check, r.resource)
        out[(base[0], base[1], base[2], seen[base])] = r
        seen[base] += 1
    return out


def _change(before: Result | None, after: Result | None, reason: str = "") -> Change:
    r = after or before
    assert r is not None
    return Change(r.target, r.check, r.resource, before.status if before else None, after.status if after else None,
                  r.severity, r.message, reason)


def _policy_reason(a: Result, b: Result, thresholds: Collection[str], checks_changed: bool,
                   inventory_changed: bool) -> str:
    """Why a change of status comes from the policy rather than the system, or "" when it does not."""
    if {a.status, b.status} == {Status.FAIL, Status.WAIVED}:
        return "waiver added" if b.status is Status.WAIVED else "waiver expired or removed"
    before, after = thaw(a.observed), thaw(b.observed)
    moved = [k for k in sorted(thresholds) if before.get(k) != after.get(k)]
    if moved:
        return "threshold " + ", ".join(f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in moved)
    if before == after and (checks_changed or inventory_changed):
        what = " and ".join(x for x, changed in (("check code", checks_changed), ("inventory", inventory_changed))
                            if changed)
        return f"{what} changed; the observed values are the same"
    return ""


def compare(old: Run, new: Run, thresholds: Mapping[str, Collection[str]] | None = None) -> RunDiff:
    """Compare two runs. ``thresholds`` names, per check id, the observed-value keys that are thresholds (policy),
    e.g. the check's parameters; a change of status that comes with a change of those is a policy change."""
    thresholds = thresholds or {}
    before, after = _index(old), _index(new)
    old_targets, new_targets = {k[0] for k in before}, {k[0] for k in after}
    old_pairs, new_pairs = {k[:2] for k in before}, {k[:2] for k in after}
    checks_changed = old.info.checks_fingerprint != new.info.checks_fingerprint
    inventory_changed = old.info.inventory_sha256 != new.info.inventory_sha256
    lists: dict[str, list[Change]] = {n: [] for n in ("new", "fixed", "changed", "policy", "gone", "added")}
    for key in sorted(before.keys() | after.keys()):
        a, b = before.get(key), after.get(key)
        if a is not None and b is not None:
            if a.status is b.status:
                continue
            reason = _policy_reason(a, b, thresholds.get(key[1], ()), checks_changed, inventory_changed)
            if reason:
                lists["policy"].append(_change(a, b, reason))
            elif b.status is Status.FAIL:
                lists["new"].append(_change(a, b))
            elif a.status is Status.FAIL and b.status is Status.PASS:
                lists["fixed"].append(_change(a, b))
            else:
                lists["changed"].append(_change(a, b))
        elif a is not None:
            if key[0] in new_targets and key[:2] in new_pairs:
                lists["gone"].append(_change(a, None))
        elif b is not None:
            if key[:2] in old_pairs and b.status is Status.FAIL:
                lists["new"].append(_change(None, b))
            else:
                lists["added"].append(_change(None, b))
    return RunDiff(
        old=old.info, new=new.info, new_failures=tuple(lists["new"]), fixed=tuple(lists["fixed"]),
        changed=tuple(lists["changed"]), policy_changes=tuple(lists["policy"]),
        gone_targets=tuple(sorted(old_targets - new_targets)),
        gone_checks=tuple(sorted(p for p in old_pairs - new_pairs if p[0] in new_targets)),
        gone_resources=tuple(lists["gone"]),
        added_targets=tuple(sorted(new_targets - old_targets)),
        added_checks=tuple(sorted(p for p in new_pairs - old_pairs if p[0] in old_targets)),
        added_results=tuple(lists["added"]))


def exit_code(diff: RunDiff) -> int:
    """1 when something newly fails, else 0 (policy changes, new targets and new checks included)."""
    return 1 if diff.new_failures else 0


# --- rendering --------------------------------------------------------------------------------------------------

def _change_json(c: Change) -> dict[str, Any]:
    return {"target": c.target, "check": c.check, "resource": c.resource,
            "before": c.before.value if c.before else None, "after": c.after.value if c.after else None,
            "severity": c.severity.value, "message": c.message, "reason": c.reason}


def _run_json(info: RunInfo) -> dict[str, Any]:
    return {"id": info.id, "started": info.started.isoformat(), "tool_version": info.tool_version,
            "checks_fingerprint": info.checks_fingerprint, "inventory": info.inventory,
            "inventory_sha256": info.inventory_sha256, "interrupted": info.interrupted}


def to_json(diff: RunDiff) -> dict[str, Any]:
    """The stable JSON form of a diff (``"format": "gxpscan-diff/1"``)."""
    return {
        "format": JSON_FORMAT,
        "old": _run_json(diff.old),
        "new": _run_json(diff.new),
        "policy": {"checks_fingerprint_changed": diff.checks_changed, "inventory_changed": diff.inventory_changed},
        "new_failures": [_change_json(c) for c in diff.new_failures],
        "fixed": [_change_json(c) for c in diff.fixed],
        "changed": [_change_json(c) for c in diff.changed],
        "policy_changes": [_change_json(c) for c in diff.policy_changes],
        "no_longer_scanned": {
            "targets": list(diff.gone_targets),
            "checks": [{"target": t, "check": c} for t, c in diff.gone_checks],
            "resources": [_change_json(c) for c in diff.gone_resources],
        },
        "added": {
            "targets": list(diff.added_targets),
            "checks": [{"target": t, "check": c} for t, c in diff.added_checks],
            "results": [_change_json(c) for c in diff.added_results],
        },
    }


def _status(s: Status | None) -> str:
    return s.value if s else "-"


def to_text(diff: RunDiff, escape: Callable[[str], str] = str) -> str:
    """Plain text for the console; ``escape`` makes target-supplied text safe for a terminal."""
    from tabulate import tabulate

    def table(changes: tuple[Change, ...], reason: bool = False) -> str:
        head = ["target", "check", "resource", "before", "after", "severity", "reason" if reason else "message"]
        return tabulate([[escape(c.target), c.check, escape(c.resource), _status(c.before), _status(c.after),
                          c.severity.value, escape(c.reason if reason else c.message)[:120]] for c in changes],
                        headers=head)

    out = [f"diff {escape(diff.old.id)} -> {escape(diff.new.id)}"]
    for label, info in (("old", diff.old), ("new", diff.new)):
        if info.interrupted:
            out.append(f"note: the {label} run is incomplete (interrupted); what it did not finish shows as "
                       f"{'no longer scanned' if label == 'new' else 'added'}")
    policy = [w for w, changed in (("the check code changed (checks fingerprint differs)", diff.checks_changed),
                                   ("the inventory changed (its SHA-256 differs)", diff.inventory_changed)) if changed]
    if policy:
        out.append("policy: " + "; ".join(policy) + ". Status changes this explains are listed as policy changes, "
                   "not as changes of the systems.")
    sections: list[tuple[str, str]] = []
    for title, changes, reason in (("new failures", diff.new_failures, False), ("fixed", diff.fixed, False),
                                   ("changed", diff.changed, False),
                                   ("policy changes (the policy changed, not the system)", diff.policy_changes, True),
                                   ("no longer reported (resources of checks still run)", diff.gone_resources, False)):
        if changes:
            sections.append((f"{title} ({len(changes)})", table(changes, reason)))
    if diff.gone_targets:
        sections.append((f"no longer scanned: targets ({len(diff.gone_targets)})",
                         "\n".join(escape(t) for t in diff.gone_targets)))
    if diff.gone_checks:
        sections.append((f"no longer scanned: checks ({len(diff.gone_checks)})",
                         tabulate([[escape(t), c] for t, c in diff.gone_checks], headers=["target", "check"])))
    if diff.added_targets:
        sections.append((f"new targets ({len(diff.added_targets)})", "\n".join(escape(t) for t in diff.added_targets)))
    if diff.added_checks:
        sections.append((f"new checks ({len(diff.added_checks)})",
                         tabulate([[escape(t), c] for t, c in diff.added_checks], headers=["target", "check"])))
    if diff.added_results:
        sections.append((f"results of new targets, checks and resources ({len(diff.added_results)})",
                         table(diff.added_results)))
    for title, body in sections:
        out += ["", title, body]
    if diff.unchanged:
        out += ["", "no change"]
    counts = (f"{len(diff.new_failures)} new failures, {len(diff.fixed)} fixed, {len(diff.changed)} changed, "
              f"{len(diff.policy_changes)} policy changes, {len(diff.gone_targets)} targets and "
              f"{len(diff.gone_checks)} checks no longer scanned, {len(diff.added_targets)} new targets, "
              f"{len(diff.added_checks)} new checks")
    out += ["", counts]
    return "\n".join(out) + "\n"

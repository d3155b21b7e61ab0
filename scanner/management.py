"""The management review summary over a period (issue 17): compliance by framework and by system per run, open
findings by risk and age, deviations, waivers with their expiry, and mean time to fix per risk level.

Only verified runs count: every run directory (listed by the history, or given) is verified in full
(``scanner.seal.verify_run``) and read from its record; a run that is not sealed cannot be verified and a sealed run
whose seal fails is listed as excluded with the reason, never used. Results of a record older than the risk rating
are rated from the run's recorded GxP context (``scanner.risk.rated``).

Definitions (over the verified runs started at or before the end of the period, in time order):

- **share passing** of a run, per framework and per system: pass / (pass + fail + error + waived); an error or a
  waived failure is not a pass (fail closed); not applicable and manual results are not counted;
- **open finding**: a ``fail`` or ``error`` in the latest run of its target, for targets scanned in the period;
  its **age** runs from the first run of its current stretch of runs that did not pass (fail, error or waived;
  an error does not restart the clock: it proves nothing either way; a run that did not report the finding is
  skipped, as in the history) to the end of the period;
- **fixed**: a ``pass`` after such a stretch that contained a ``fail``; **time to fix** is from the first run of
  the stretch to the run that passed, counted when the fix falls in the period, averaged per risk level (the risk of
  the last failing result);
- **waivers**: those applied in the latest run of each target, and expired waivers still matching a failure;
  ``expired`` (before the end of the period), ``expiring`` (within ``expiring_days`` of it) or ``valid``.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from scanner.model import Result, Risk, RiskLevel, Run, Status, Waiver, utcnow
from scanner.risk import RiskMatrix, rated

#: Age buckets of open findings: (label, most days), the last without a limit.
AGE_BUCKETS: tuple[tuple[str, int | None], ...] = (("0-30 days", 30), ("31-90 days", 90), ("91-180 days", 180),
                                                   ("over 180 days", None))
_COUNTED = (Status.PASS, Status.FAIL, Status.ERROR, Status.WAIVED)
_NOT_PASSED = (Status.FAIL, Status.ERROR, Status.WAIVED)


@dataclass(frozen=True)
class Excluded:
    run_dir: str
    reason: str
    tampered: bool  # a sealed run whose seal does not verify


@dataclass(frozen=True)
class Point:
    """One run's results for one framework or one system."""

    run_id: str
    started: datetime
    scope: str
    passed: int
    failed: int
    errors: int
    waived: int

    @property
    def share(self) -> float | None:
        counted = self.passed + self.failed + self.errors + self.waived
        return self.passed / counted if counted else None


@dataclass(frozen=True)
class OpenFinding:
    target: str
    check: str
    resource: str
    status: Status
    severity: str
    risk: Risk | None
    first_seen: datetime
    age_days: int
    message: str
    run_id: str

    @property
    def age_bucket(self) -> str:
        return bucket(self.age_days)


@dataclass(frozen=True)
class WaiverState:
    target: str
    check: str
    resource: str
    reason: str
    approved_by: str
    expires: str
    state: str  # expired | expiring | valid | unreadable
    days_left: int | None


@dataclass(frozen=True)
class Fix:
    target: str
    check: str
    resource: str
    risk: RiskLevel | None
    failing_since: datetime
    fixed_on: datetime

    @property
    def days(self) -> float:
        return (self.fixed_on - self.failing_since).total_seconds() / 86400


@dataclass(frozen=True)
class UsedRun:
    run_id: str
    started: datetime
    run_dir: str
    interrupted: bool


@dataclass(frozen=True)
class Summary:
    since: datetime
    until: datetime
    generated: datetime
    source: str
    risk_matrix: str
    expiring_days: int
    runs: tuple[UsedRun, ...]  # the verified runs of the period, oldest first
    excluded: tuple[Excluded, ...]
    by_framework: tuple[Point, ...]
    by_system: tuple[Point, ...]
    open_findings: tuple[OpenFinding, ...]  # riskiest first, then oldest
    waivers: tuple[WaiverState, ...]
    fixes: tuple[Fix, ...]  # fixed within the period

    @property
    def deviations(self) -> tuple[OpenFinding, ...]:
        return tuple(f for f in self.open_findings if f.status is Status.FAIL)

    def open_by_risk_and_age(self) -> dict[str, dict[str, int]]:
        """risk level ("not rated" for none) -> age bucket -> open findings, riskiest first."""
        out = {level.value: {label: 0 for label, _ in AGE_BUCKETS} for level in reversed(RiskLevel)}
        for f in self.open_findings:
            row = out.setdefault(f.risk.level.value if f.risk else "not rated", {label: 0 for label, _ in AGE_BUCKETS})
            row[f.age_bucket] += 1
        return out

    def mean_time_to_fix(self) -> dict[str, tuple[int, float | None]]:
        """risk level -> (fixes, mean days), riskiest first."""
        days: dict[str, list[float]] = {level.value: [] for level in reversed(RiskLevel)}
        for f in self.fixes:
            days.setdefault(f.risk.value if f.risk else "not rated", []).append(f.days)
        return {k: (len(v), sum(v) / len(v) if v else None) for k, v in days.items()}


def bucket(age_days: int) -> str:
    for label, most in AGE_BUCKETS:
        if most is None or age_days <= most:
            return label
    raise AssertionError("the last bucket has no limit")


def verified_runs(dirs: Iterable[Path]) -> tuple[list[tuple[Path, Run, tuple[str, ...]]], list[Excluded]]:
    """Each directory verified and read: (directory, run, targets it scanned), and those excluded with why."""
    from scanner.seal import manifests, verify_run

    used: list[tuple[Path, Run, tuple[str, ...]]] = []
    excluded: list[Excluded] = []
    seen: set[str] = set()
    for d in dirs:
        if not d.is_dir():
            excluded.append(Excluded(str(d), "the run directory is gone", False))
            continue
        if not manifests(d):
            excluded.append(Excluded(str(d), "not sealed: its integrity cannot be verified", False))
            continue
        v = verify_run(d)
        if not v.intact or v.record is None:
            first = v.problems[0][:300] if v.problems else "its record could not be read"
            excluded.append(Excluded(str(d), f"NOT INTACT ({len(v.problems)} problem(s), first: {first})", True))
            continue
        run = v.record.run
        if run.info.id in seen:
            excluded.append(Excluded(str(d), f"another copy of run {run.info.id} (counted once)", False))
            continue
        seen.add(run.info.id)
        targets = tuple(dict.fromkeys([*(r.target for r in run.results), *v.record.targets]))
        used.append((d, run, targets))
    return used, excluded


def _points(run: Run, scopes: Mapping[str, Iterable[Result]]) -> list[Point]:
    out = []
    for scope, results in sorted(scopes.items()):
        n = {s: 0 for s in _COUNTED}
        for r in results:
            if r.status in n:
                n[r.status] += 1
        out.append(Point(run.info.id, run.info.started, scope, n[Status.PASS], n[Status.FAIL], n[Status.ERROR],
                         n[Status.WAIVED]))
    return out


def trend(run: Run) -> tuple[list[Point], list[Point]]:
    """One run's points by framework (the part of each clause reference before ':') and by system."""
    frameworks: dict[str, list[Result]] = defaultdict(list)
    systems: dict[str, list[Result]] = defaultdict(list)
    for r in run.results:
        for fw in dict.fromkeys(c.split(":", 1)[0] for c in r.clauses):
            frameworks[fw].append(r)
        systems[r.target].append(r)
    return _points(run, frameworks), _points(run, systems)


Key = tuple[str, str, str, int]


def _keyed(results: Iterable[Result]) -> dict[Key, Result]:
    """A run's results by (target, check, resource, position of a repeated resource), as the history keys them."""
    out: dict[Key, Result] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for r in results:
        base = (r.target, r.check, r.resource)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out[(r.target, r.check, r.resource, n)] = r
    return out


def _waiver_state(w: Waiver, until: date, expiring_days: int) -> tuple[str, int | None]:
    try:
        left = (date.fromisoformat(w.expires[:10]) - until).days
    except ValueError:
        return "unreadable", None
    return ("expired" if left < 0 else "expiring" if left <= expiring_days else "valid"), left


Timeline = Sequence[tuple[Run, Mapping[Key, Result]]]


def _walk(key: Key, timeline: Timeline, since: datetime) -> tuple[list[Fix], datetime | None]:
    """A finding's fixes in the period, and the start of its current stretch of runs that did not pass (None when
    it passes now)."""
    fixes = []
    stretch: datetime | None = None
    failed: Result | None = None  # the last failure of the stretch
    for run, results in timeline:
        r = results.get(key)
        if r is None:
            continue  # absent: neither fixes nor fails
        if r.status in _NOT_PASSED:
            stretch = stretch or run.info.started
            failed = r if r.status is Status.FAIL else failed
        elif r.status is Status.PASS:
            if stretch is not None and failed is not None and run.info.started >= since:
                fixes.append(Fix(key[0], key[1], key[2], failed.risk.level if failed.risk else None, stretch,
                                 run.info.started))
            stretch, failed = None, None
    return fixes, stretch


def _waivers(results: Iterable[Result], until: date, expiring_days: int) -> list[WaiverState]:
    out = []
    for r in results:
        w = r.waiver if r.status is Status.WAIVED else r.expired_waiver
        if w is not None:
            state, left = _waiver_state(w, until, expiring_days)
            out.append(WaiverState(r.target, r.check, r.resource, w.reason, w.approved_by, w.expires, state, left))
    return out


def summarise(dirs: Sequence[Path], *, since: datetime, until: datetime, risk_matrix: RiskMatrix, source: str,
              expiring_days: int = 30, now: datetime | None = None) -> Summary:
    loaded, excluded = verified_runs(dirs)
    history = sorted(((d, rated(run, risk_matrix), targets) for d, run, targets in loaded
                      if run.info.started <= until), key=lambda x: (x[1].info.started, x[1].info.id))
    period = [(d, run, targets) for d, run, targets in history if run.info.started >= since]
    by_framework: list[Point] = []
    by_system: list[Point] = []
    for _, run, _ in period:
        fw, systems = trend(run)
        by_framework += fw
        by_system += systems

    # every finding's observations in the runs of its target, in time order
    runs_of: dict[str, list[tuple[Run, dict[Key, Result]]]] = defaultdict(list)
    for _, run, targets in history:
        keyed = _keyed(run.results)
        per_target: dict[str, dict[Key, Result]] = {t: {} for t in targets}
        for key, r in keyed.items():
            per_target.setdefault(key[0], {})[key] = r
        for t, results in per_target.items():
            runs_of[t].append((run, results))

    open_findings: list[OpenFinding] = []
    fixes: list[Fix] = []
    waivers: list[WaiverState] = []
    for target, timeline in runs_of.items():
        latest_run, latest = timeline[-1]
        in_period = latest_run.info.started >= since
        for key in dict.fromkeys(k for _, results in timeline for k in results):
            fixed, stretch = _walk(key, timeline, since)
            fixes += fixed
            current = latest.get(key)
            if in_period and current is not None and current.status in (Status.FAIL, Status.ERROR) \
                    and stretch is not None:
                open_findings.append(OpenFinding(
                    target, key[1], key[2], current.status, current.severity.value, current.risk, stretch,
                    max(0, (until - stretch).days), current.message, latest_run.info.id))
        if in_period:
            waivers += _waivers(latest.values(), until.date(), expiring_days)
    open_findings.sort(key=lambda f: (-(f.risk.level.rank if f.risk else -1), f.first_seen, f.target, f.check,
                                      f.resource))
    waivers.sort(key=lambda w: (w.days_left if w.days_left is not None else -10**9, w.target, w.check))
    fixes.sort(key=lambda f: (f.fixed_on, f.target, f.check, f.resource))
    return Summary(
        since=since, until=until, generated=now or utcnow(), source=source, risk_matrix=risk_matrix.source,
        expiring_days=expiring_days,
        runs=tuple(UsedRun(run.info.id, run.info.started, str(d), run.info.interrupted) for d, run, _ in period),
        excluded=tuple(excluded), by_framework=tuple(by_framework), by_system=tuple(by_system),
        open_findings=tuple(open_findings), waivers=tuple(waivers), fixes=tuple(fixes))

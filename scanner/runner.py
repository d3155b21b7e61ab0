"""The runner: per target, collect the facts the selected checks need, evaluate, place in context.

Per-target work goes to a ``concurrent.futures.Executor`` (a thread pool by default), and each target's
results reach the store as soon as that target ends.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

from scanner.collectors import collect
from scanner.connectors import ConnectorError, open_connector
from scanner.model import Fact, Finding, Result, Status, Target, Waiver, freeze, thaw, utcnow
from scanner.registry import CheckSpec

log = logging.getLogger("gxpscan.runner")

DEFAULT_CONCURRENCY = 16
REDACTED = "***"


@dataclass(frozen=True)
class TargetOutcome:
    target: Target
    results: tuple[Result, ...]
    evidence: Mapping[str, Mapping[str, Any]]
    warnings: tuple[str, ...] = ()  # for the operator and the run record (plaintext transport, expired waiver)


def evaluate(spec: CheckSpec, facts: Mapping[str, Fact], target: Target) -> list[Finding]:
    """Run one check on collected facts. Fail closed: a missing fact or a raising check is an error."""
    broken = [facts.get(name) or Fact.failed(name, "not collected") for name in spec.facts]
    broken = [f for f in broken if not f.ok]
    if broken:
        reason = "; ".join(f"{f.name}: {f.error}" for f in broken)
        return [Finding(Status.ERROR, target.name, f"evidence could not be collected ({reason})")]
    kwargs: dict[str, Any] = {spec.fact_param(n): facts[n].value for n in spec.facts}
    kwargs.update({p: target.policy.get(p, default) for p, default in spec.params.items()})
    if spec.wants_target:
        kwargs["target"] = target
    try:
        out = spec.func(**kwargs)
    except Exception as exc:  # a broken check must not stop the scan
        log.debug("check %s raised", spec.id, exc_info=True)
        return [Finding(Status.ERROR, target.name, f"check raised {type(exc).__name__}: {exc}")]
    findings = [out] if isinstance(out, Finding) else list(out or ())
    if not findings:
        return [Finding(Status.ERROR, target.name, "check returned no finding")]
    bad = [f for f in findings if not isinstance(f, Finding)]
    if bad:
        return [Finding(Status.ERROR, target.name, f"check returned {type(bad[0]).__name__}, not a Finding")]
    return findings


def secrets_of(target: Target) -> list[str]:
    """The secret values a target references, so that nothing derived from them is ever stored."""
    values = []
    for key, name in target.options.items():
        if key.endswith("_env") and isinstance(name, str) and len(os.environ.get(name, "")) >= 4:
            values.append(os.environ[name])
    return values


def redact(value: Any, secrets: Sequence[str]) -> Any:
    if not secrets:
        return value
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {k: redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    return value


def _waiver_for(waivers: Iterable[Waiver], check: str, target: str, resource: str, today: date) -> Waiver | None:
    for w in waivers:
        if (fnmatchcase(check, w.check) and fnmatchcase(target, w.target) and fnmatchcase(resource, w.resource)
                and date.fromisoformat(w.expires) >= today):
            return w
    return None


def _evidence_records(target: Target, facts: Mapping[str, Fact]) -> dict[str, dict[str, Any]]:
    records = {}
    for name, fact in sorted(facts.items()):
        for i, ev in enumerate(fact.evidence):
            records[f"{target.name}:{name}#{i}"] = {
                "target": target.name, "fact": name, "ok": fact.ok, "error": fact.error, **thaw(ev)}
        if not fact.evidence:
            records[f"{target.name}:{name}#0"] = {
                "target": target.name, "fact": name, "ok": fact.ok, "error": fact.error, "source": None,
                "collected_at": utcnow().isoformat(), "raw": "", "sha256": None, "truncated": False,
                "exit_code": None}
    return records


def collect_facts(target: Target, fact_names: Iterable[str]) -> dict[str, Fact]:
    """Open the target's connector and collect. An unreachable target makes every fact an error."""
    names = sorted(set(fact_names))
    if not names:
        return {}
    try:
        with open_connector(target) as conn:
            return collect(conn, target, names)
    except Exception as exc:
        why = str(exc) if isinstance(exc, ConnectorError) else f"{type(exc).__name__}: {exc}"
        log.debug("target %s failed", target.name, exc_info=True)
        return {n: Fact.failed(n, f"target could not be scanned: {why}") for n in names}


def scan_target(target: Target, specs: Sequence[CheckSpec], clause_map: Mapping[str, Sequence[str]],
                waivers: Iterable[Waiver] = (),
                collector: Callable[[Target, Iterable[str]], Mapping[str, Fact]] = collect_facts) -> TargetOutcome:
    mine = [s for s in specs if s.platform == target.type]
    facts = collector(target, {f for s in mine for f in s.facts})
    evidence = _evidence_records(target, facts)
    secrets = secrets_of(target)
    today = utcnow().date()
    results = []
    for spec in mine:
        refs = tuple(k for k in evidence if k.split(":", 1)[1].split("#")[0] in spec.facts)
        for f in evaluate(spec, facts, target):
            status, waiver = f.status, None
            if status is Status.FAIL:
                waiver = _waiver_for(waivers, spec.id, target.name, f.resource, today)
                status = Status.WAIVED if waiver else status
            results.append(Result(
                check=spec.id, target=target.name, target_type=target.type.value, status=status,
                severity=spec.severity, area=spec.area, resource=redact(f.resource, secrets),
                message=redact(f.message, secrets), observed=freeze(redact(thaw(f.observed), secrets)),
                clauses=tuple(clause_map.get(spec.id, ())), evidence=refs, at=utcnow(),
                criterion=spec.criterion, waiver=waiver, location=f.location, remediation=spec.remediation))
    return TargetOutcome(target, tuple(results), redact(evidence, secrets))


def scan(targets: Sequence[Target], specs: Sequence[CheckSpec], clause_map: Mapping[str, Sequence[str]], *,
         waivers: Iterable[Waiver] = (), concurrency: int = DEFAULT_CONCURRENCY, executor: Executor | None = None,
         on_done: Callable[[TargetOutcome], None] = lambda _o: None,
         scan_one: Callable[..., TargetOutcome] = scan_target) -> list[TargetOutcome]:
    """Scan every target; ``on_done`` is called (in this thread) as each target finishes."""
    waivers = tuple(waivers)
    own = executor is None
    pool = executor or ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(targets) or 1)),
                                          thread_name_prefix="gxpscan")
    outcomes = []
    try:
        futures = {pool.submit(scan_one, t, specs, clause_map, waivers): t for t in targets}
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except Exception as exc:  # the runner itself failed for this target: still an error result
                outcome = _crashed(futures[fut], specs, clause_map, exc)
            outcomes.append(outcome)
            on_done(outcome)
    except BaseException:  # interrupted: don't wait for targets still in flight (their own timeouts end them)
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        pool.shutdown(wait=True)
    return outcomes


def _crashed(target: Target, specs: Sequence[CheckSpec], clause_map: Mapping[str, Sequence[str]],
             exc: BaseException) -> TargetOutcome:
    def fail(_t: Target, names: Iterable[str]) -> dict[str, Fact]:
        return {n: Fact.failed(n, f"internal error: {type(exc).__name__}: {exc}") for n in names}

    return scan_target(target, specs, clause_map, (), collector=fail)

"""The runner: per target, collect the facts the selected checks need, evaluate, place in context.

Per-target work goes to a ``concurrent.futures.Executor`` (a thread pool by default), and each target's
results reach the store as soon as that target ends. Every process a scan starts on this machine belongs to
the scan's ``ProcessScope``: an interrupted scan (Ctrl-C, SIGTERM turned into KeyboardInterrupt by the CLI)
ends them all before it returns.

Evidence records carry their target, fact and index as fields; their ids are opaque (``evidence_id``) and
nothing ever parses one.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from datetime import date
from fnmatch import fnmatchcase
from functools import partial
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scanner.access.extract import extractor, system_access
from scanner.access.model import SystemAccess
from scanner.challenge import AccountLocks, ChallengeSpec, Impact, run_challenge
from scanner.collectors import NOTES_FACTS, SYSTEM_FACTS, collect_facts
from scanner.connectors import ProcessScope, connector_key
from scanner.model import (
    Fact,
    Finding,
    Platform,
    ResourceNotes,
    Result,
    Shape,
    Status,
    Target,
    Waiver,
    shape_of,
    thaw,
    utcnow,
)
from scanner.registry import CheckSpec
from scanner.value import frozen, instance, make

log = logging.getLogger("gxpscan.runner")

DEFAULT_CONCURRENCY = 16
REDACTED = "***"
#: A secret shorter than this is not redacted (it would blank out ordinary words); inventories use longer ones.
MIN_SECRET_LENGTH = 4

T = TypeVar("T")
Collector = Callable[[Target, Iterable[str]], Mapping[str, Fact]]


@frozen
class TargetOutcome:
    target: Target
    results: tuple[Result, ...]
    evidence: Mapping[str, Mapping[str, Any]]  # evidence id -> record (target, fact, index, source, raw, ...)
    warnings: tuple[str, ...] = ()  # for the operator and the run record (plaintext transport, expired waiver)
    #: the system under test, as collected: hostname, os, os_version, kernel (Linux); account, partition (AWS); ...
    system: Mapping[str, str] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    #: the target's access list (scanner.access), when its account facts were collected; None otherwise
    access: SystemAccess | None = None


def evaluate(spec: CheckSpec, facts: Mapping[str, Fact], target: Target) -> list[Finding]:
    """Run one check on collected facts. Fail closed: a missing fact or a raising check is an error."""
    broken = [facts.get(name) or Fact.failed(name, "not collected") for name in spec.facts]
    unfit = [f for f in broken if f.inapplicable is not None]
    if unfit:  # the fact cannot exist for this kind of target: the coverage gap is shown, not hidden
        reasons = "; ".join(dict.fromkeys(str(f.inapplicable) for f in unfit))
        return [Finding(Status.NOT_APPLICABLE, target.name, reasons, {"facts": [f.name for f in unfit]})]
    broken = [f for f in broken if not f.ok]
    if broken:
        reason = "; ".join(f"{f.name}: {f.error}" for f in broken)
        return [Finding(Status.ERROR, target.name, f"evidence could not be collected ({reason})")]
    kwargs: dict[str, Any] = {spec.fact_param(n): facts[n].value for n in spec.facts}
    # a profile can scope a threshold to checks: "<check id>:<name>" wins over the plain name (scanner/profiles.py)
    kwargs.update({p: target.policy.get(f"{spec.id}:{p}", target.policy.get(p, default))
                   for p, default in spec.params.items()})
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
        if key.endswith("_env") and isinstance(name, str):
            value = os.environ.get(name, "")
            if len(value) >= MIN_SECRET_LENGTH:
                values.append(value)
    return sorted(set(values), key=len, reverse=True)  # longest first, so a secret inside another goes too


def redact(value: T, secrets: Sequence[str]) -> T:
    """``value`` with every secret replaced by ``***``, in keys too, keeping its shape and types.

    Read-only mappings stay read-only mappings, tuples stay tuples, frozen dataclasses stay the same dataclass
    (built without re-running its ``__post_init__``). What holds no secret comes back as the very same object.
    """
    if not secrets:
        return value
    return _redact(value, tuple(secrets))  # type: ignore[no-any-return]


@functools.cache
def _field_names(tp: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(tp))


def _redact(value: Any, secrets: tuple[str, ...]) -> Any:
    tp: type = type(value)
    shape = shape_of(tp)  # our enums are never redacted: they are our vocabulary, never a secret
    if shape is Shape.TEXT:
        for s in secrets:
            if s in value:
                value = value.replace(s, REDACTED)
        return value
    if shape is Shape.BYTES:
        for s in secrets:
            value = value.replace(s.encode("utf-8", "surrogateescape"), REDACTED.encode())
        return value
    if shape is Shape.MAPPING:
        items = [(_redact(k, secrets), _redact(v, secrets)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items(), strict=True)):
            return value
        if isinstance(value, MappingProxyType):
            return MappingProxyType(dict(items))
        try:
            return type(value)(items)
        except TypeError:  # a mapping type that cannot be built from pairs
            return dict(items)
    if shape is Shape.SEQUENCE or shape is Shape.SET:
        members = [_redact(v, secrets) for v in value]
        if all(m is v for m, v in zip(members, value, strict=True)):
            return value
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
            return type(value)(*members)
        return type(value)(members)
    if shape is not Shape.DATACLASS:
        return value
    changed = {}
    for name in _field_names(tp):
        old = getattr(value, name)
        new = _redact(old, secrets)
        if new is not old:
            changed[name] = new
    if not changed:
        return value
    clone = copy.copy(value)
    for name, new in changed.items():
        object.__setattr__(clone, name, new)
    return clone


def evidence_id(target: str, fact: str, index: int) -> str:
    """An opaque id for one piece of evidence: stable for the same target, fact and index; never parsed."""
    digest = hashlib.sha256(json.dumps([target, fact, index], ensure_ascii=False).encode("utf-8", "surrogatepass"))
    return "ev-" + digest.hexdigest()[:20]


def _expiry(waiver: Waiver) -> date | None:
    try:
        return date.fromisoformat(waiver.expires)
    except (TypeError, ValueError):
        return None  # an unreadable expiry never makes a waiver valid


def _waivers_for(waivers: Iterable[Waiver], check: str, target: str, resource: str,
                 today: date) -> tuple[Waiver | None, Waiver | None]:
    """(the valid waiver covering this failure, else None; the first expired one that would have covered it)."""
    expired = None
    for w in waivers:
        if fnmatchcase(check, w.check) and fnmatchcase(target, w.target) and fnmatchcase(resource, w.resource):
            until = _expiry(w)
            if until is not None and until >= today:
                return w, None
            expired = expired or w
    return None, expired


def expired_waiver_warning(target: Target, waiver: Waiver, failing: int) -> str:
    return (f"target {target.name}: waiver expired, not applied: check {waiver.check}, target {waiver.target}, "
            f"resource {waiver.resource}, expired {waiver.expires}, approved by {waiver.approved_by} "
            f"(reason: {waiver.reason}); {failing} failing finding(s) stay fail")


def _endpoint(url: str) -> str:
    """scheme://host:port of a URL, without any user information or path."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


def transport_warnings(target: Target) -> list[str]:
    """Connections the inventory asks for that would travel in clear text."""
    out = []
    key = connector_key(target)
    url = target.opt("url")
    if (key == "ldap" or target.type is Platform.LDAP) and isinstance(url, str):
        if urlsplit(url).scheme.lower() == "ldap" and not target.opt("starttls"):
            out.append(f"target {target.name}: plaintext LDAP: {_endpoint(url)} without starttls, so directory "
                       "data (and a simple bind's password) cross the network unencrypted; use ldaps:// or "
                       "starttls: true")
    endpoint = target.opt("endpoint_url")
    if (key == "aws" or target.type is Platform.AWS) and isinstance(endpoint, str):
        if urlsplit(endpoint).scheme.lower() == "http":
            out.append(f"target {target.name}: plaintext AWS endpoint: endpoint_url {_endpoint(endpoint)} is "
                       "http://, so signed requests and the account's data cross the network unencrypted; "
                       "use https://")
    return out


def _evidence_records(target: Target, facts: Mapping[str, Fact]) -> dict[str, dict[str, Any]]:
    records: dict[str, dict[str, Any]] = {}
    for name, fact in sorted(facts.items()):
        base = {"target": target.name, "fact": name, "ok": fact.ok, "error": fact.error}
        for i, ev in enumerate(fact.evidence):
            records[evidence_id(target.name, name, i)] = {**base, "index": i, **thaw(ev)}
        if not fact.evidence:
            records[evidence_id(target.name, name, 0)] = {
                **base, "index": 0, "source": None, "collected_at": utcnow().isoformat(), "raw": "",
                "sha256": None, "truncated": False, "exit_code": None}
    return records


def scan_target(target: Target, specs: Sequence[CheckSpec | ChallengeSpec], clause_map: Mapping[str, Sequence[str]],
                waivers: Iterable[Waiver] = (), collector: Collector | None = None, *,
                scope: ProcessScope | None = None, locks: AccountLocks | None = None,
                access: bool = False) -> TargetOutcome:
    """Collect, judge and place in context one target's checks; then run its challenges, if any were selected.

    The target's access list is built from the facts whenever its account facts were collected (``access``:
    collect them even if no selected check needs them)."""
    tests = [s for s in specs if isinstance(s, ChallengeSpec) and target.type in s.platforms]
    mine = [s for s in specs if isinstance(s, CheckSpec) and s.platform == target.type.judged_by]
    collector = collector or partial(collect_facts, scope=scope)
    system_fact = SYSTEM_FACTS.get(target.type) if mine else None
    notes_fact = NOTES_FACTS.get(target.type) if mine else None
    extra = {n for n in (system_fact, notes_fact) if n}
    access_of = extractor(target.type) if access or mine else None
    if access and access_of:
        extra |= set(access_of.all_facts)
        system_fact = system_fact or SYSTEM_FACTS.get(target.type)
        extra |= {system_fact} if system_fact else set()
    facts = collector(target, {f for s in mine for f in s.facts} | extra)
    notes, notes_warnings = resource_notes(facts, notes_fact, target)
    waivers = (*waivers, *notes.waivers)
    evidence = _evidence_records(target, facts)
    secrets = secrets_of(target)
    system = redact(system_of(facts, system_fact), secrets) if system_fact else {}
    today = utcnow().date()
    warnings = transport_warnings(target) + notes_warnings
    expired_seen: dict[Waiver, int] = {}
    results = []
    target_type = target.type.value  # read once: an enum's value is a property in Python
    for spec in mine:
        refs = tuple(k for k, rec in evidence.items() if rec["fact"] in spec.facts)
        clauses = tuple(clause_map.get(spec.id, ()))  # one tuple for the check's results
        for f in evaluate(spec, facts, target):
            f = redact(with_notes(f, notes), secrets)
            status, waiver, expired = f.status, None, None
            if status is Status.FAIL:
                waiver, expired = _waivers_for(waivers, spec.id, target.name, f.resource, today)
                status = Status.WAIVED if waiver else status
                if expired is not None:
                    expired_seen[expired] = expired_seen.get(expired, 0) + 1
            results.append(make(
                Result, check=spec.id, target=target.name, target_type=target_type, status=status,
                severity=spec.severity, area=spec.area, resource=f.resource, message=f.message,
                observed=f.observed, clauses=clauses, evidence=refs, at=utcnow(),
                criterion=spec.criterion, waiver=waiver, location=f.location, remediation=spec.remediation,
                expired_waiver=expired))
    for test in tests:
        results += challenge_results(test, target, clause_map, waivers, today, secrets, locks or AccountLocks())
    warnings += [expired_waiver_warning(target, w, n) for w, n in expired_seen.items()]
    listed = (system_access(target, facts) if access_of and (access or all(n in facts for n in access_of.facts))
              else None)
    if listed is not None and not access and not listed.ok:
        listed = None  # a by-product of the checks' facts is kept only whole; asked for, its error is recorded
    return TargetOutcome(target, tuple(results), redact(evidence, secrets), redact(tuple(warnings), secrets),
                         MappingProxyType(system), redact(listed, secrets))


def challenge_results(spec: ChallengeSpec, target: Target, clause_map: Mapping[str, Sequence[str]],
                      waivers: Sequence[Waiver], today: date, secrets: Sequence[str],
                      locks: AccountLocks) -> list[Result]:
    """Run one challenge on one target (an intrusive one holding its test account's lock) and place its findings,
    each with the challenge's steps, in context like a check's."""
    with locks.hold(target) if spec.impact is Impact.INTRUSIVE else nullcontext():
        outcome = run_challenge(spec, target, secrets=secrets)
    out = []
    for f in outcome.findings:
        f = redact(f, secrets)
        status, waiver, expired = f.status, None, None
        if status is Status.FAIL:
            waiver, expired = _waivers_for(waivers, spec.id, target.name, f.resource, today)
            status = Status.WAIVED if waiver else status
        out.append(Result(
            check=spec.id, target=target.name, target_type=target.type.value, status=status, severity=spec.severity,
            area=spec.area, resource=f.resource, message=f.message, observed=f.observed,
            clauses=tuple(clause_map.get(spec.id, ())), evidence=(), at=utcnow(), criterion=spec.criterion,
            waiver=waiver, location=f.location, remediation=spec.remediation, expired_waiver=expired,
            kind="challenge", impact=spec.impact.value, steps=redact(outcome.steps, secrets)))
    return out


def resource_notes(facts: Mapping[str, Fact], name: str | None, target: Target) -> tuple[ResourceNotes, list[str]]:
    """The collector's notes on its resources (locations, unresolved values, inline waivers) and its warnings."""
    fact = facts.get(name) if name else None
    if fact is None:
        return ResourceNotes(), []
    if not fact.ok or not isinstance(fact.value, ResourceNotes):
        return ResourceNotes(), [f"target {target.name}: {name}: {fact.error or 'no value'}"]
    return fact.value, [f"target {target.name}: {w}" for w in fact.value.warnings]


def with_notes(finding: Finding, notes: ResourceNotes) -> Finding:
    """A finding with its resource's location (when the check gave none) and, fail closed, ``error`` instead of a
    pass or fail judged on a value that could not be determined."""
    location = finding.location or notes.locations.get(finding.resource)
    why = notes.unresolved.get(finding.resource)
    if why and finding.status in (Status.PASS, Status.FAIL):
        return dataclasses.replace(finding, status=Status.ERROR, location=location,
                                   message=f"cannot judge {finding.resource}: {why} (the check would say: "
                                           f"{finding.status.value}, {finding.message})")
    if location is finding.location:
        return finding
    # the same finding at its location: copied, not rebuilt (its observed values are frozen already; rebuilding
    # froze them again, a quarter of the CPU of evaluating a plan of 10,000 resources), and copied by its fields
    # (copy.copy's generic protocol took 4 times as long, some 2% of an IaC scan)
    return instance(Finding, {**finding.__dict__, "location": location})


def system_of(facts: Mapping[str, Fact], name: str) -> dict[str, str]:
    """The system under test as the record keeps it; when it could not be collected, the reason (fail closed:
    the record says so instead of leaving the system unnamed)."""
    from scanner.facts.system import SystemUnderTest, bounded

    fact = facts.get(name)
    if fact is None:
        return {"error": f"{name} was not collected"}
    if not fact.ok or not isinstance(fact.value, SystemUnderTest):
        return {"error": bounded(f"{name}: {fact.error or 'no value'}")}
    return fact.value.as_dict()


def scan(targets: Sequence[Target], specs: Sequence[CheckSpec | ChallengeSpec],
         clause_map: Mapping[str, Sequence[str]], *,
         waivers: Iterable[Waiver] = (), concurrency: int = DEFAULT_CONCURRENCY, executor: Executor | None = None,
         on_done: Callable[[TargetOutcome], None] = lambda _o: None,
         scan_one: Callable[..., TargetOutcome] = scan_target,
         scope: ProcessScope | None = None, access: bool = False,
         collector: Callable[..., Mapping[str, Fact]] | None = None) -> list[TargetOutcome]:
    """Scan every target; ``on_done`` is called (in this thread) as each target finishes. ``collector``: what
    collects a target's facts here (``collect_facts``'s arguments; by default ``collect_facts``).

    Interrupted (KeyboardInterrupt or any other exception in this thread), it ends every process the scan
    started on this machine (``scope``), does not wait for targets in flight, and re-raises.
    """
    waivers = tuple(waivers)
    scope = scope or ProcessScope()
    # a remote executor (scanner/executors.py) runs scan_target where the target is reached, with its own scope
    local = scan_one is scan_target and not getattr(executor, "remote", False)
    here = partial(collector or collect_facts, scope=scope)
    one = partial(scan_target, scope=scope, locks=AccountLocks(), access=access, collector=here) if local else scan_one
    own = executor is None
    pool = executor or ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(targets) or 1)),
                                          thread_name_prefix="gxpscan")
    outcomes = []
    try:
        futures = {pool.submit(one, t, specs, clause_map, waivers): t for t in targets}
        for fut in as_completed(futures):
            try:
                outcome = fut.result()
            except Exception as exc:  # the runner itself failed for this target: still an error result
                outcome = _crashed(futures[fut], specs, clause_map, exc)
            outcomes.append(outcome)
            on_done(outcome)
    except BaseException:  # interrupted: end our processes, don't wait for targets still in flight
        scope.end_all()
        if own:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        pool.shutdown(wait=True)
    return outcomes


def _crashed(target: Target, specs: Sequence[CheckSpec | ChallengeSpec], clause_map: Mapping[str, Sequence[str]],
             exc: BaseException) -> TargetOutcome:
    return failed_outcome(target, specs, clause_map, f"internal error: {type(exc).__name__}: {exc}")


def failed_outcome(target: Target, specs: Sequence[CheckSpec | ChallengeSpec], clause_map: Mapping[str, Sequence[str]],
                   why: str) -> TargetOutcome:
    """Every selected check and challenge of the target ``error`` for ``why`` (fail closed), built like any other
    outcome; nothing is collected or run."""
    def fail(_t: Target, names: Iterable[str]) -> dict[str, Fact]:
        return {n: Fact.failed(n, why) for n in names}

    outcome = scan_target(target, [s for s in specs if isinstance(s, CheckSpec)], clause_map, (), collector=fail)
    tests = [s for s in specs if isinstance(s, ChallengeSpec) and target.type in s.platforms]
    return dataclasses.replace(outcome, results=outcome.results + tuple(
        Result(check=t.id, target=target.name, target_type=target.type.value, status=Status.ERROR,
               severity=t.severity, area=t.area, resource=target.name, message=f"not run: {why}", observed={},
               clauses=tuple(clause_map.get(t.id, ())), evidence=(), at=utcnow(), criterion=t.criterion,
               remediation=t.remediation, kind="challenge", impact=t.impact.value) for t in tests))

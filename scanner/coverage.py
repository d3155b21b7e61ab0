"""Clause coverage: what a run shows about each clause on each target, without overclaiming.

A run records the clauses its checks map to (``RunInfo.clauses``: strength per check, applicability conditions,
the procedural evidence a site must supply) and each target's declared GxP context (``RunInfo.gxp_context``).
From those and the results, :func:`coverage` gives one :class:`ClauseCoverage` per clause and target:

- a clause whose ``applies_when`` does not hold for the target is ``not_applicable``, with the reason;
- a condition on a key the target did not declare is "applicability not declared": the clause is treated as
  applicable and the note says so;
- a clause is ``passed`` only from a passing ``direct`` check on a clause rated ``full`` with no procedural part;
  passing ``supporting`` evidence gives "technical part passed, procedural evidence needed: ...", and ``context``
  mappings are never evidence.

Pure functions over the run (no catalog is read), so a stored run reports as it was scanned.
"""
from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from scanner.model import ClauseUse, Platform, Run, Status
from scanner.value import frozen

#: Keys a target may declare under ``gxp_context`` (the inventory schema lists their types).
CONTEXT_KEYS = ("e_signatures", "signing_credentials", "system_type", "layer", "records_retention_days")


class _TextEnum(str, enum.Enum):
    def __str__(self) -> str:
        return str(self.value)


class Applicability(_TextEnum):
    APPLIES = "applies"
    NOT_APPLICABLE = "not_applicable"
    UNDECLARED = "not declared"


class Verdict(_TextEnum):
    """A clause's coverage on one target, worst first."""

    FAILED = "failed"
    ERROR = "error"
    WAIVED = "waived"
    MANUAL = "manual"
    NO_EVIDENCE = "no technical evidence"
    TECHNICAL_PART_PASSED = "technical part passed"
    PASSED = "passed"
    NOT_APPLICABLE = "not_applicable"


_WORST = (Status.FAIL, Status.ERROR, Status.WAIVED, Status.MANUAL, Status.PASS, Status.NOT_APPLICABLE)
_BY_STATUS = {Status.FAIL: Verdict.FAILED, Status.ERROR: Verdict.ERROR, Status.WAIVED: Verdict.WAIVED,
              Status.MANUAL: Verdict.MANUAL}


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return " or ".join(map(str, value))
    return str(value)


def _holds(want: Any, have: Any) -> bool:
    if isinstance(want, bool) or isinstance(have, bool):
        return isinstance(want, bool) and isinstance(have, bool) and want is have
    if isinstance(want, (tuple, list)):
        return have in want
    return bool(want == have)


def applicability(condition: Mapping[str, Any], context: Mapping[str, Any]) -> tuple[Applicability, str]:
    """Whether ``condition`` (every key must hold) holds for a target's declared ``context``, and why not."""
    undeclared = []
    for key, want in condition.items():
        if key not in context:
            undeclared.append(key)
        elif not _holds(want, context[key]):
            return (Applicability.NOT_APPLICABLE,
                    f"{key} is declared {_show(context[key])} for this target; applies only when {_show(want)}")
    if undeclared:
        return (Applicability.UNDECLARED, f"applicability not declared ({', '.join(undeclared)} not in the "
                                          "target's gxp_context): treated as applicable")
    return Applicability.APPLIES, ""


@frozen
class CheckEvidence:
    check: str
    strength: str
    status: Status | None  # the worst result of the check on the target; None: no result
    applicable: bool = True  # False: the mapping's condition does not hold for the target
    note: str = ""


@frozen
class ClauseCoverage:
    ref: str
    title: str
    target: str
    clause_status: str  # in_force | draft | superseded
    automatable: str
    verdict: Verdict
    text: str  # the verdict in words, with the procedural evidence still needed
    procedural_evidence: str
    evidence: tuple[CheckEvidence, ...]
    note: str = ""  # applicability: not applicable because ..., or not declared

    @property
    def strengths(self) -> str:
        """``direct: pass; supporting: fail`` per check, for a table cell."""
        return "; ".join(f"{e.check} ({e.strength}{'' if e.applicable else ', not applicable'}): "
                         f"{e.status.value if e.status else 'no result'}" for e in self.evidence)


def worst(statuses: Iterable[Status]) -> Status | None:
    found = set(statuses)
    return next((s for s in _WORST if s in found), None)


def _procedural(clause: ClauseUse) -> str:
    return clause.procedural_evidence or "(the catalog names none)"


def _judge(clause: ClauseUse, evidence: Sequence[CheckEvidence]) -> tuple[Verdict, str]:
    counted = [e for e in evidence if e.applicable and e.strength != "context" and e.status is not None]
    status = worst(e.status for e in counted if e.status is not None)
    need = _procedural(clause)
    if status in _BY_STATUS:
        verdict = _BY_STATUS[status]
        if verdict is Verdict.MANUAL:
            return verdict, f"manual: attach {need}"
        bad = ", ".join(e.check for e in counted if e.status is status)
        return verdict, f"{verdict.value}: {bad}" + (f"; procedural evidence also needed: {need}"
                                                        if clause.procedural_evidence else "")
    passing = [e for e in counted if e.status is Status.PASS]
    if not passing:
        return Verdict.NO_EVIDENCE, f"no technical evidence on this target; procedural evidence needed: {need}"
    if (clause.automatable == "full" and not clause.procedural_evidence
            and any(e.strength == "direct" for e in passing)):
        return Verdict.PASSED, "passed (direct evidence)"
    return Verdict.TECHNICAL_PART_PASSED, f"technical part passed, procedural evidence needed: {need}"


def clause_coverage(clause: ClauseUse, target: str, context: Mapping[str, Any],
                    statuses: Mapping[str, Status]) -> ClauseCoverage:
    """One clause on one target. ``statuses``: check id -> its worst result on the target."""
    state, why = applicability(clause.applies_when, context)
    evidence = []
    for m in clause.mappings:
        m_state, m_why = applicability(m.applies_when, context)
        evidence += [CheckEvidence(check, m.strength, statuses.get(check), m_state is not Applicability.NOT_APPLICABLE,
                                   m_why) for check in m.checks]
    if state is Applicability.NOT_APPLICABLE:
        verdict, text = Verdict.NOT_APPLICABLE, f"not applicable: {why}"
    else:
        verdict, text = _judge(clause, evidence)
    return ClauseCoverage(clause.ref, clause.title, target, clause.status, clause.automatable, verdict, text,
                          clause.procedural_evidence, tuple(evidence), why)


def _context_key(context: Mapping[str, Any]) -> str:
    """A key equal for two declared contexts only when their values are equal (scalars and tuples of them, as the
    inventory schema allows), so that both give the same applicability."""
    return repr(sorted((str(k), repr(v)) for k, v in context.items()))


def _platform(target_type: str) -> Platform | None:
    try:
        return Platform(target_type).judged_by
    except ValueError:
        return None


def _narrowed(clause: ClauseUse, keep: Collection[str]) -> ClauseUse:
    """``clause`` with only the mapped checks in ``keep`` (a mapping left without checks is left out)."""
    mappings = tuple(replace(m, checks=checks) for m in clause.mappings
                     if (checks := tuple(c for c in m.checks if c in keep)))
    return replace(clause, mappings=mappings)


def coverage(run: Run) -> list[ClauseCoverage]:
    """Every recorded clause on every target where one of its checks has a result, in clause then target order.

    A check whose id names another platform than the one that judges the target (``linux.*`` on a Windows host)
    and that has no result there is not listed as the target's evidence: it cannot run there, so it is no gap
    (the verdict counts only checks with a result, so it is the same either way). A check of the target's own
    platform without a result is listed ("no result").

    A clause is judged once per distinct (declared context, checks listed and their results): a fleet of like
    targets costs the judgement of each clause once, and each further target a lookup (the items share their
    evidence tuple)."""
    return [item if item.target == target else ClauseCoverage(
        item.ref, item.title, target, item.clause_status, item.automatable, item.verdict, item.text,
        item.procedural_evidence, item.evidence, item.note) for item, target in _judged(run)]


def _judged(run: Run) -> Iterator[tuple[ClauseCoverage, str]]:
    """(the coverage of a clause on a target, as judged for the first like target; the target) in clause then
    target order (see coverage). Like targets (the same platform, declared context and worst result per check)
    are looked up once per clause."""
    from scanner.registry import plugin_platform

    by_target: dict[str, dict[str, list[Status]]] = {}
    platforms: dict[str, Platform | None] = {}
    for r in run.results:
        by_target.setdefault(r.target, {}).setdefault(r.check, []).append(r.status)
        if r.target not in platforms:
            platforms[r.target] = _platform(r.target_type)
    worst_of = {t: {c: s for c, ss in checks.items() if (s := worst(ss)) is not None}
                for t, checks in by_target.items()}
    contexts = {t: run.info.gxp_context.get(t, {}) for t in worst_of}
    context_keys = {t: _context_key(c) for t, c in contexts.items()}
    kinds: dict[tuple[Platform | None, str, tuple[tuple[str, Status], ...]], int] = {}
    kind_of = {t: kinds.setdefault((platforms[t], context_keys[t], tuple(sorted(s.items()))), len(kinds))
               for t, s in worst_of.items()}
    owners: dict[str, Platform | None] = {}  # check id -> the platform its id names (None: none)
    listed_of: dict[tuple[int, Platform | None, frozenset[str]], tuple[str, ...]] = {}
    narrowed: dict[tuple[int, tuple[str, ...]], ClauseUse] = {}
    judged: dict[tuple[int, str, tuple[str, ...], tuple[Status | None, ...]], ClauseCoverage] = {}
    for n, clause in enumerate(run.info.clauses):
        checks = tuple(dict.fromkeys(check for m in clause.mappings for check in m.checks))
        mapped = frozenset(checks)
        for check in checks:
            if check not in owners:
                owners[check] = plugin_platform(check.split(".", 1)[0])
        of_kind: dict[int, ClauseCoverage | None] = {}  # like targets: the item of the first, None: no result
        for target, statuses in worst_of.items():
            kind = kind_of[target]
            if kind in of_kind:
                same = of_kind[kind]
                if same is not None:
                    yield same, target
                continue
            if statuses.keys().isdisjoint(mapped):
                of_kind[kind] = None
                continue
            own = platforms[target]
            # the checks listed: all of the target's own platform or of none, and any other with a result
            with_result = frozenset(() if own is None else statuses.keys() & mapped)
            listed = listed_of.get((n, own, with_result))
            if listed is None:
                listed = listed_of[(n, own, with_result)] = checks if own is None else tuple(
                    c for c in checks if c in with_result or owners[c] is None or owners[c] is own)
            key = (n, context_keys[target], listed, tuple(map(statuses.get, listed)))
            item = judged.get(key)
            if item is None:
                if listed != checks and (n, listed) not in narrowed:
                    narrowed[(n, listed)] = _narrowed(clause, set(listed))
                judged[key] = item = clause_coverage(narrowed[(n, listed)] if listed != checks else clause, target,
                                                     contexts[target], statuses)
            of_kind[kind] = item
            yield item, target


_ORDER = list(Verdict)


def overall(items: Sequence[ClauseCoverage]) -> ClauseCoverage:
    """The worst coverage of one clause across targets (not_applicable only when it is so everywhere)."""
    applicable = [c for c in items if c.verdict is not Verdict.NOT_APPLICABLE] or list(items)
    return min(applicable, key=lambda c: _ORDER.index(c.verdict))


def by_clause(items: Iterable[ClauseCoverage]) -> dict[str, list[ClauseCoverage]]:
    out: dict[str, list[ClauseCoverage]] = {}
    for c in items:
        out.setdefault(c.ref, []).append(c)
    return out


def coverage_dicts(run: Run) -> list[dict[str, Any]]:
    """The JSON form (``coverage`` in result.schema.json). Items with the same evidence (like targets) share one
    ``evidence`` list: read it, or copy it before changing it."""
    return [{**form, "target": target} for form, target in coverage_forms(run)]


def coverage_forms(run: Run) -> list[tuple[dict[str, Any], str]]:
    """``coverage_dicts`` as (the JSON form of the item judged, the target): an item is the form with its target.
    Like targets share one form (and forms with the same evidence one ``evidence`` list), so a writer can check a
    form once for all the items made from it (reports.json)."""
    shared: dict[int, list[dict[str, Any]]] = {}  # id of an evidence tuple (alive in ``judged``) -> its JSON form
    forms: dict[int, dict[str, Any]] = {}  # id of a judged item (alive in ``judged``) -> its JSON form
    judged = list(_judged(run))
    out = []
    for c, target in judged:
        form = forms.get(id(c))
        if form is None:
            evidence = shared.get(id(c.evidence))
            if evidence is None:
                evidence = shared[id(c.evidence)] = [
                    {"check": e.check, "strength": e.strength, "applicable": e.applicable,
                     "status": e.status.value if e.status else None, "note": e.note} for e in c.evidence]
            form = forms[id(c)] = {
                "clause": c.ref, "title": c.title, "target": c.target, "clause_status": c.clause_status,
                "automatable": c.automatable, "verdict": c.verdict.value, "text": c.text,
                "procedural_evidence": c.procedural_evidence, "note": c.note, "evidence": evidence}
        out.append((form, target))
    return out

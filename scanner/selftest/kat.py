"""Known-answer tests: recorded evidence in, the expected status out, for every built-in check.

The cases are data shipped in the package (``scanner/selftest/data/<prefix>.yaml``, one file per check id
prefix: ``linux``, ``aws``, ``ldap``, ``ad``). Each check has three recorded cases, named by the status they
must give (``pass``, ``fail``, ``error``), and may have more under other names with an explicit ``expect``.
A case is either a replay of a recorded Linux host (``recording``, optionally damaged with ``changes``) or typed
facts (``facts``: fact name -> ``{value: ...}`` decoded into the types of ``scanner/facts/``, or
``{error: "..."}`` for evidence that could not be collected). ``policy`` sets thresholds; ``message`` is text one
finding's message must contain.

Two more cases hold for every check and are not written down: no fact collected (``missing-facts``) and the
check raising (``raises``) both give ``error``. ``run_case`` is the one function both ``gxpscan selftest`` and
``tests/checks/test_known_answers.py`` use.
"""
from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scanner.model import Fact, Finding, Platform, Status, Target
from scanner.registry import CheckSpec, Registry
from scanner.selftest import replay
from scanner.selftest.decode import DecodeError, decode

DATA = Path(__file__).resolve().parent / "data"
RECORDINGS = DATA / "recordings"
REQUIRED = ("pass", "fail", "error")
GENERIC = ("missing-facts", "raises")
#: Worst first: the status of a case is that of its worst finding.
WORST_FIRST = (Status.ERROR, Status.FAIL, Status.MANUAL, Status.WAIVED, Status.PASS, Status.NOT_APPLICABLE)
_CASE_KEYS = {"expect", "recording", "changes", "facts", "policy", "message", "note"}


class KatError(ValueError):
    """A known-answer file is malformed (the path of the fault is in the message)."""


@dataclass(frozen=True)
class Case:
    check: str
    name: str
    expected: Status
    origin: str  # file and key, for messages
    recording: str | None = None
    changes: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))
    facts: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    policy: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    message: str = ""

    @property
    def id(self) -> str:
        return f"{self.check}:{self.name}"


@dataclass(frozen=True)
class CaseResult:
    check: str
    case: str
    expected: str
    actual: str  # a status, or "invalid" when the case itself could not be built
    detail: str  # the findings' messages, or why the case is invalid

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


def kat_files(data: Path | None = None) -> list[Path]:
    return sorted((data or DATA).glob("*.yaml"))


def _case(check: str, name: str, raw: Any, origin: str) -> Case:
    where = f"{origin}: checks.{check}.{name}"
    if not isinstance(raw, Mapping):
        raise KatError(f"{where}: a case is a mapping")
    unknown = sorted(set(raw) - _CASE_KEYS)
    if unknown:
        raise KatError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(_CASE_KEYS))})")
    if name in GENERIC:
        raise KatError(f"{where}: {name!r} is a case every check has already; choose another name")
    expect = raw.get("expect", name if name in REQUIRED else None)
    if name in REQUIRED and expect != name:
        raise KatError(f"{where}.expect: the case named {name!r} expects {name!r}")
    try:
        expected = Status(expect)
    except ValueError:
        raise KatError(f"{where}.expect: not a status: {expect!r}") from None
    if "recording" in raw and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(raw["recording"])):
        raise KatError(f"{where}.recording: the name of a directory under recordings/, not a path")
    if ("recording" in raw) == ("facts" in raw):
        raise KatError(f"{where}: give either 'recording' (Linux) or 'facts'")
    for key, kind in (("changes", Mapping), ("facts", Mapping), ("policy", Mapping), ("message", str),
                      ("recording", str), ("note", str)):
        if key in raw and not isinstance(raw[key], kind):
            raise KatError(f"{where}.{key}: expected a {'mapping' if kind is Mapping else 'string'}")
    changes = raw.get("changes") or {}
    for rel, text in changes.items():
        if not isinstance(text, (str, type(None))) or ".." in Path(rel).parts or rel.startswith("/"):
            raise KatError(f"{where}.changes.{rel}: a relative path inside the recording, to text or null")
    return Case(check=check, name=name, expected=expected, origin=where, recording=raw.get("recording"),
                changes=MappingProxyType(dict(changes)), facts=MappingProxyType(dict(raw.get("facts") or {})),
                policy=MappingProxyType(dict(raw.get("policy") or {})), message=raw.get("message", ""))


def load_cases(data: Path | None = None) -> list[Case]:
    """Every written case of every file, in file order. Raises KatError with the path of a fault."""
    from scanner.yamlload import YamlError, load_yaml

    cases: list[Case] = []
    for path in kat_files(data):
        try:
            doc = load_yaml(path.read_text(encoding="utf-8"))
        except (YamlError, OSError, UnicodeDecodeError) as exc:
            raise KatError(f"{path.name}: {exc}") from None
        if not isinstance(doc, Mapping) or not isinstance(doc.get("checks"), Mapping) or set(doc) != {"checks"}:
            raise KatError(f"{path.name}: expected one key, 'checks', mapping check ids to their cases")
        for check, named in doc["checks"].items():
            if not isinstance(named, Mapping):
                raise KatError(f"{path.name}: checks.{check}: expected a mapping of case names to cases")
            if not str(check).startswith(path.stem + "."):
                raise KatError(f"{path.name}: checks.{check}: belongs in {str(check).split('.', 1)[0]}.yaml")
            missing = [n for n in REQUIRED if n not in named]
            if missing:
                raise KatError(f"{path.name}: checks.{check}: no {', '.join(missing)} case")
            cases += [_case(str(check), str(name), raw, path.name) for name, raw in named.items()]
    return cases


def generic_cases(written: Iterable[Case]) -> list[Case]:
    """The fail-closed cases that hold for every check: no fact collected, and the check raising on the facts
    of its ``pass`` case (so that only the raise can make it an error)."""
    out = []
    for case in written:
        if case.name == "pass":
            out.append(Case(check=case.check, name="missing-facts", expected=Status.ERROR, origin="generic",
                            facts=MappingProxyType({}), message="evidence could not be collected"))
            out.append(dataclasses.replace(case, name="raises", expected=Status.ERROR, origin="generic",
                                           message="check raised RuntimeError"))
    return out


def all_cases(data: Path | None = None) -> list[Case]:
    written = load_cases(data)
    return written + generic_cases(written)


def worst(findings: Iterable[Finding]) -> Status:
    return min((f.status for f in findings), key=WORST_FIRST.index)


def _typed_facts(spec: CheckSpec, case: Case, now: datetime) -> dict[str, Fact]:
    hints = typing.get_type_hints(spec.func)
    unknown = sorted(set(case.facts) - set(spec.facts))
    if unknown:
        raise DecodeError(f"facts.{unknown[0]}", f"{spec.id} does not read this fact")
    out = {}
    for name, raw in case.facts.items():
        if not isinstance(raw, Mapping) or len(raw) != 1 or not ({"value", "error"} & set(raw)):
            raise DecodeError(f"facts.{name}", "expected {value: ...} or {error: \"why\"}")
        if "error" in raw:
            out[name] = Fact.failed(name, str(raw["error"]))
        else:
            out[name] = Fact(name, decode(raw["value"], hints[spec.fact_param(name)], name, now))
    return out


#: Replayed facts by (recording, changes, policy, fact): cases that replay the same evidence share the parse.
FactCache = dict[tuple[str, str, str, str], Fact]


def case_facts(spec: CheckSpec, case: Case, target: Target, now: datetime,
               cache: FactCache | None = None) -> dict[str, Fact]:
    if case.name == "missing-facts":
        return {}
    if case.recording is None:
        return _typed_facts(spec, case, now)
    rec = replay.Recording(RECORDINGS / spec.platform.value / case.recording, case.changes)
    if not rec.root.is_dir():
        raise DecodeError("recording", f"no recording named {case.recording!r}")
    cache = {} if cache is None else cache
    changes = json.dumps(dict(case.changes), sort_keys=True)
    policy = json.dumps(dict(target.policy), sort_keys=True, default=repr)

    def key(name: str) -> tuple[str, str, str, str]:
        return (str(rec.root), changes, policy, name)

    todo = [n for n in spec.facts if key(n) not in cache]
    if todo:
        cache.update({key(n): f for n, f in replay.facts(rec, target, todo).items()})
    return {n: cache[key(n)] for n in spec.facts}


def case_target(spec: CheckSpec, case: Case) -> Target:
    name = f"kat-{case.check}"
    if case.recording is not None and spec.platform is Platform.LINUX:
        rec = replay.Recording(RECORDINGS / spec.platform.value / case.recording)
        return replay.target_for(rec, name, case.policy)
    return Target(name=name, type=spec.platform, options={}, policy=dict(case.policy))


def _raises(**_: Any) -> Any:
    raise RuntimeError("known-answer case: the check raised")


def run_case(case: Case, registry: Registry, now: datetime, cache: FactCache | None = None) -> CaseResult:
    """Evaluate one case through the engine's own ``evaluate``, exactly as a scan would. ``cache`` shares
    replayed facts between the cases of one run."""
    from scanner.runner import evaluate

    def result(actual: str, detail: str) -> CaseResult:
        return CaseResult(case.check, case.name, case.expected.value, actual, detail)

    spec = registry.checks.get(case.check)
    if spec is None:
        return result("invalid", f"{case.origin}: no such check is loaded")
    try:
        target = case_target(spec, case)
        facts = case_facts(spec, case, target, now, cache)
    except (DecodeError, OSError, ValueError) as exc:
        return result("invalid", f"{case.origin}: {exc}")
    if case.name == "raises":
        spec = dataclasses.replace(spec, func=_raises)
    findings = evaluate(spec, facts, target)
    messages = "; ".join(f"{f.status.value}: {f.resource}: {f.message}" for f in findings)
    actual = worst(findings).value
    if case.message and not any(case.message in f.message for f in findings):
        return result(f"{actual} (no message contains {case.message!r})", messages)
    return result(actual, messages)

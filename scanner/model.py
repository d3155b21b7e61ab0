"""The values that flow through the pipeline: all frozen, all typed.

inventory -> Target -> (connector) -> Fact -> (check) -> Finding -> (engine) -> Result -> Run
"""
from __future__ import annotations

import enum
import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from datetime import datetime, timezone
from operator import attrgetter
from types import MappingProxyType
from typing import Any, TypeVar

from scanner.value import frozen, instance

#: Raw evidence kept per fact; the SHA-256 always covers the whole output.
MAX_RAW_BYTES = 64 * 1024


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: The exact types freeze and thaw keep as they are.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Any:
    """Deep-freeze plain data: dicts become read-only mappings, lists become tuples."""
    kind = type(value)  # fast paths for the exact built-in types (a record read back): the same result
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:  # of scalars only (most): copied in C, without a step per item
        if _SCALARS.issuperset(map(type, value.values())):
            return MappingProxyType(value.copy())
        return MappingProxyType({k: v if type(v) in _SCALARS else freeze(v) for k, v in value.items()})
    if kind is list or kind is tuple:
        if _SCALARS.issuperset(map(type, value)):
            return tuple(value)
        return tuple(v if type(v) in _SCALARS else freeze(v) for v in value)
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(freeze(v) for v in value)
    return value


class Shape(enum.Enum):
    """What a value of one type is to the walks over plain data (``thaw``; the runner's redaction)."""

    ENUM = 1  # our vocabulary (Status, Severity, ...), even an enum that is also a str or an int
    MAPPING = 2
    SEQUENCE = 3  # list or tuple (a NamedTuple too)
    SET = 4
    TIME = 5
    BYTES = 6
    TEXT = 7
    DATACLASS = 8
    OTHER = 9  # a number, None, anything else: kept as it is


@functools.cache
def shape_of(kind: type) -> Shape:
    """The shape of values of ``kind`` (the first of these tests, in order, that it meets), decided once per type:
    the ABC tests (Mapping above all) cost a microsecond or more per value, and a run's values are of a handful of
    types."""
    for shape, bases in ((Shape.ENUM, (enum.Enum,)), (Shape.MAPPING, (Mapping,)), (Shape.SEQUENCE, (list, tuple)),
                         (Shape.SET, (set, frozenset)), (Shape.TIME, (datetime,)), (Shape.BYTES, (bytes,)),
                         (Shape.TEXT, (str,))):
        if issubclass(kind, bases):
            return shape
    return Shape.DATACLASS if hasattr(kind, "__dataclass_fields__") else Shape.OTHER


def thaw(value: Any) -> Any:
    """The inverse of freeze, for JSON output."""
    kind = type(value)  # fast paths for the exact built-in types (most values): the same result, no ABC checks
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is MappingProxyType or kind is dict:  # a scalar item (most of them) is kept without a call
        return {k if type(k) is str else str(k): v if type(v) in _SCALARS else thaw(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [v if type(v) in _SCALARS else thaw(v) for v in value]
    shape = shape_of(kind)  # type: ignore[arg-type]  # a type is hashable; typeshed types it type[Any]
    if shape is Shape.DATACLASS:
        out = {}
        for k in kind.__dataclass_fields__:
            v = getattr(value, k)
            out[k] = v if type(v) in _SCALARS else thaw(v)
        return out
    if shape is Shape.MAPPING:
        return {str(k): thaw(v) for k, v in value.items()}
    if shape is Shape.SEQUENCE:
        return [thaw(v) for v in value]
    if shape is Shape.SET:
        return sorted((thaw(v) for v in value), key=repr)
    if shape is Shape.ENUM:
        return value.value
    if shape is Shape.TIME:
        return value.isoformat()
    if shape is not Shape.BYTES:
        return value
    return value.decode("utf-8", "backslashreplace")


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    WAIVED = "waived"
    MANUAL = "manual"

    def __str__(self) -> str:
        return self.value


class Ranked(str, enum.Enum):
    """A scale whose members are declared from the least to the most: ``rank`` orders them."""

    @property
    def rank(self) -> int:
        return list(type(self)).index(self)

    def __str__(self) -> str:
        return str(self.value)


class Severity(Ranked):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RiskLevel(Ranked):
    """A finding's risk rating (scanner.risk): its check's severity weighed by the GxP impact of its system."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@frozen
class Risk:
    """The rating of one failing, erroring or waived finding (scanner.risk)."""

    level: RiskLevel
    impact: str  # the system's GxP impact it was rated with: high | medium | low
    declared: bool = True  # False: the target declared no gxp_impact and was rated as high impact


class Area(str, enum.Enum):
    ACCESS_CONTROL = "access_control"
    PASSWORD_POLICY = "password_policy"
    ENCRYPTION = "encryption"
    BACKUP = "backup"
    AUDIT_LOGGING = "audit_logging"
    TIME_SYNC = "time_sync"
    CONFIGURATION = "configuration"

    def __str__(self) -> str:
        return self.value


class Platform(str, enum.Enum):
    LINUX = "linux"
    WINDOWS = "windows"
    AWS = "aws"
    LDAP = "ldap"
    IAC = "iac"

    def __str__(self) -> str:
        return self.value

    @property
    def judged_by(self) -> Platform:
        """The platform whose checks judge a target of this type: code (``iac``) is judged by the AWS checks."""
        return Platform.AWS if self is Platform.IAC else self


@frozen
class Evidence:
    """Where a fact came from: what was run or asked, when, and what came back."""

    source: str  # the command, API call, LDAP filter or file path
    collected_at: datetime
    raw: str  # bounded, decoded with backslash escapes so nothing is lost silently
    sha256: str  # of the complete raw output, before truncation
    truncated: bool = False
    exit_code: int | None = None

    @classmethod
    def of(cls, source: str, output: bytes | str, *, exit_code: int | None = None,
           at: datetime | None = None, limit: int = MAX_RAW_BYTES) -> Evidence:
        data = output.encode("utf-8", "surrogateescape") if isinstance(output, str) else output
        return cls(
            source=source,
            collected_at=at or utcnow(),
            raw=data[:limit].decode("utf-8", "backslashreplace"),
            sha256=hashlib.sha256(data).hexdigest(),
            truncated=len(data) > limit,
            exit_code=exit_code,
        )

    @property
    def id(self) -> str:
        return self.sha256[:16]


@frozen
class Fact:
    """A named, typed value about one target, or the reason it could not be had."""

    name: str
    value: Any = None
    evidence: tuple[Evidence, ...] = ()
    error: str | None = None
    #: why this fact cannot exist for this target (e.g. runtime state of an account, scanned as code): every
    #: check that needs it is ``not_applicable`` with this reason
    inapplicable: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.inapplicable is None

    @classmethod
    def failed(cls, name: str, error: str, evidence: tuple[Evidence, ...] = ()) -> Fact:
        return cls(name=name, error=error, evidence=evidence)

    @classmethod
    def not_applicable(cls, name: str, reason: str, evidence: tuple[Evidence, ...] = ()) -> Fact:
        return cls(name=name, evidence=evidence, inapplicable=reason)


@frozen
class Location:
    """Where in a file a finding is: a file on a host (``/etc/login.defs``) or in a code repository.

    ``path`` is absolute for host files and relative to the scanned directory for code. Lines are 1-based and
    inclusive; None when not known.
    """

    path: str
    start_line: int | None = None
    end_line: int | None = None

    def __post_init__(self) -> None:
        if self.start_line is not None and self.end_line is None:
            object.__setattr__(self, "end_line", self.start_line)


@frozen
class Finding:
    """What a check says about one resource. The engine adds the rest."""

    status: Status
    resource: str
    message: str
    observed: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    location: Location | None = None

    def __post_init__(self) -> None:
        if type(self.status) is not Status:  # a check's Status as it is; its text value made one
            object.__setattr__(self, "status", Status(self.status))
        observed = self.observed  # frozen into a copy: a plain dict (the common case) is copied once, by freeze
        object.__setattr__(self, "observed", freeze(observed if type(observed) is dict else dict(observed)))


def _finding(status: Status, resource: str, message: str, observed: dict[str, Any],
             location: Location | None) -> Finding:
    """``Finding(status, resource, message, observed, location)`` for the helpers below, the same value: their
    status is a Status and their observed the fresh dict of their keyword arguments, so the instance is made with
    its fields set at once, the observed frozen as ``__post_init__`` freezes it (a check makes every finding of a
    scan with them: the generated ``__init__`` set each field with a call)."""
    return instance(Finding, {"status": status, "resource": resource, "message": message,
                              "observed": freeze(observed), "location": location})


def passed(resource: str, message: str, *, location: Location | None = None, **observed: Any) -> Finding:
    return _finding(Status.PASS, resource, message, observed, location)


def failed(resource: str, message: str, *, location: Location | None = None, **observed: Any) -> Finding:
    return _finding(Status.FAIL, resource, message, observed, location)


def error(resource: str, message: str, *, location: Location | None = None, **observed: Any) -> Finding:
    return _finding(Status.ERROR, resource, message, observed, location)


def not_applicable(resource: str, message: str, *, location: Location | None = None, **observed: Any) -> Finding:
    return _finding(Status.NOT_APPLICABLE, resource, message, observed, location)


def manual(resource: str, message: str, *, location: Location | None = None, **observed: Any) -> Finding:
    return _finding(Status.MANUAL, resource, message, observed, location)


@frozen
class Target:
    """One thing to scan, as the inventory describes it (secrets only by reference)."""

    name: str
    type: Platform
    options: Mapping[str, Any]
    policy: Mapping[str, Any]
    groups: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    #: what the inventory declares about the system's GxP use (e_signatures, system_type, layer, ...)
    gxp_context: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def opt(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


@frozen
class Waiver:
    check: str
    target: str
    reason: str
    approved_by: str
    expires: str  # ISO date
    resource: str = "*"


@frozen
class ResourceNotes:
    """What a collector knows about the resources its facts describe, beyond the facts (for code: where each
    resource is written, values that could not be resolved, waivers written next to it). The runner applies it
    to every finding of the target (``scanner.collectors.NOTES_FACTS`` names the fact per platform)."""

    locations: Mapping[str, Location] = field(default_factory=lambda: MappingProxyType({}))
    #: resource -> why some of its values could not be determined: a pass or fail on it becomes error
    unresolved: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    waivers: tuple[Waiver, ...] = ()  # scoped to their resources, applied like inventory waivers
    warnings: tuple[str, ...] = ()  # for the run record (an incomplete inline waiver, a file that did not parse)


@frozen
class ChallengeStep:
    """One test step of a challenge (scanner/challenge.py): what was done, what was expected, what happened, and
    SHA-256 hashes of the complete exchange (the text kept is bounded)."""

    n: int
    action: str
    expected: str
    actual: str
    ok: bool | None  # expected result seen (True), the opposite (False), could not be determined (None)
    at: datetime
    sent: str
    received: str
    sent_sha256: str
    received_sha256: str
    cleanup: bool = False
    restore_by_hand: str = ""  # for a clean-up step: what an operator must restore if it failed
    planned: bool = False  # recorded by --plan, not run

    @property
    def verdict(self) -> str:
        return "planned" if self.planned else {True: "met", False: "not met", None: "undetermined"}[self.ok]

    def describe(self) -> str:
        """The step as one line of text, for reports (escape it for the medium)."""
        by_hand = f"; restore by hand: {self.restore_by_hand}" if self.cleanup and self.ok is not True \
            and self.restore_by_hand else ""
        return (f"{self.n}. {'clean-up: ' if self.cleanup else ''}{self.action}; expected: {self.expected}; "
                f"actual: {self.actual} [{self.verdict}]{by_hand}")


@frozen
class Result:
    """A finding placed in context: which check, which target, when, against which clauses."""

    check: str
    target: str
    target_type: str
    status: Status
    severity: Severity
    area: Area
    resource: str
    message: str
    observed: Mapping[str, Any]
    clauses: tuple[str, ...]
    evidence: tuple[str, ...]  # evidence ids, see Run.evidence
    at: datetime
    criterion: str = ""
    waiver: Waiver | None = None
    location: Location | None = None
    remediation: str = ""
    expired_waiver: Waiver | None = None  # a waiver that matched this failure but had expired (it stays fail)
    kind: str = "check"  # check | challenge
    impact: str = ""  # a challenge's impact: safe | intrusive
    steps: tuple[ChallengeStep, ...] = ()  # a challenge's test steps, clean-up included
    risk: Risk | None = None  # fail, error and waived only (scanner.risk); None in records older than the rating


@frozen
class CatalogUse:
    """A framework catalog a run used: its edition, whether it is in force, and the SHA-256 of its file."""

    id: str
    title: str
    edition: str
    effective: str
    status: str  # in_force | draft | superseded
    sha256: str


@frozen
class MappingUse:
    """Checks' evidence for a clause: how strong, and under which condition (see scanner.coverage)."""

    checks: tuple[str, ...]
    strength: str  # direct | supporting | context
    applies_when: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@frozen
class ClauseUse:
    """A clause the run's checks give evidence for, as its catalog said when the run started."""

    ref: str  # framework:clause
    title: str
    automatable: str  # full | partial | manual
    status: str  # in_force | draft | superseded
    procedural_evidence: str
    mappings: tuple[MappingUse, ...]
    applies_when: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@frozen
class RunInfo:
    id: str
    tool_version: str
    checks_fingerprint: str
    operator: str
    started: datetime
    inventory: str
    inventory_sha256: str
    command: str = ""
    python: str = ""
    ended: datetime | None = None
    interrupted: bool = False
    warnings: tuple[str, ...] = ()  # run-level warnings (plaintext transports, expired waivers, ...)
    operator_name: str = ""  # the printed name of the person who ran it (--operator-name / GXPSCAN_OPERATOR)
    protocol_sha256: str = ""  # the approved test protocol this run executes, when one was given
    previous_manifest_sha256: str = ""  # hash chain: the manifest of the previous run in the same results directory
    profile: str = ""  # the profile applied (--profile): its name, and where it came from
    profile_sha256: str = ""  # SHA-256 of the profile file's bytes: the approved tool configuration of this run
    catalogs: tuple[CatalogUse, ...] = ()  # every framework catalog used, with its edition, status and SHA-256
    clauses: tuple[ClauseUse, ...] = ()  # the clauses the selected checks map to: strengths, conditions, records
    gxp_context: Mapping[str, Mapping[str, Any]] = field(  # target -> its declared GxP context (inventory)
        default_factory=lambda: MappingProxyType({}))
    risk_matrix: str = ""  # the matrix the risk ratings come from: "default", or the site's file with its SHA-256


@frozen
class SignatureRecord:
    """An electronic signature manifestation on a sealed run (Part 11 11.50/11.70): who, when, what it means.

    It covers ``manifest_sha256``, so it cannot be moved to another record.
    """

    role: str  # executor | reviewer | approver
    name: str  # printed name of the signer
    meaning: str  # e.g. "Reviewed and approved"
    signed_at: datetime
    key_id: str  # SHA-256 fingerprint of the signer's public key
    manifest_sha256: str


@frozen
class Run:
    info: RunInfo
    results: tuple[Result, ...]
    evidence: Mapping[str, Mapping[str, Any]]  # evidence id -> {fact, target, source, ...}
    #: system under test per target: hostname, os, os_version, kernel/build, ... (as collected)
    systems: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))
    signatures: tuple[SignatureRecord, ...] = ()  # read from a sealed run directory, verified by the reader
    #: target -> its access list (scanner.access.model.SystemAccess), where the scan collected its account facts
    access: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def counts(self) -> dict[str, int]:
        found = Counter(map(attrgetter("status"), self.results))  # in C: no enum property read per result
        return {s.value: found[s] for s in Status}


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def result_to_dict(r: Result) -> dict[str, Any]:
    """The published JSON form of one result (see scanner/schemas/result.schema.json)."""
    return results_to_dicts((r,))[0]


def results_to_dicts(results: Sequence[Result]) -> list[dict[str, Any]]:
    """``[result_to_dict(r) for r in results]``, with what results share built once: one list for the clauses of a
    check (the same tuple in each of its results), one dict per location (the runner gives a resource's findings
    its one Location) and per risk rating (the same Risk, scanner.risk). The dicts share them: a reader changes a
    copy. A result's time in UTC (utcnow) is written from the text of its second, made once per second: the
    same text as ``isoformat()``, which cost some 12,000 instructions a result."""
    forms: dict[int, Any] = {}  # id of a clauses tuple, Location or Risk (alive in ``results``) -> its JSON form
    seconds: dict[tuple[int, ...], str] = {}  # a UTC time to the second -> its isoformat()

    def form(value: Any, make: Callable[[Any], Any]) -> Any:  # called when ``forms.get`` (inline) has no form
        made = forms.get(id(value))
        return made if made is not None else forms.setdefault(id(value), make(value))

    out = []
    for r in results:
        observed = r.observed  # most are a read-only mapping of scalars: thawed here, without a call per value
        at = r.at
        if at.tzinfo is timezone.utc:  # "YYYY-MM-DDTHH:MM:SS" (19 characters), ".ffffff" unless 0, "+00:00"
            second = (at.year, at.month, at.day, at.hour, at.minute, at.second)
            text = seconds.get(second) or seconds.setdefault(second, at.replace(microsecond=0).isoformat())
            micro = at.microsecond
            stamp = text[:19] + "." + str(1_000_000 + micro)[1:] + text[19:] if micro else text
        else:
            stamp = at.isoformat()
        d = {
            "check": r.check, "target": r.target, "target_type": r.target_type, "resource": r.resource,
            "status": r.status._value_, "severity": r.severity._value_, "area": r.area._value_, "message": r.message,
            "criterion": r.criterion, "observed": thaw(observed),
            "clauses": forms.get(id(r.clauses)) or form(r.clauses, list), "evidence": list(r.evidence), "at": stamp,
            "waiver": thaw(r.waiver) if r.waiver else None,
            "location": (forms.get(id(r.location)) or form(r.location, thaw)) if r.location else None,
            "remediation": r.remediation,
            "expired_waiver": thaw(r.expired_waiver) if r.expired_waiver else None,
        }
        if r.kind == "challenge":
            d["kind"], d["impact"], d["steps"] = r.kind, r.impact, [thaw(s) for s in r.steps]
        if r.risk is not None:
            d["risk"] = forms.get(id(r.risk)) or form(r.risk, thaw)
        out.append(d)
    return out


_E = TypeVar("_E", bound=enum.Enum)


@functools.cache
def _by_value(kind: type[_E]) -> Mapping[Any, _E]:
    """The members of ``kind`` by value (computed once per enum: its lookup by call costs a microsecond)."""
    return MappingProxyType({e.value: e for e in kind})


def _member(kind: type[_E], value: Any) -> _E:
    """``kind(value)``: the member with this value, or the ValueError the enum raises."""
    member = _by_value(kind).get(value) if type(value) is str else None
    return member if member is not None else kind(value)


def result_from_dict(d: Mapping[str, Any]) -> Result:
    return Result(
        check=d["check"], target=d["target"], target_type=d["target_type"], status=_member(Status, d["status"]),
        severity=_member(Severity, d["severity"]), area=_member(Area, d["area"]), resource=d["resource"],
        message=d["message"],
        observed=freeze(d.get("observed") or {}), clauses=tuple(d.get("clauses") or ()),
        evidence=tuple(d.get("evidence") or ()), at=datetime.fromisoformat(d["at"]),
        criterion=d.get("criterion", ""), waiver=Waiver(**d["waiver"]) if d.get("waiver") else None,
        location=Location(**d["location"]) if d.get("location") else None, remediation=d.get("remediation", ""),
        expired_waiver=Waiver(**d["expired_waiver"]) if d.get("expired_waiver") else None,
        kind=d.get("kind", "check"), impact=d.get("impact", ""),
        steps=tuple(ChallengeStep(**{**st, "at": datetime.fromisoformat(st["at"])}) for st in d.get("steps") or ()),
        risk=_risk_from_dict(d["risk"]) if d.get("risk") else None,
    )


def _risk_from_dict(d: Mapping[str, Any]) -> Risk:
    impact, declared = d["impact"], d.get("declared", True)
    if impact not in ("high", "medium", "low") or type(declared) is not bool:
        raise ValueError(f"not a risk rating: {str(dict(d))[:80]}")
    return Risk(level=RiskLevel(d["level"]), impact=impact, declared=declared)


def info_to_dict(info: RunInfo) -> dict[str, Any]:
    out: dict[str, Any] = thaw(info)
    return out


def info_from_dict(d: Mapping[str, Any]) -> RunInfo:
    fields = {k: v for k, v in d.items() if k in RunInfo.__dataclass_fields__}
    fields["started"] = _parse_time(fields["started"])
    fields["ended"] = _parse_time(fields.get("ended"))
    fields["warnings"] = tuple(fields.get("warnings") or ())
    fields["catalogs"] = tuple(CatalogUse(**c) for c in fields.get("catalogs") or ())
    fields["clauses"] = tuple(
        ClauseUse(**{**c, "applies_when": freeze(c.get("applies_when") or {}),
                     "mappings": tuple(MappingUse(**{**m, "checks": tuple(m["checks"]),
                                                  "applies_when": freeze(m.get("applies_when") or {})})
                                       for m in c.get("mappings") or ())})
        for c in fields.get("clauses") or ())
    fields["gxp_context"] = freeze(dict(fields.get("gxp_context") or {}))
    return RunInfo(**fields)


def run_to_dict(run: Run, findings: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """``findings``: the results' dicts built already (the run record's, in ``run.results`` order), shared, not
    copied: a caller that changes one changes a copy."""
    if findings is not None and len(findings) != len(run.results):
        raise ValueError(f"{len(findings)} finding dicts for {len(run.results)} results")
    return {"run": {**info_to_dict(run.info), "counts": run.counts()},
            "findings": results_to_dicts(run.results) if findings is None else list(findings),
            "evidence": {k: thaw(v) for k, v in run.evidence.items()}}

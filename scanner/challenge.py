"""Challenge tests: opt-in checks that act on a target to prove a control works, recorded as OQ test steps.

A check reads evidence; a challenge tries the control ("offer only 3des-cbc: the server must refuse"; "five wrong
passwords: the test account must be locked, then unlock it"). A challenge is a plain function with the
``@challenge`` decorator. It receives a :class:`ChallengeContext` as its first parameter; its other parameters have
defaults and are policy thresholds, overridden by the inventory's ``policy`` by the same name, like a check's.

**All I/O goes through** ``ctx.step(action, expected, probe)``: ``probe`` is a function of no arguments that does one
exchange with the target and returns a :class:`Probe`. The context records every step with its time and the SHA-256
of what was sent and received. Because the challenge itself never does I/O outside a probe, ``--plan`` is safe by
construction: the context records each step without calling its probe and answers as if the step went as expected,
so the plan lists the steps of the expected path. A clean-up step (``cleanup=True``) names what an operator must
restore by hand if it fails; a failed or undetermined clean-up makes the whole challenge ``error``.

The engine (``run_challenge``) turns the challenge's findings and steps into findings with steps, fail closed: a
challenge that raised, returned nothing, or claims ``pass`` while a step could not be determined is ``error``.
"""
from __future__ import annotations

import contextlib
import enum
import hashlib
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import field, replace
from types import MappingProxyType
from typing import Any

from scanner.model import Area, ChallengeStep, Finding, Platform, Severity, Status, Target, utcnow
from scanner.value import frozen

_MARK = "__gxpscan_challenge__"
#: Text kept per step of what was sent and what came back; the SHA-256 covers all of it.
MAX_STEP_TEXT = 4096
PLANNED = "(planned; not run)"


class Impact(str, enum.Enum):
    """What a challenge does to its target."""

    SAFE = "safe"  # no state change on the target, no lockout risk: negotiation and refusal probes
    INTRUSIVE = "intrusive"  # changes state on a designated test account (failed logons, password change), restored

    def __str__(self) -> str:
        return self.value

    def allows(self, other: Impact) -> bool:
        """``--challenge intrusive`` runs the safe challenges too; ``--challenge safe`` only those."""
        return self is Impact.INTRUSIVE or other is Impact.SAFE


class ChallengeRefused(Exception):
    """A challenge may not run on this target as configured (no test account, the scan's own account named)."""


@frozen
class Probe:
    """What one exchange with the target showed. ``ok``: the expected result was seen (True), the opposite (False),
    or it could not be determined (None: connection failed, answer not understood)."""

    ok: bool | None
    actual: str
    sent: bytes | str = b""
    received: bytes | str = b""


#: A recorded test step (the value lives in scanner.model, as part of a Result).
Step = ChallengeStep


@frozen
class TestAccount:
    """The account an intrusive challenge may act on, and only that one. Its password never leaves memory."""

    name: str
    password: str = field(repr=False)


@frozen
class ChallengeSpec:
    id: str
    title: str
    severity: Severity
    area: Area
    criterion: str
    impact: Impact
    platforms: frozenset[Platform]
    func: Callable[..., Any]
    params: Mapping[str, Any]  # threshold name -> default
    remediation: str = ""
    kind: str = "challenge"

    @property
    def module(self) -> str:
        return self.func.__module__

    @property
    def platform(self) -> Platform:
        """The first platform, for listings that group by one (the id's prefix)."""
        return sorted(self.platforms, key=lambda p: p.value)[0]


def challenge(*, id: str, title: str, severity: Severity | str, area: Area | str, criterion: str,
              impact: Impact | str, remediation: str = "",
              platforms: Iterable[Platform | str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a function as a challenge. ``platforms`` defaults to the id's prefix (``linux.``, ``ldap.``, ``ad.``)."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        from scanner.registry import ID_PREFIX_PLATFORM

        if ".challenge." not in id:  # the naming that tells a challenge from a check by id alone (catalogs, plugins)
            raise TypeError(f"challenge {id}: a challenge id reads '<prefix>.challenge.<name>'")
        prefix = id.split(".", 1)[0]
        plats = frozenset(Platform(p) for p in platforms) if platforms else frozenset(
            {ID_PREFIX_PLATFORM.get(prefix) or Platform(prefix)})
        signature = list(inspect.signature(func).parameters.values())
        if not signature or signature[0].default is not inspect.Parameter.empty:
            raise TypeError(f"challenge {id}: the first parameter receives the ChallengeContext")
        params = {}
        for p in signature[1:]:
            if p.default is inspect.Parameter.empty:
                raise TypeError(f"challenge {id}: parameter {p.name!r} needs a default (challenges ask for no facts)")
            params[p.name] = p.default
        spec = ChallengeSpec(id=id, title=title, severity=Severity(severity), area=Area(area), criterion=criterion,
                             impact=Impact(impact), platforms=plats, func=func,
                             params=MappingProxyType(params), remediation=remediation)
        setattr(func, _MARK, spec)
        return func

    return mark


def challenge_spec_of(obj: Any) -> ChallengeSpec | None:
    spec = getattr(obj, _MARK, None)
    return spec if isinstance(spec, ChallengeSpec) else None


def _bounded(data: bytes | str) -> tuple[str, str]:
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    return raw[:MAX_STEP_TEXT].decode("utf-8", "backslashreplace"), hashlib.sha256(raw).hexdigest()


class ChallengeContext:
    """What a challenge gets: its target, a step recorder, and (intrusive only) the test account.

    ``plan``: record the steps without calling their probes (``--plan``).
    """

    def __init__(self, target: Target, *, plan: bool = False, secrets: Iterable[str] = ()) -> None:
        self.target = target
        self.plan = plan
        self.steps: list[Step] = []
        self._secrets = tuple(s for s in secrets if s)

    def _scrub(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, "***")
        return text

    def step(self, action: str, expected: str, probe: Callable[[], Probe], *, cleanup: bool = False,
             restore_by_hand: str = "") -> Probe:
        """Run one probe and record it; a probe that raises is an undetermined step with the reason."""
        if self.plan:
            result = Probe(ok=True, actual=PLANNED)
        else:
            try:
                result = probe()
            except Exception as exc:  # the probe's exchange failed: recorded, never a pass
                result = Probe(ok=None, actual=f"could not run: {type(exc).__name__}: {exc}")
        sent, sent_hash = _bounded(result.sent)
        received, received_hash = _bounded(result.received)
        self.steps.append(Step(
            n=len(self.steps) + 1, action=self._scrub(action), expected=self._scrub(expected),
            actual=self._scrub(result.actual), ok=None if self.plan else result.ok, at=utcnow(),
            sent=self._scrub(sent), received=self._scrub(received), sent_sha256=sent_hash,
            received_sha256=received_hash, cleanup=cleanup, restore_by_hand=restore_by_hand, planned=self.plan))
        return result

    def test_account(self) -> TestAccount:
        """The inventory's ``challenge_account`` with its ``challenge_password_env`` secret; refused when missing
        or when it is the account the scan itself logs in with."""
        from scanner.connectors import ConnectorError
        from scanner.connectors.become import secret

        name = self.target.opt("challenge_account")
        if not name:
            raise ChallengeRefused(f"target {self.target.name} names no challenge_account for intrusive challenges")
        own = {str(self.target.opt(k)).casefold() for k in ("user", "bind_dn", "username") if self.target.opt(k)}
        if str(name).casefold() in own:
            raise ChallengeRefused(f"challenge_account {name} is the account the scan logs in with; "
                                   "name a separate test account")
        if self.plan:
            return TestAccount(str(name), "")
        try:
            password = secret(self.target, "challenge_password_env")
        except ConnectorError as exc:
            raise ChallengeRefused(str(exc)) from None
        if not password:
            raise ChallengeRefused(f"target {self.target.name}: challenge_password_env is not set or empty")
        return TestAccount(str(name), password)


class AccountLocks:
    """One target at a time per test account, for intrusive challenges (one table per scan).

    A Linux test account is local to its host; a directory, Windows domain or AWS account is shared by every target
    that names it, so those are keyed by the account name alone (conservative: two directories with a test account
    of the same name are also challenged one after the other)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @staticmethod
    def key(target: Target) -> str:
        name = str(target.opt("challenge_account") or "").casefold()
        host = str(target.opt("host") or target.name) if target.type is Platform.LINUX else ""
        return f"{target.type.value}:{host}:{name}"

    @contextlib.contextmanager
    def hold(self, target: Target) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(self.key(target), threading.Lock())
        with lock:
            yield


@frozen
class ChallengeOutcome:
    """A challenge's findings with the steps that back them."""

    spec: ChallengeSpec
    findings: tuple[Finding, ...]
    steps: tuple[Step, ...]


def _params(spec: ChallengeSpec, target: Target) -> dict[str, Any]:
    """Thresholds as for checks: a profile's ``<id>:<name>`` wins over the plain policy name, then the default."""
    return {name: target.policy.get(f"{spec.id}:{name}", target.policy.get(name, default))
            for name, default in spec.params.items()}


def run_challenge(spec: ChallengeSpec, target: Target, *, plan: bool = False,
                  secrets: Iterable[str] = ()) -> ChallengeOutcome:
    """Run (or plan) one challenge on one target, fail closed."""
    ctx = ChallengeContext(target, plan=plan, secrets=secrets)
    resource = target.name
    try:
        findings = tuple(spec.func(ctx, **_params(spec, target)) or ())
    except ChallengeRefused as exc:
        findings = (Finding(Status.ERROR, resource, f"refused: {exc}"),)
    except Exception as exc:  # a broken challenge is an error for this target, with the steps it took
        findings = (Finding(Status.ERROR, resource, f"the challenge raised {type(exc).__name__}: {exc}"),)
    steps = tuple(ctx.steps)
    if plan:
        return ChallengeOutcome(spec, (), steps)
    if not findings:
        findings = (Finding(Status.ERROR, resource, "the challenge gave no result"),)
    return ChallengeOutcome(spec, tuple(_fail_closed(f, steps) for f in findings), steps)


def _fail_closed(finding: Finding, steps: tuple[Step, ...]) -> Finding:
    broken = [s for s in steps if s.cleanup and s.ok is not True]
    if broken:
        by_hand = "; ".join(s.restore_by_hand or s.action for s in broken)
        return replace(finding, status=Status.ERROR,
                       message=f"clean-up failed, restore by hand: {by_hand} (the challenge said: "
                               f"{finding.status.value}, {finding.message})")
    undetermined = [s for s in steps if not s.cleanup and s.ok is None]
    if finding.status is Status.PASS and undetermined:
        return replace(finding, status=Status.ERROR,
                       message=f"step {undetermined[0].n} could not be determined ({undetermined[0].actual}); "
                               f"the challenge would say: pass, {finding.message}")
    return finding

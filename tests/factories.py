"""Small factories for the values checks and reporters work on. Prefer these over mocks."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.model import Evidence, Fact, Platform, Target


def make_fact(name: str, value: Any, raw: str = "", source: str = "test") -> Fact:
    return Fact(name=name, value=value, evidence=(Evidence.of(source, raw or repr(value)),))


def make_target(name: str = "host1", type: str = "linux", policy: dict | None = None, **options: Any) -> Target:
    options.setdefault("connection", "local") if type == "linux" else None
    return Target(name=name, type=Platform(type), options=options, policy=policy or {})


def make_run_info(**overrides: Any):
    from scanner.model import RunInfo, utcnow

    fields = dict(id="20261125T000000Z-abcdef", tool_version="0.1.0", checks_fingerprint="0" * 64,
                  operator="tester@lab", started=utcnow(), inventory="inv.yaml", inventory_sha256="1" * 64)
    return RunInfo(**{**fields, **overrides})


def make_result(check: str = "linux.ssh.root_login", status: str = "pass", severity: str = "high",
                target: str = "host1", resource: str = "sshd", **overrides: Any):
    from scanner.model import Area, Result, Severity, Status, utcnow

    fields = dict(check=check, target=target, target_type="linux", status=Status(status),
                  severity=Severity(severity), area=Area.ACCESS_CONTROL, resource=resource,
                  message=f"{check} is {status}", observed={"PermitRootLogin": "no"},
                  clauses=("part11:11.10(d)", "annex11:12.1", "iso27001-2022:8.5"),
                  evidence=(f"{target}:linux.sshd_effective#0",), at=utcnow(), criterion="root cannot log in")
    return Result(**{**fields, **overrides})


def make_run(results=None, interrupted: bool = False):
    from scanner.model import Run, utcnow

    results = results if results is not None else [make_result(), make_result(status="fail", target="host2")]
    evidence = {e: {"target": r.target, "fact": "linux.sshd_effective", "ok": True, "error": None,
                    "source": "sshd -T", "collected_at": utcnow().isoformat(), "raw": "permitrootlogin no",
                    "sha256": "2" * 64, "truncated": False, "exit_code": 0}
                for r in results for e in r.evidence}
    return Run(make_run_info(ended=utcnow(), interrupted=interrupted), tuple(results), evidence)


def count_calls(monkeypatch: Any, owner: Any, name: str) -> list[int]:
    """Replace ``owner.name`` (a module's function) for the test with one that counts its calls (the recursive ones
    too, as a function calls itself through its module's name): ``[calls so far]``."""
    calls = [0]
    original = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


@dataclass
class FakeClock:
    """``time.monotonic`` and ``time.sleep`` for a poll loop: a sleep only moves the clock, and is recorded."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

"""Small factories for the values checks and reporters work on. Prefer these over mocks."""
from __future__ import annotations

from typing import Any

from scanner.model import Evidence, Fact, Platform, Target


def make_fact(name: str, value: Any, raw: str = "", source: str = "test") -> Fact:
    return Fact(name=name, value=value, evidence=(Evidence.of(source, raw or repr(value)),))


def make_target(name: str = "host1", type: str = "linux", policy: dict | None = None, **options: Any) -> Target:
    options.setdefault("connection", "local") if type == "linux" else None
    return Target(name=name, type=Platform(type), options=options, policy=policy or {})

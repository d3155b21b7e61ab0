"""Small builders of access-review values for tests."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from scanner.access.model import Account, AccountType, Grant, SystemAccess

AT = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def make_account(name: str = "alice", system: str = "host1", **overrides: Any) -> Account:
    values: dict[str, Any] = dict(system=system, platform="linux", name=name, id=f"uid:{1000 + len(name)}",
                                  type=AccountType.PERSON, type_reason="a login shell and a usable password",
                                  enabled=True, locked=False, groups=("users",), evidence=("linux.passwd",))
    values.update(overrides)
    return Account(**values)


def make_grant(privilege: str = "sudo", why: str = "sudo rule 'alice ALL=(ALL) ALL' (/etc/sudoers:3)") -> Grant:
    return Grant(privilege, why, "linux.sudoers")


def make_system(*accounts: Account, system: str = "host1", **overrides: Any) -> SystemAccess:
    values: dict[str, Any] = dict(system=system, platform="linux", collected_at=AT, accounts=accounts)
    values.update(overrides)
    return SystemAccess(**values)

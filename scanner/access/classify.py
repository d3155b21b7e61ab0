"""What kind of account a row is (person, service, shared, built-in), the same way on every platform.

The platform says what it knows (a built-in account, an account software uses); the target's policy says what only
the site knows (``service_accounts``, ``shared_account_patterns`` with ``shared_account_exceptions``). Each answer
carries its reason, for the reviewer.
"""
from __future__ import annotations

import fnmatch

from scanner.access.model import AccountType
from scanner.model import Target

#: generic names that suggest an account several people use (policy ``shared_account_patterns`` replaces them)
DEFAULT_SHARED_PATTERNS = ("shared*", "generic*", "test*", "temp*", "training*", "team*", "dept*", "guest*",
                           "lab*", "user[0-9]*", "admin[0-9]*")


def _listed(name: str, names: object) -> bool:
    return isinstance(names, (list, tuple)) and name.lower() in {str(n).lower() for n in names}


def account_type(target: Target, name: str, *, builtin: str | None = None,
                 service: str | None = None) -> tuple[AccountType, str]:
    """The type of account ``name`` and why. ``builtin``/``service``: the platform's reason to call it so."""
    if builtin:
        return AccountType.BUILTIN, builtin
    if _listed(name, target.policy.get("service_accounts")):
        return AccountType.SERVICE, "listed in policy service_accounts"
    patterns = target.policy.get("shared_account_patterns", DEFAULT_SHARED_PATTERNS)
    if not _listed(name, target.policy.get("shared_account_exceptions")):
        for p in patterns:
            if fnmatch.fnmatchcase(name.lower(), str(p).lower()):
                return AccountType.SHARED, f"name matches shared_account_patterns {p!r}"
    if service:
        return AccountType.SERVICE, service
    return AccountType.PERSON, "a named account not listed as service, shared or built-in"

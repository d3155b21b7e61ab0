"""Which facts an access list needs, per platform, and the pure function that builds it.

Each platform module (``scanner.access.linux``, ``.windows``, ``.directory``, ``.aws``) exposes
``EXTRACTOR = Extractor(facts=..., optional=..., build=...)``; it is imported only when its platform is used.
``system_access`` fails closed: a required fact that is missing or broken makes the whole system ``error`` (a
partial account list would hide exactly the accounts that could not be read); a broken optional fact adds a note.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from scanner.access.model import Account, SystemAccess
from scanner.model import Fact, Platform, Target, utcnow
from scanner.value import frozen

#: the access list module of each platform (code has no accounts: ``iac`` has none)
PLATFORM_EXTRACTORS = {
    Platform.LINUX: "scanner.access.linux",
    Platform.WINDOWS: "scanner.access.windows",
    Platform.LDAP: "scanner.access.directory",
    Platform.AWS: "scanner.access.aws",
}


class Unavailable(Exception):
    """Raised by a build function when a fact it needs only in some cases (a directory's flavour) is missing or
    broken: the system is ``error`` with this message as it is."""


@frozen
class Built:
    accounts: tuple[Account, ...]
    notes: tuple[str, ...] = ()
    flavor: str = ""


@frozen
class Extractor:
    facts: tuple[str, ...]  # required: the list is error without any of them
    build: Callable[[Target, Mapping[str, Fact]], Built]  # only ever called with every required fact ok
    optional: tuple[str, ...] = ()  # used when collected and ok (last logon, MFA, ...), else a note

    @property
    def all_facts(self) -> tuple[str, ...]:
        return self.facts + self.optional


def extractor(platform: Platform) -> Extractor | None:
    name = PLATFORM_EXTRACTORS.get(platform)
    if name is None:
        return None
    try:
        found: Extractor = importlib.import_module(name).EXTRACTOR
    except ModuleNotFoundError as exc:  # a platform whose access module is not installed lists no access
        if exc.name == name:
            return None
        raise
    return found


def system_access(target: Target, facts: Mapping[str, Fact]) -> SystemAccess | None:
    """The target's access list from collected facts; None when its platform has no accounts."""
    ex = extractor(target.type)
    if ex is None:
        return None
    at = utcnow()
    broken = [f"{n}: {facts[n].error or facts[n].inapplicable}" if n in facts else f"{n}: not collected"
              for n in ex.facts if n not in facts or not facts[n].ok]
    if broken:
        return SystemAccess(target.name, target.type.value, at, error="; ".join(broken))
    notes = tuple(f"{n} not available ({facts[n].error or facts[n].inapplicable})" if n in facts
                  else f"{n} not collected" for n in ex.optional if n not in facts or not facts[n].ok)
    try:
        built = ex.build(target, facts)
    except Unavailable as exc:
        return SystemAccess(target.name, target.type.value, at, error=str(exc))
    except Exception as exc:  # fail closed: a raising extractor is an error for the system, never an empty list
        return SystemAccess(target.name, target.type.value, at,
                            error=f"the access list could not be built: {type(exc).__name__}: {exc}")
    return SystemAccess(target.name, target.type.value, at, accounts=built.accounts,
                        notes=notes + built.notes, flavor=built.flavor)

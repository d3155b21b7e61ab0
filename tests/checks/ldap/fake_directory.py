"""An in-memory stand-in for the LDAP challenge probes (scanner/probes/ldap.py), for the fast logic tests of the
directory challenges. It holds one test account (its password, lockout attributes and failure count), a password
policy and an optional access log, answers each probe from that state the way slapd and Samba do, and records
every call with its arguments. The lab tests (tests/checks/ldap/test_challenge_directory.py against slapd,
tests/checks/ad/test_challenge_ad.py against Samba AD) prove the real probes against real servers.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from scanner.challenge import Probe
from scanner.connectors.ldap import Entry
from scanner.model import Target
from scanner.probes import ldap as probes
from scanner.probes.ldap import INVALID_CREDENTIALS, NO_SUCH_ATTRIBUTE, SUCCESS, Directory, Flavor, PlaintextAnswer

#: what the lock attribute reads after a lockout, per flavour
LOCKED = {Flavor.OPENLDAP: ("pwdAccountLockedTime", "20261202040000Z"), Flavor.AD: ("lockoutTime", "133777")}


@dataclass
class FakeDirectory:
    """The directory's state; every field a test may set. ``answers`` overrides a probe by name with a function
    of the same arguments (a probe that raises, or returns junk)."""

    flavor: str | None = "openldap"
    base_dn: str = "dc=lab,dc=test"
    contexts: tuple[str, ...] = ("dc=lab,dc=test",)
    account: str = "uid=gxptest,ou=people,dc=lab,dc=test"
    password: str = "Right-Pw-1234"
    lock_after: int | None = 3  # wrong binds that lock the account; None: never locks
    attrs: dict[str, list[str]] = field(default_factory=dict)  # the account's lockout attributes and values
    logged_by: str = ""  # the reqAuthzID the access log gives the account's changes (default: its DN)
    min_length: int = 12  # the password policy
    history: bool = True
    audited: bool = True  # the access log records every change attempt by the account
    log: list[Entry] = field(default_factory=list)
    answers: dict[str, Callable[..., Any]] = field(default_factory=dict)
    plaintext: tuple[Probe, PlaintextAnswer | None] = (Probe(True, "refused before the credentials were checked"),
                                                       PlaintextAnswer(8, False))
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    failures: int = 0

    def _answer(self, name: str, *args: Any, **kw: Any) -> Any:
        self.calls.append((name, *args, *sorted(kw.items())))
        return self.answers[name](*args, **kw) if name in self.answers else getattr(self, f"_{name}")(*args, **kw)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeDirectory:
        for name in ("directory", "read_entry", "bind", "modify", "change_own_password", "reset_password",
                     "access_log", "anonymous_bind", "anonymous_search", "plaintext_bind"):
            monkeypatch.setattr(probes, name, self._bound(name))
        return self

    def _bound(self, name: str) -> Callable[..., Any]:
        return lambda *a, **kw: self._answer(name, *a, **kw)

    def _flavor(self) -> Flavor:
        return Flavor.AD if self.flavor == Flavor.AD.value else Flavor.OPENLDAP

    # ---- the probes ---------------------------------------------------------------------------------------------
    def _directory(self, target: Target) -> tuple[Probe, Directory | None]:
        return (Probe(True, f"base DN {self.base_dn}, flavour {self.flavor or 'unknown'}"),
                Directory(self.base_dn, self.flavor, self.contexts))

    def _read_entry(self, target: Target, dn: str, attributes: list[str],
                    judge: Callable[[Entry], tuple[bool, str]]) -> tuple[Probe, Entry | None]:
        if dn != self.account:
            return Probe(None, f"{dn} does not exist"), None
        entry = Entry(dn, {a.lower(): [v.encode() for v in self.attrs[a]] for a in attributes if a in self.attrs})
        ok, actual = judge(entry)
        return Probe(ok, actual, sent=f"read {', '.join(attributes)} of {dn}"), entry

    def locked(self) -> bool:
        return bool(self.attrs.get("pwdAccountLockedTime")) or int(self.attrs.get("lockoutTime", ["0"])[0]) > 0

    def _bind(self, target: Target, dn: str, password: str, *, expect: frozenset[int]) -> Probe:
        if dn == self.account and password == self.password and not self.locked():
            code = SUCCESS
        else:
            code = INVALID_CREDENTIALS
            if dn == self.account and password != self.password:
                self.failures += 1
                if self._flavor() is Flavor.OPENLDAP:
                    self.attrs.setdefault("pwdFailureTime", []).append(f"20261202040{self.failures:03d}Z")
                else:
                    self.attrs["badPwdCount"] = [str(self.failures)]
                if self.lock_after is not None and self.failures >= self.lock_after:
                    name, value = LOCKED[self._flavor()]
                    self.attrs[name] = [value]
        return Probe(code in expect, ("bind accepted" if code == SUCCESS else "bind refused") + f": code {code}")

    def _modify(self, target: Target, dn: str, changes: dict[str, list[tuple[str, list[Any]]]], describe: str, *,
                tolerate: frozenset[int] = frozenset()) -> Probe:
        code = SUCCESS
        for attribute, operations in changes.items():
            for operation, values in operations:
                if operation == "MODIFY_DELETE" and attribute not in self.attrs:
                    code = NO_SUCH_ATTRIBUTE
                elif operation == "MODIFY_DELETE":
                    del self.attrs[attribute]
                else:
                    self.attrs[attribute] = [str(v) for v in values]
        if code == SUCCESS:
            self.failures = 0
        ok = code == SUCCESS or code in tolerate
        return Probe(ok, ("done" if ok else "refused") + f": code {code}", sent=describe)

    def _change_own_password(self, target: Target, flavor: Flavor, dn: str, old: str, new: str,
                             describe: str) -> Probe:
        if dn != self.account or old != self.password:
            return Probe(None, "the test account could not bind to try")
        refused = (self.history and new == old) or len(new) < self.min_length
        if self.audited:
            self.log.append(record(f"2026120204{len(self.log):04d}Z", self.logged_by or dn, 19 if refused else 0))
        if refused:
            return Probe(True, f"refused: constraintViolation ({describe})")
        self.password = new
        return Probe(False, f"the change was accepted ({describe})")

    def _reset_password(self, target: Target, flavor: Flavor, dn: str, password: str) -> Probe:
        self.password = password
        return Probe(True, "done")

    def _access_log(self, target: Target, dn: str, since: str) -> tuple[Probe, tuple[Entry, ...] | None]:
        entries = tuple(e for e in self.log if (e.text("reqStart") or "") >= since)
        return (Probe(True, f"{len(entries)} modify records", sent=f"search cn=accesslog for {dn} from {since}",
                      received=" ".join(e.text("reqStart") or "" for e in entries)), entries)

    def _anonymous_bind(self, target: Target) -> Probe:
        return Probe(True, "anonymous bind refused: code 49")

    def _anonymous_search(self, target: Target, base: str) -> Probe:
        return Probe(True, "refused: code 50")

    def _plaintext_bind(self, target: Target, base: str) -> tuple[Probe, PlaintextAnswer | None]:
        return self.plaintext


def record(start: str, by: str, result: int) -> Entry:
    """One access-log record of a modify (the attributes the challenge reads)."""
    return Entry(f"reqStart={start},cn=accesslog", {"reqstart": [start.encode()], "reqtype": [b"extended"],
                                                    "reqresult": [str(result).encode()],
                                                    "reqauthzid": [by.encode()] if by else []})

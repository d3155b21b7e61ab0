"""The verdict logic of the Active Directory signing challenge (checks/ad/challenge_signing.py), without a server.

The probes (scanner/probes/ldap.py: directory, plaintext_bind) are replaced by the in-memory directory of
tests/checks/ldap/fake_directory.py, which records every call with its arguments. The lab tests prove them against
Samba AD domain controllers that require signing and that do not (tests/checks/ad/test_challenge_ad.py) and slapd
(the not-applicable case).
"""
from __future__ import annotations

from typing import Any

import pytest

from checks.ad.challenge_signing import ldap_signing_required
from scanner.challenge import PLANNED, ChallengeContext, Probe, challenge_spec_of, run_challenge
from scanner.model import Platform, Status, Target, error, failed, freeze, not_applicable, passed
from scanner.probes.ldap import PlaintextAnswer
from tests.checks.ldap.fake_directory import FakeDirectory

URL = "ldaps://dc1.ad.lab.test"
BASE = "DC=ad,DC=lab,DC=test"
ROOT_DSE = (f"bind to {URL} with the scan's account and read the root DSE",
            "the base DN and the directory's flavour are read")
UNSIGNED = ("unsigned simple bind on port 389 without TLS as a DN that does not exist, with a made-up password",
            "refused: strongerAuthRequired (8)")


def target(**options: Any) -> Target:
    return Target(name="dc-01", type=Platform.LDAP, options=freeze({"url": URL, **options}), policy=freeze({}))


@pytest.mark.parametrize("answer, finding", [
    ((Probe(True, "refused before the credentials were checked: strongerAuthRequired"), PlaintextAnswer(8, False)),
     passed(URL, "an unsigned bind is refused (refused before the credentials were checked: strongerAuthRequired)",
            result="refused before the credentials were checked: strongerAuthRequired")),
    ((Probe(True, "nothing listens: connection refused"), PlaintextAnswer(None, True)),
     not_applicable(URL, "nothing listens on the cleartext LDAP port (nothing listens: connection refused); no "
                         "unsigned bind is possible", result="nothing listens: connection refused")),
    ((Probe(False, "the server evaluated the cleartext bind: invalidCredentials"), PlaintextAnswer(49, False)),
     failed(URL, "the domain controller does not require signing: an unsigned bind got the server evaluated the "
                 "cleartext bind: invalidCredentials", result="the server evaluated the cleartext bind: "
                                                              "invalidCredentials")),
    # refused before the credentials, but for another reason than signing: not shown
    ((Probe(True, "refused before the credentials were checked: confidentialityRequired"), PlaintextAnswer(13, False)),
     error(URL, "could not show that unsigned binds are refused for want of signing (refused before the credentials "
                "were checked: confidentialityRequired)", result="refused before the credentials were checked: "
                                                                 "confidentialityRequired")),
    ((Probe(None, "could not reach the port: timed out"), None),
     error(URL, "could not show that unsigned binds are refused for want of signing (could not reach the port: "
                "timed out)", result="could not reach the port: timed out")),
    ((Probe(None, "no result code"), PlaintextAnswer(None, False)),
     error(URL, "could not show that unsigned binds are refused for want of signing (no result code)",
           result="no result code")),
])
def test_only_stronger_auth_required_passes(monkeypatch: pytest.MonkeyPatch,
                                            answer: tuple[Probe, PlaintextAnswer | None], finding: Any) -> None:
    d = FakeDirectory(flavor="ad", base_dn=BASE, plaintext=answer).install(monkeypatch)
    tgt = target()
    ctx = ChallengeContext(tgt)
    assert ldap_signing_required(ctx) == [finding]
    assert [(s.action, s.expected, s.ok) for s in ctx.steps] == [(*ROOT_DSE, True), (*UNSIGNED, answer[0].ok)]
    assert d.calls == [("directory", tgt), ("plaintext_bind", tgt, BASE)]


@pytest.mark.parametrize("flavor, message", [
    ("openldap", "applies to Active Directory; this directory is openldap"),
    (None, "applies to Active Directory; this directory is of unknown kind")])
def test_another_directory_is_not_applicable_and_nothing_is_sent(monkeypatch: pytest.MonkeyPatch,
                                                                 flavor: str | None, message: str) -> None:
    d = FakeDirectory(flavor=flavor).install(monkeypatch)
    ctx = ChallengeContext(target())
    assert ldap_signing_required(ctx) == [not_applicable(URL, message, flavor=flavor)]
    assert [c[0] for c in d.calls] == ["directory"]


def test_an_unreadable_root_dse_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeDirectory(answers={"directory": lambda t: (Probe(None, "could not read the root DSE: timed out"), None)}
                  ).install(monkeypatch)
    ctx = ChallengeContext(target())
    assert ldap_signing_required(ctx) == [
        error(URL, f"could not read the root DSE of {URL}: could not read the root DSE: timed out")]


def test_the_signing_challenge_is_planned_without_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    d = FakeDirectory().install(monkeypatch)
    spec = challenge_spec_of(ldap_signing_required)
    assert spec is not None
    out = run_challenge(spec, target(base_dn=BASE), plan=True)
    assert [(s.action, s.expected, s.actual) for s in out.steps] == [(*ROOT_DSE, PLANNED), (*UNSIGNED, PLANNED)]
    assert d.calls == []
    ctx = ChallengeContext(target(), plan=True)
    assert ldap_signing_required(ctx)[0].status is Status.PASS

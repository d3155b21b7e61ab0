"""The verdict logic of the safe LDAP challenges (checks/ldap/challenge_transport.py), without a server.

The probes (scanner/probes/ldap.py: directory, anonymous_bind, anonymous_search, plaintext_bind) are replaced by
the in-memory directory of tests/checks/ldap/fake_directory.py, which records every call with its arguments. The
lab tests prove those probes against real servers: tests/checks/ldap/test_challenge_directory.py (slapd, compliant
and weak) and tests/checks/ad/test_challenge_ad.py (Samba AD).
"""
from __future__ import annotations

from typing import Any

import pytest

from checks.ldap.challenge_transport import anonymous_refused, plaintext_bind_refused
from scanner.challenge import PLANNED, ChallengeContext, Probe, challenge_spec_of, run_challenge
from scanner.model import Platform, Status, Target, error, failed, freeze, passed
from scanner.probes.ldap import PlaintextAnswer
from tests.checks.ldap.fake_directory import FakeDirectory

URL = "ldaps://dir.lab.test"
BASE = "dc=lab,dc=test"
ROOT_DSE = (f"bind to {URL} with the scan's account and read the root DSE",
            "the base DN and the directory's flavour are read")
BIND = (f"anonymous bind to {URL}",
        "refused (Active Directory accepts it by design: then the search must show nothing)")
SEARCH = (f"search under {BASE} without credentials (subtree, at most 5 entries)", "refused, or no entry returned")
PLAIN = ("simple bind without TLS (cleartext port) as a DN that does not exist, with a made-up password",
         "refused before the credentials are checked, or nothing listens")


def target(**options: Any) -> Target:
    return Target(name="dir-01", type=Platform.LDAP, options=freeze({"url": URL, **options}), policy=freeze({}))


def fake(monkeypatch: pytest.MonkeyPatch, **state: Any) -> FakeDirectory:
    return FakeDirectory(**{"base_dn": BASE, **state}).install(monkeypatch)


def steps(ctx: ChallengeContext) -> list[tuple[str, str, bool | None]]:
    return [(s.action, s.expected, s.ok) for s in ctx.steps]


REFUSED = Probe(True, "anonymous bind refused: invalidCredentials")
ACCEPTED = Probe(False, "anonymous bind accepted: success")
EMPTY = Probe(True, "no entry returned")
ANSWERED = Probe(False, "2 entries: uid=a, uid=b")


@pytest.mark.parametrize("bind, search, finding", [
    (REFUSED, EMPTY, passed(URL, "the anonymous bind is refused; an anonymous search returns nothing (no entry "
                             "returned)", bind=REFUSED.actual, search=EMPTY.actual, base_dn=BASE)),
    (ACCEPTED, EMPTY, passed(URL, "the anonymous bind is accepted but gives no access; an anonymous search returns "
                              "nothing (no entry returned)", bind=ACCEPTED.actual, search=EMPTY.actual, base_dn=BASE)),
    (Probe(None, "no answer"), EMPTY, passed(
        URL, "the anonymous bind is accepted but gives no access; an anonymous search returns nothing (no entry "
        "returned)", bind="no answer", search=EMPTY.actual, base_dn=BASE)),
    (ACCEPTED, ANSWERED, failed(URL, f"an anonymous search under {BASE} answered: {ANSWERED.actual}",
                                bind=ACCEPTED.actual, search=ANSWERED.actual, base_dn=BASE)),
    (REFUSED, ANSWERED, failed(URL, f"an anonymous search under {BASE} answered: {ANSWERED.actual}",
                               bind=REFUSED.actual, search=ANSWERED.actual, base_dn=BASE)),
])
def test_anonymous_access_is_judged_by_the_search(monkeypatch: pytest.MonkeyPatch, bind: Probe, search: Probe,
                                                  finding: Any) -> None:
    d = fake(monkeypatch, answers={"anonymous_bind": lambda t: bind, "anonymous_search": lambda t, b: search})
    tgt = target()
    ctx = ChallengeContext(tgt)
    assert anonymous_refused(ctx) == [finding]
    assert steps(ctx) == [(*ROOT_DSE, True), (*BIND, bind.ok), (*SEARCH, search.ok)]
    assert d.calls == [("directory", tgt), ("anonymous_bind", tgt), ("anonymous_search", tgt, BASE)]


def test_an_undetermined_search_is_an_error_after_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, answers={"anonymous_search": lambda t, b: Probe(None, "no answer: reset")})
    spec = challenge_spec_of(anonymous_refused)
    assert spec is not None
    out = run_challenge(spec, target())
    assert [(f.status, f.message.split(";")[0]) for f in out.findings] == [
        (Status.ERROR, "step 3 could not be determined (no answer: reset)")]


@pytest.mark.parametrize("challenge", [anonymous_refused, plaintext_bind_refused])
def test_an_unreadable_root_dse_is_an_error_and_nothing_else_is_sent(monkeypatch: pytest.MonkeyPatch,
                                                                     challenge: Any) -> None:
    d = fake(monkeypatch, answers={"directory": lambda t: (Probe(None, "could not read the root DSE: refused"), None)})
    ctx = ChallengeContext(target(url=""))
    assert challenge(ctx) == [error("dir-01", "could not read the root DSE: could not read the root DSE: refused")]
    assert [c[0] for c in d.calls] == ["directory"] and len(ctx.steps) == 1


@pytest.mark.parametrize("answer, finding", [
    ((Probe(True, "refused before the credentials were checked: confidentialityRequired"), PlaintextAnswer(13, False)),
     passed(URL, "a cleartext simple bind is not possible (refused before the credentials were checked: "
                 "confidentialityRequired)", result="refused before the credentials were checked: "
                                                    "confidentialityRequired")),
    ((Probe(True, "nothing listens: connection refused"), PlaintextAnswer(None, True)),
     passed(URL, "a cleartext simple bind is not possible (nothing listens: connection refused)",
            result="nothing listens: connection refused")),
    ((Probe(False, "the server evaluated the cleartext bind: invalidCredentials"), PlaintextAnswer(49, False)),
     failed(URL, "the server evaluated a cleartext simple bind (the server evaluated the cleartext bind: "
                 "invalidCredentials): passwords can cross the network unencrypted",
            result="the server evaluated the cleartext bind: invalidCredentials")),
    ((Probe(None, "could not reach the port: timed out"), None),
     passed(URL, "a cleartext simple bind is not possible (could not reach the port: timed out)",
            result="could not reach the port: timed out")),
])
def test_a_cleartext_bind_refused_or_evaluated(monkeypatch: pytest.MonkeyPatch,
                                               answer: tuple[Probe, PlaintextAnswer | None], finding: Any) -> None:
    d = fake(monkeypatch, plaintext=answer)
    tgt = target()
    ctx = ChallengeContext(tgt)
    assert plaintext_bind_refused(ctx) == [finding]
    assert steps(ctx) == [(*ROOT_DSE, True), (*PLAIN, answer[0].ok)]
    assert d.calls == [("directory", tgt), ("plaintext_bind", tgt, BASE)]
    if answer[0].ok is None:  # the engine makes a pass on an undetermined step an error
        spec = challenge_spec_of(plaintext_bind_refused)
        assert spec is not None
        assert [f.status for f in run_challenge(spec, tgt).findings] == [Status.ERROR]


def test_the_safe_challenges_are_planned_under_the_inventorys_base_dn(monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(monkeypatch)
    for challenge, expected in ((anonymous_refused, [ROOT_DSE, BIND, SEARCH]),
                                (plaintext_bind_refused, [ROOT_DSE, PLAIN])):
        ctx = ChallengeContext(target(base_dn=BASE), plan=True)
        challenge(ctx)
        assert [(s.action, s.expected, s.actual) for s in ctx.steps] == [(*e, PLANNED) for e in expected]
    assert d.calls == []

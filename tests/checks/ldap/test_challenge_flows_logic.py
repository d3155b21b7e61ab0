"""The verdict logic of the directory challenges' shared steps (checks/ldap/challenge_flows.py), without a server.

The probes the module calls (scanner/probes/ldap.py: directory, read_entry, bind, modify, change_own_password,
reset_password, access_log) are replaced by tests/checks/ldap/fake_directory.py, an in-memory directory that
answers from its state and records every call with its arguments. The lab tests prove those probes against real
servers: tests/checks/ldap/test_challenge_directory.py (slapd with ppolicy and the accesslog overlay) and
tests/checks/ad/test_challenge_ad.py (Samba AD).
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from typing import Any

import pytest

from checks.ldap import challenge_flows as flows
from checks.ldap.challenge_accounts import ldap_password_change
from checks.ldap.challenge_flows import AD_LOCK, OPENLDAP_LOCK
from scanner.challenge import PLANNED, ChallengeContext, Probe, challenge_spec_of, run_challenge
from scanner.connectors.ldap import REFUSAL_CODES
from scanner.model import Platform, Status, Target, error, failed, freeze, not_applicable, passed
from scanner.probes import ldap as probes
from scanner.probes.ldap import INVALID_CREDENTIALS, NO_SUCH_ATTRIBUTE, SUCCESS, Flavor
from tests.checks.ldap.fake_directory import FakeDirectory, record

DN = "uid=gxptest,ou=people,dc=lab,dc=test"
PASSWORD = "Right-Pw-1234"
PW_ENV = "GXP_FLOWS_LOGIC_PW"
URL = "ldaps://dc.lab.test"
NOW = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)
SINCE = "20261201040000Z"  # a day before NOW
StepRow = tuple[str, str, bool | None, bool, str]  # a step's action, expected, ok, cleanup, restore_by_hand
MODELS = {Flavor.OPENLDAP: OPENLDAP_LOCK, Flavor.AD: AD_LOCK}
BY_HAND = {flavor: model.restore_by_hand.format(dn=DN) for flavor, model in MODELS.items()}


@pytest.fixture(autouse=True)
def fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PW_ENV, PASSWORD)
    monkeypatch.setattr(flows, "utcnow", lambda: NOW)


def target(**options: Any) -> Target:
    base = {"url": URL, "bind_dn": "cn=scan,dc=lab,dc=test", "challenge_account": DN, "challenge_password_env": PW_ENV}
    return Target(name="dir-01", type=Platform.LDAP, options=freeze({**base, **options}), policy=freeze({}))


def fake(monkeypatch: pytest.MonkeyPatch, **state: Any) -> FakeDirectory:
    return FakeDirectory(**{"account": DN, "password": PASSWORD, **state}).install(monkeypatch)


def steps(ctx: ChallengeContext) -> list[StepRow]:
    return [(s.action, s.expected, s.ok, s.cleanup, s.restore_by_hand) for s in ctx.steps]


def calls(directory: FakeDirectory) -> list[tuple[Any, ...]]:
    """The probe calls with their arguments (a judge function shown as "fn")."""
    return [tuple("fn" if callable(a) else a for a in c) for c in directory.calls]


def root_dse(ok: bool | None = True) -> StepRow:
    return (f"bind to {URL} with the scan's account and read the root DSE",
            "the base DN and the directory's flavour are read", ok, False, "")


# ---- the wrong password ----------------------------------------------------------------------------------------
# first in the file: a mutant that returns the colliding candidate would otherwise loop for ever in later tests

def test_the_wrong_password_is_never_the_accounts_own(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["a1" * 8, "b2" * 8])
    monkeypatch.setattr(secrets, "token_hex", lambda n: next(tokens) if n == 8 else "bad")
    from scanner.challenge import TestAccount
    assert flows._wrong_password(TestAccount(DN, "gxpscan-wrong-" + "a1" * 8)) == "gxpscan-wrong-" + "b2" * 8


def test_the_wrong_password_is_a_fresh_random_one() -> None:
    from scanner.challenge import TestAccount
    first, second = (flows._wrong_password(TestAccount(DN, PASSWORD)) for _ in range(2))
    assert re.fullmatch("gxpscan-wrong-[0-9a-f]{16}", first) and first != second


# ---- finding the directory and the flavour gate ----------------------------------------------------------------

def test_the_root_dse_step_reads_with_the_targets_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(monkeypatch)
    tgt = target()
    ctx = ChallengeContext(tgt)
    found = flows.find_directory(ctx)
    assert found == probes.Directory("dc=lab,dc=test", "openldap", ("dc=lab,dc=test",))
    assert steps(ctx) == [root_dse()] and ctx.steps[0].actual == "base DN dc=lab,dc=test, flavour openldap"
    assert calls(d) == [("directory", tgt)]


@pytest.mark.parametrize("options, base", [({"base_dn": "dc=plan,dc=test"}, "dc=plan,dc=test"), ({}, "(the base DN)")])
def test_a_planned_root_dse_is_the_inventorys_base_dn_or_a_placeholder(
        monkeypatch: pytest.MonkeyPatch, options: dict[str, str], base: str) -> None:
    d = fake(monkeypatch)
    ctx = ChallengeContext(target(**options), plan=True)
    assert flows.find_directory(ctx) == probes.Directory(base, None)
    assert [(s.action, s.actual, s.planned) for s in ctx.steps] == [(root_dse()[0], PLANNED, True)]
    assert d.calls == []


def test_the_url_is_the_targets_url_or_its_name() -> None:
    assert flows.url(ChallengeContext(target())) == URL
    assert flows.url(ChallengeContext(target(url=""))) == "dir-01"


@pytest.mark.parametrize("flavor, found, message", [
    (Flavor.OPENLDAP, "ad", "applies to OpenLDAP; this directory is ad"),
    (Flavor.AD, "openldap", "applies to Active Directory; this directory is openldap"),
    (Flavor.AD, None, "applies to Active Directory; this directory is of unknown kind"),
])
def test_a_directory_of_another_flavour_is_not_applicable(
        flavor: Flavor, found: str | None, message: str) -> None:
    ctx = ChallengeContext(target())
    got = flows.gate(ctx, probes.Directory("dc=x", found), flavor, "res")
    assert got == not_applicable("res", message, flavor=found)


@pytest.mark.parametrize("flavor, found", [(Flavor.OPENLDAP, "openldap"), (Flavor.OPENLDAP, None), (Flavor.AD, "ad")])
def test_a_directory_of_the_flavour_passes_the_gate(flavor: Flavor, found: str | None) -> None:
    assert flows.gate(ChallengeContext(target()), probes.Directory("dc=x", found), flavor, "res") is None


def test_a_planned_directory_of_unknown_flavour_passes_every_gate() -> None:
    ctx = ChallengeContext(target(), plan=True)
    assert [flows.gate(ctx, probes.Directory("dc=x", None), f, "res") for f in Flavor] == [None, None]


@pytest.mark.parametrize("challenge", ["lockout", "password_change"])
def test_an_unreadable_root_dse_is_an_error_naming_why(monkeypatch: pytest.MonkeyPatch, challenge: str) -> None:
    fake(monkeypatch, answers={"directory": lambda t: (Probe(None, "could not read the root DSE: timed out"), None)})
    ctx = ChallengeContext(target())
    got = (flows.lockout(ctx, OPENLDAP_LOCK, 3) if challenge == "lockout"
           else flows.password_change(ctx, Flavor.OPENLDAP, 12))
    assert got == [error(DN, f"could not read the root DSE of {URL}: could not read the root DSE: timed out")]
    assert steps(ctx) == [root_dse(None)]


@pytest.mark.parametrize("flavor", list(Flavor))
def test_the_intrusive_challenges_on_another_flavour_touch_nothing(monkeypatch: pytest.MonkeyPatch,
                                                                    flavor: Flavor) -> None:
    other = "openldap" if flavor is Flavor.AD else "ad"
    d = fake(monkeypatch, flavor=other)
    lockout, change = ChallengeContext(target()), ChallengeContext(target())
    for ctx, findings in ((lockout, flows.lockout(lockout, MODELS[flavor], 3)),
                          (change, flows.password_change(change, flavor, 12))):
        assert [(f.status, f.resource) for f in findings] == [(Status.NOT_APPLICABLE, DN)] and len(ctx.steps) == 1
    assert [c[0] for c in d.calls] == ["directory", "directory"]


# ---- lockout ---------------------------------------------------------------------------------------------------

def read(flavor: Flavor, expected: str, ok: bool | None, cleanup: bool = False) -> StepRow:
    names = ", ".join(MODELS[flavor].attributes)
    return (f"read {names} of {DN} with the scan's account", expected, ok, cleanup, BY_HAND[flavor] if cleanup else "")


def wrong(i: int, n: int, ok: bool | None = True) -> StepRow:
    return (f"simple bind as {DN} with a wrong password (attempt {i} of {n})", "refused: invalidCredentials (49)",
            ok, False, "")


def right(ok: bool | None) -> StepRow:
    return (f"simple bind as {DN} with its right password", "refused: the account is locked", ok, False, "")


def restore(flavor: Flavor, unlocked: bool | None = True, read_ok: bool | None = True,
            bind_ok: bool | None = True) -> list[StepRow]:
    model = MODELS[flavor]
    return [(f"as the scan's account: {model.unlock_text} on {DN}", "the account is unlocked", unlocked, True,
             BY_HAND[flavor]),
            read(flavor, "the test account is not locked", read_ok, cleanup=True),
            (f"simple bind as {DN} with its right password", "accepted: the account works again", bind_ok, True,
             BY_HAND[flavor])]


def test_the_lock_models_name_their_attributes_and_unlock() -> None:
    assert OPENLDAP_LOCK.unlock_text == "delete pwdAccountLockedTime" and AD_LOCK.unlock_text == "set lockoutTime to 0"
    assert BY_HAND[Flavor.OPENLDAP] == ("as the directory administrator: ldapmodify 'dn: " + DN + "' 'changetype: "
                                        "modify' 'delete: pwdAccountLockedTime'")
    assert BY_HAND[Flavor.AD].startswith(f"unlock {DN} as a domain administrator: set lockoutTime to 0")


LOCKED_AFTER = {
    Flavor.OPENLDAP: ("pwdAccountLockedTime is set", "locked: pwdAccountLockedTime=20261202040000Z; "
                      "pwdFailureTime=20261202040001Z,20261202040002Z,20261202040003Z",
                      "not locked: pwdFailureTime=20261202040001Z,20261202040002Z,20261202040003Z"),
    Flavor.AD: ("lockoutTime is greater than 0", "locked: lockoutTime=133777; badPwdCount=3",
                "not locked: lockoutTime=0; badPwdCount=3"),
}


@pytest.mark.parametrize("flavor", list(Flavor))
def test_a_lockout_after_the_threshold_passes_and_is_undone(monkeypatch: pytest.MonkeyPatch, flavor: Flavor) -> None:
    d = fake(monkeypatch, flavor=flavor.value, lock_after=3)
    tgt = target()
    ctx = ChallengeContext(tgt)
    text, lock_state, after = LOCKED_AFTER[flavor]
    assert flows.lockout(ctx, MODELS[flavor], 3) == [passed(
        DN, f"locked after 3 wrong passwords: the right password is refused and {text}", wrong_attempts=3,
        lockout_threshold=3, right_password_bind="bind refused: code 49", lock_state=lock_state)]
    assert steps(ctx) == [root_dse(), read(flavor, "the test account is not locked", True),
                          *[wrong(i, 3) for i in (1, 2, 3)], right(True), read(flavor, text, True), *restore(flavor)]
    assert [s.actual for s in ctx.steps[1:]] == [
        "not locked: none set", *["bind refused: code 49"] * 4, lock_state,
        f"done: code {SUCCESS}", after, "bind accepted: code 0"]
    attributes = list(MODELS[flavor].attributes)
    wrong_password = d.calls[2][3]
    assert re.fullmatch("gxpscan-wrong-[0-9a-f]{16}", wrong_password)
    assert calls(d) == [
        ("directory", tgt), ("read_entry", tgt, DN, attributes, "fn"),
        *[("bind", tgt, DN, wrong_password, ("expect", frozenset({INVALID_CREDENTIALS})))] * 3,
        ("bind", tgt, DN, PASSWORD, ("expect", flows.BIND_REFUSED)), ("read_entry", tgt, DN, attributes, "fn"),
        ("modify", tgt, DN, MODELS[flavor].unlock, f"{MODELS[flavor].unlock_text} on {DN}",
         ("tolerate", MODELS[flavor].unlock_tolerate)),
        ("read_entry", tgt, DN, attributes, "fn"), ("bind", tgt, DN, PASSWORD, ("expect", frozenset({SUCCESS})))]
    assert not d.locked()


def test_every_refusal_code_counts_as_the_right_password_refused() -> None:
    assert flows.BIND_REFUSED == frozenset({INVALID_CREDENTIALS, *REFUSAL_CODES})
    assert flows.FLAVOR_NAMES == {Flavor.OPENLDAP: "OpenLDAP", Flavor.AD: "Active Directory"}


@pytest.mark.parametrize("flavor, unlocked", [(Flavor.OPENLDAP, f"done: code {NO_SUCH_ATTRIBUTE}"),
                                              (Flavor.AD, f"done: code {SUCCESS}")])
def test_no_lockout_fails_and_the_unlock_tolerates_nothing_to_remove(
        monkeypatch: pytest.MonkeyPatch, flavor: Flavor, unlocked: str) -> None:
    d = fake(monkeypatch, flavor=flavor.value, lock_after=None)
    ctx = ChallengeContext(target())
    assert flows.lockout(ctx, MODELS[flavor], 2) == [failed(
        DN, "the test account still binds with its password after 2 wrong passwords: no lockout", wrong_attempts=2,
        lockout_threshold=2, right_password_bind="bind accepted: code 0")]
    assert steps(ctx) == [root_dse(), read(flavor, "the test account is not locked", True), wrong(1, 2), wrong(2, 2),
                          right(False), *restore(flavor)]
    assert ctx.steps[-3].actual == unlocked
    assert d.failures == (2 if flavor is Flavor.OPENLDAP else 0)


def test_a_threshold_of_one_is_one_wrong_bind(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, lock_after=1)
    ctx = ChallengeContext(target())
    (finding,) = flows.lockout(ctx, OPENLDAP_LOCK, 1)
    assert finding.status is Status.PASS and finding.observed["wrong_attempts"] == 1
    assert steps(ctx)[2:4] == [wrong(1, 1), right(True)]


@pytest.mark.parametrize("threshold", [0, -1])
def test_a_threshold_below_one_is_an_error_and_nothing_is_tried(monkeypatch: pytest.MonkeyPatch,
                                                                 threshold: int) -> None:
    d = fake(monkeypatch)
    ctx = ChallengeContext(target())
    assert flows.lockout(ctx, OPENLDAP_LOCK, threshold) == [
        error(DN, f"lockout_threshold {threshold} is not a number of attempts")]
    assert steps(ctx) == [root_dse()] and [c[0] for c in d.calls] == ["directory"]


def test_an_account_already_locked_is_not_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    failures = [f"20261202030{i:03d}.123456Z" for i in range(12)]  # more than 200 characters of them
    d = fake(monkeypatch, attrs={"pwdAccountLockedTime": ["20261202030000Z"], "pwdFailureTime": failures})
    ctx = ChallengeContext(target())
    state = f"locked: pwdAccountLockedTime=20261202030000Z; pwdFailureTime={','.join(failures)[:200]}"
    assert flows.lockout(ctx, OPENLDAP_LOCK, 3) == [
        error(DN, f"the test account is already locked; nothing was tried ({state})")]
    assert steps(ctx) == [root_dse(), read(Flavor.OPENLDAP, "the test account is not locked", False)]
    assert [c[0] for c in d.calls] == ["directory", "read_entry"] and d.failures == 0


def test_an_unreadable_account_is_an_error_and_nothing_is_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(monkeypatch, account="uid=other,dc=lab,dc=test")
    ctx = ChallengeContext(target())
    assert flows.lockout(ctx, OPENLDAP_LOCK, 3) == [
        error(DN, f"the test account could not be read ({DN} does not exist)")]
    assert len(ctx.steps) == 2 and [c[0] for c in d.calls] == ["directory", "read_entry"]


def _nth_bind(n: int, answer: Probe) -> Any:
    count = {"binds": 0}

    def bind(t: Target, dn: str, password: str, *, expect: frozenset[int]) -> Probe:
        count["binds"] += 1
        return answer if count["binds"] == n else Probe(INVALID_CREDENTIALS in expect, "bind refused: code 49")

    return bind


@pytest.mark.parametrize("answer", [Probe(None, "no answer: timed out"), Probe(False, "bind accepted: code 0")])
def test_a_wrong_bind_without_invalid_credentials_stops_the_attempts(monkeypatch: pytest.MonkeyPatch,
                                                                     answer: Probe) -> None:
    fake(monkeypatch, answers={"bind": _nth_bind(2, answer)})
    ctx = ChallengeContext(target())
    assert flows.lockout(ctx, OPENLDAP_LOCK, 4) == [error(
        DN, f"wrong bind 2 did not give invalidCredentials ({answer.actual}); the lockout was not tested", attempts=2)]
    assert steps(ctx)[2:4] == [wrong(1, 4), wrong(2, 4, answer.ok)] and len(ctx.steps) == 7
    assert [s.cleanup for s in ctx.steps[4:]] == [True, True, True]


def test_a_refused_right_password_without_a_recorded_lock_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The directory holds another password for the account: the right-password bind is refused for that."""
    fake(monkeypatch, password="Another-Pw-999", lock_after=None)
    ctx = ChallengeContext(target())
    lock_state = "not locked: pwdFailureTime=20261202040001Z,20261202040002Z,20261202040003Z"
    assert flows.lockout(ctx, OPENLDAP_LOCK, 2) == [error(
        DN, f"the right password was refused but the directory records no lockout ({lock_state}); the refusal has "
        "another cause", wrong_attempts=2, lockout_threshold=2, right_password_bind="bind refused: code 49",
        lock_state=lock_state)]
    assert steps(ctx)[4:6] == [right(True), read(Flavor.OPENLDAP, "pwdAccountLockedTime is set", False)]


def test_an_undetermined_right_password_bind_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, lock_after=2, answers={"bind": _nth_bind(3, Probe(None, "no answer: reset"))})
    ctx = ChallengeContext(target())
    assert flows.lockout(ctx, OPENLDAP_LOCK, 2) == [error(
        DN, "the lockout could not be determined", wrong_attempts=2, lockout_threshold=2,
        right_password_bind="no answer: reset", lock_state="not locked: none set")]
    assert steps(ctx)[4] == right(None)


def test_an_unreadable_lock_state_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(monkeypatch, lock_after=2)
    reads = {"n": 0}

    def read_entry(t: Target, dn: str, attributes: list[str], judge: Any) -> Any:
        reads["n"] += 1
        return (Probe(None, "could not read: busy"), None) if reads["n"] == 2 else d._read_entry(t, dn, attributes,
                                                                                                 judge)

    d.answers["read_entry"] = read_entry
    ctx = ChallengeContext(target())
    assert flows.lockout(ctx, OPENLDAP_LOCK, 2) == [error(
        DN, "the lockout could not be determined", wrong_attempts=2, lockout_threshold=2,
        right_password_bind="bind refused: code 49", lock_state="could not read: busy")]


def test_a_lockout_is_undone_even_when_a_probe_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    """A probe that raises is an undetermined step (the context), and the clean-up steps still run."""
    def boom(*a: Any, **kw: Any) -> Any:
        raise OSError("connection reset")

    fake(monkeypatch, lock_after=2, answers={"bind": boom})
    ctx = ChallengeContext(target())
    (finding,) = flows.lockout(ctx, OPENLDAP_LOCK, 2)
    assert finding.status is Status.ERROR and "wrong bind 1 did not give invalidCredentials (could not run: " \
        "OSError: connection reset)" in finding.message
    assert [s.cleanup for s in ctx.steps] == [False, False, False, True, True, True]


def test_a_planned_lockout_lists_every_step() -> None:
    ctx = ChallengeContext(target(), plan=True)
    flows.lockout(ctx, AD_LOCK, 2)
    assert [(a, e, c, b) for a, e, _, c, b in steps(ctx)] == [
        (a, e, c, b) for a, e, _, c, b in [root_dse(), read(Flavor.AD, "the test account is not locked", None),
                                           wrong(1, 2), wrong(2, 2), right(None),
                                           read(Flavor.AD, "lockoutTime is greater than 0", None),
                                           *restore(Flavor.AD)]]
    assert {s.actual for s in ctx.steps} == {PLANNED}


# ---- password changes ------------------------------------------------------------------------------------------

def log_step(expected: str, ok: bool | None = True) -> StepRow:
    return (f"read the access log (cn=accesslog) for modify requests on {DN} with the scan's account", expected, ok,
            False, "")


def reuse(ok: bool | None) -> StepRow:
    return (f"as {DN}: change its own password to its current password", "refused: the password is in the history",
            ok, False, "")


def short(n: int, policy: int, ok: bool | None) -> StepRow:
    return (f"as {DN}: change its own password to one of {n} characters (the policy asks for {policy})",
            "refused: the password is too short", ok, False, "")


def rebind(flavor: Flavor, ok: bool | None = True) -> StepRow:
    return (f"simple bind as {DN} with its original password", "accepted: the password is unchanged", ok, True,
            flows.RESTORE_PASSWORD[flavor].format(dn=DN))


def reset(flavor: Flavor, ok: bool | None = True) -> StepRow:
    return (f"as the scan's account: set the password of {DN} back to the original", "done", ok, True,
            flows.RESTORE_PASSWORD[flavor].format(dn=DN))


AUDITED = ("dc=lab,dc=test", "CN= AccessLog")  # the root DSE's spelling of the accesslog context varies


def test_the_short_password_has_every_character_class_and_the_length() -> None:
    assert [flows.short_password(n) for n in (1, 4, 5)] == ["G", "Gx9!", "Gx9!q"]
    assert flows.short_password(40) == ("Gx9!" + "qwertzuiopasdfghjklyxcvbnm" * 2)[:40]
    assert len(flows.short_password(300)) == 4 + 26 * 8  # the longest it makes


def test_refused_changes_appear_in_the_access_log_and_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    earlier = record("20261202030000Z", DN, 0)  # a change before the challenge: not one of its attempts
    d = fake(monkeypatch, contexts=AUDITED, log=[earlier], logged_by=DN.upper())
    tgt = target()
    ctx = ChallengeContext(tgt)
    new = "20261202040001Z result 19, 20261202040002Z result 19"
    assert flows.password_change(ctx, Flavor.OPENLDAP, 12) == [
        passed(DN, "the directory refused both the reuse of the current password and a password shorter than 12 "
               "characters", reuse="refused: constraintViolation (its current password)", password_min_length=12,
               short="refused: constraintViolation (11 characters)"),
        passed(f"access log of {URL}", f"the 2 password change attempts appear in the access log (2 new modify "
               f"records by the test account: {new})", access_log=f"2 new modify records by the test account: {new}")]
    assert steps(ctx) == [root_dse(), log_step("read (the records before the attempts)"), reuse(True),
                          short(11, 12, True), log_step("2 new records by the test account, with their results"),
                          rebind(Flavor.OPENLDAP)]
    assert ctx.steps[1].actual == "1 modify records"
    assert (ctx.steps[4].sent, ctx.steps[4].received) == (
        f"search cn=accesslog for {DN} from {SINCE}", "20261202030000Z 20261202040001Z 20261202040002Z")
    assert calls(d) == [
        ("directory", tgt), ("access_log", tgt, DN, SINCE),
        ("change_own_password", tgt, Flavor.OPENLDAP, DN, PASSWORD, PASSWORD, "its current password"),
        ("change_own_password", tgt, Flavor.OPENLDAP, DN, PASSWORD, "Gx9!qwertzu", "11 characters"),
        ("access_log", tgt, DN, SINCE), ("bind", tgt, DN, PASSWORD, ("expect", frozenset({SUCCESS})))]


@pytest.mark.parametrize("logged_by, audited, seen", [
    ("cn=admin,dc=lab,dc=test", True, "0 new modify records by the test account: none"),  # another account's
    ("", False, "0 new modify records by the test account: none"),  # nothing logged
])
def test_attempts_missing_from_the_access_log_fail(monkeypatch: pytest.MonkeyPatch, logged_by: str, audited: bool,
                                                   seen: str) -> None:
    fake(monkeypatch, contexts=AUDITED, logged_by=logged_by, audited=audited,
         log=[record("20261202030000Z", "", 0)])  # a record without reqAuthzID
    ctx = ChallengeContext(target())
    assert flows.password_change(ctx, Flavor.OPENLDAP, 12)[1] == failed(
        f"access log of {URL}", f"not every password change attempt appears in the access log ({seen})",
        access_log=seen)
    assert ctx.steps[4].ok is False


def test_one_logged_attempt_of_two_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(monkeypatch, contexts=AUDITED)
    change = d._change_own_password
    d.answers["change_own_password"] = lambda t, f, dn, old, new, what: (
        change(t, f, dn, old, new, what) if new == old else Probe(True, "refused: constraintViolation"))
    ctx = ChallengeContext(target())
    assert flows.password_change(ctx, Flavor.OPENLDAP, 12)[1].message == (
        "not every password change attempt appears in the access log (1 new modify records by the test account: "
        "20261202040000Z result 19)")


def _nth_log(n: int, answer: tuple[Probe, Any], d: FakeDirectory) -> Any:
    count = {"reads": 0}

    def access_log(t: Target, dn: str, since: str) -> Any:
        count["reads"] += 1
        return answer if count["reads"] == n else d._access_log(t, dn, since)

    return access_log


@pytest.mark.parametrize("n, seen", [
    (1, "could not read the access log: busy; 2 new modify records by the test account: 20261202040000Z result 19, "
        "20261202040001Z result 19"),
    (2, "1 modify records; could not read the access log: busy"),
])
def test_an_unreadable_access_log_is_an_error(monkeypatch: pytest.MonkeyPatch, n: int, seen: str) -> None:
    d = fake(monkeypatch, contexts=AUDITED, log=[record("20261202030000Z", DN, 0)] if n == 2 else [])
    d.answers["access_log"] = _nth_log(n, (Probe(None, "could not read the access log: busy"), None), d)
    ctx = ChallengeContext(target())
    finding = flows.password_change(ctx, Flavor.OPENLDAP, 12)[1]
    assert (finding.status, finding.message) == (Status.ERROR, f"the access log could not be read ({seen})")


def test_access_log_records_before_the_attempts_are_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two records by the test account exist before the attempts; the challenge's two are refused but not logged."""
    before = [record("20261202030000Z", DN, 19), record("20261202030001Z", DN, 19)]
    fake(monkeypatch, contexts=AUDITED, log=before, audited=False)
    ctx = ChallengeContext(target())
    assert flows.password_change(ctx, Flavor.OPENLDAP, 12)[1].status is Status.FAIL


@pytest.mark.parametrize("flavor, contexts", [(Flavor.OPENLDAP, ("dc=lab,dc=test",)), (Flavor.AD, AUDITED)])
def test_without_an_access_log_over_ldap_the_audit_is_not_applicable(
        monkeypatch: pytest.MonkeyPatch, flavor: Flavor, contexts: tuple[str, ...]) -> None:
    d = fake(monkeypatch, flavor=flavor.value, contexts=contexts)
    ctx = ChallengeContext(target())
    findings = flows.password_change(ctx, flavor, 12)
    assert findings[0].status is Status.PASS
    assert findings[1] == not_applicable(f"access log of {URL}", flows.NO_AUDIT_LOG[flavor])
    assert steps(ctx) == [root_dse(), reuse(True), short(11, 12, True), rebind(flavor)]
    assert [c[2] for c in d.calls if c[0] == "change_own_password"] == [flavor, flavor]


def test_the_audit_log_reasons_name_where_the_attempts_are_recorded() -> None:
    assert flows.NO_AUDIT_LOG[Flavor.OPENLDAP].startswith("the directory serves no cn=accesslog naming context")
    assert "(event 4723)" in flows.NO_AUDIT_LOG[Flavor.AD]


@pytest.mark.parametrize("flavor", list(Flavor))
@pytest.mark.parametrize("history, min_length, accepted, reset_done", [
    (False, 4, "its current password and to a password of 11 characters", True),
    (True, 4, "a password of 11 characters", True),
    (False, 12, "its current password", False),
])
def test_an_accepted_change_fails_and_the_password_is_restored(
        monkeypatch: pytest.MonkeyPatch, flavor: Flavor, history: bool, min_length: int, accepted: str,
        reset_done: bool) -> None:
    d = fake(monkeypatch, flavor=flavor.value, history=history, min_length=min_length, contexts=("dc=lab,dc=test",))
    tgt = target()
    ctx = ChallengeContext(tgt)
    (finding, _) = flows.password_change(ctx, flavor, 12)
    assert (finding.status, finding.message) == (Status.FAIL, f"the directory accepted a password change to {accepted}")
    assert steps(ctx)[-2:] == ([reset(flavor), rebind(flavor)] if reset_done else [short(11, 12, True), rebind(flavor)])
    assert d.password == PASSWORD
    assert (("reset_password", tgt, flavor, DN, PASSWORD) in d.calls) is reset_done


def test_an_undetermined_short_change_is_restored_and_the_engine_makes_it_an_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    d = fake(monkeypatch, contexts=("dc=lab,dc=test",))
    change = d._change_own_password
    d.answers["change_own_password"] = lambda t, f, dn, old, new, what: (
        change(t, f, dn, old, new, what) if new == old else Probe(None, "unexpected answer: busy"))
    ctx = ChallengeContext(target())
    assert flows.password_change(ctx, Flavor.OPENLDAP, 12)[0] == passed(
        DN, "the directory refused both the reuse of the current password and a password shorter than 12 characters",
        reuse="refused: constraintViolation (its current password)", password_min_length=12,
        short="unexpected answer: busy")
    assert steps(ctx)[-2:] == [reset(Flavor.OPENLDAP), rebind(Flavor.OPENLDAP)]
    spec = challenge_spec_of(ldap_password_change)
    assert spec is not None
    out = run_challenge(spec, target())
    assert [f.status for f in out.findings] == [Status.ERROR, Status.NOT_APPLICABLE]
    assert out.findings[0].message.startswith("step 3 could not be determined (unexpected answer: busy)")


def test_a_password_as_short_as_the_probe_is_tried_once(monkeypatch: pytest.MonkeyPatch) -> None:
    own = "Gx9!qwertzu"  # the account's password is exactly the short password the probe would try
    monkeypatch.setenv(PW_ENV, own)
    d = fake(monkeypatch, password=own, contexts=AUDITED)
    ctx = ChallengeContext(target())
    findings = flows.password_change(ctx, Flavor.OPENLDAP, 12)
    assert findings[0] == passed(
        DN, "the directory refused both the reuse of the current password and a password shorter than 12 characters",
        reuse="refused: constraintViolation (its current password)", password_min_length=12, short="not tried")
    assert findings[1].message.startswith("the 1 password change attempts appear in the access log")
    assert steps(ctx)[2:] == [reuse(True), log_step("1 new records by the test account, with their results"),
                              rebind(Flavor.OPENLDAP)]
    assert d.password == own


@pytest.mark.parametrize("min_length, status", [(1, Status.NOT_APPLICABLE), (0, Status.NOT_APPLICABLE),
                                                (2, Status.PASS)])
def test_a_minimum_length_below_two_leaves_no_shorter_password(monkeypatch: pytest.MonkeyPatch, min_length: int,
                                                               status: Status) -> None:
    d = fake(monkeypatch, min_length=2, contexts=("dc=lab,dc=test",))
    ctx = ChallengeContext(target())
    findings = flows.password_change(ctx, Flavor.OPENLDAP, min_length)
    assert findings[0].status is status
    if status is Status.NOT_APPLICABLE:
        assert findings == [not_applicable(DN, f"password_min_length {min_length}: no shorter password to try")]
        assert [c[0] for c in d.calls] == ["directory"]
    else:
        assert steps(ctx)[2] == short(1, 2, True)
        assert findings[0].observed["short"] == "refused: constraintViolation (1 characters)"


def test_a_planned_password_change_lists_the_audit_steps() -> None:
    ctx = ChallengeContext(target(), plan=True)
    flows.password_change(ctx, Flavor.OPENLDAP, 12)
    assert [s.action for s in ctx.steps] == [s[0] for s in [
        root_dse(), log_step(""), reuse(None), short(11, 12, None), log_step(""), rebind(Flavor.OPENLDAP)]]
    ctx = ChallengeContext(target(), plan=True)
    flows.password_change(ctx, Flavor.AD, 12)
    assert len(ctx.steps) == 4


def test_the_has_access_log_reads_the_contexts() -> None:
    ctx = ChallengeContext(target())
    assert flows._has_access_log(ctx, probes.Directory("dc=x", "openldap", ("cn=accesslog",)))
    assert not flows._has_access_log(ctx, probes.Directory("dc=x", "openldap", ("cn=access,cn=log",)))
    assert not flows._has_access_log(ctx, None)


"""The challenge model: decorator, step recording, plan mode without I/O, fail-closed verdicts, the test account."""
from __future__ import annotations

import hashlib

import pytest

from scanner.challenge import (
    PLANNED,
    ChallengeContext,
    ChallengeRefused,
    Impact,
    Probe,
    challenge,
    challenge_spec_of,
    run_challenge,
)
from scanner.model import Platform, Status, failed, passed
from tests.factories import make_target


def spec(func):
    return challenge_spec_of(func)


def _lockout(ctx: ChallengeContext, *, lockout_threshold: int = 3, unlock_ok: bool = True, locked: bool = True):
    """A model intrusive challenge: N wrong logons, check locked, unlock (clean-up)."""
    account = ctx.test_account()
    for i in range(lockout_threshold):
        ctx.step(f"log on as {account.name} with a wrong password ({i + 1})", "refused",
                 lambda: Probe(True, "refused", sent=f"user={account.name}", received="denied"))
    seen = ctx.step(f"log on as {account.name} with the right password", "refused: locked",
                    lambda: Probe(locked, "locked" if locked else "logged on"))
    try:
        return [passed(account.name, "locked") if seen.ok else failed(account.name, "not locked")]
    finally:
        ctx.step(f"unlock {account.name}", "unlocked", lambda: Probe(unlock_ok, "unlocked" if unlock_ok else "denied"),
                 cleanup=True, restore_by_hand=f"faillock --user {account.name} --reset")


lockout = challenge(id="linux.challenge.lockout_model", title="t", severity="high", area="access_control",
                    criterion="c", impact="intrusive")(_lockout)


def target(**opts):
    base = {"user": "scanner", "challenge_account": "gxptest", "challenge_password_env": "GXP_TEST_CHALLENGE_PW"}
    return make_target("h1", policy=opts.pop("policy", {}), **{**base, **opts})


@pytest.fixture(autouse=True)
def password(monkeypatch):
    monkeypatch.setenv("GXP_TEST_CHALLENGE_PW", "s3cret-Challenge-Pw")


def test_the_decorator_reads_impact_platform_and_thresholds():
    s = spec(lockout)
    assert (s.id, s.impact, s.platforms, dict(s.params)) == (
        "linux.challenge.lockout_model", Impact.INTRUSIVE, frozenset({Platform.LINUX}),
        {"lockout_threshold": 3, "unlock_ok": True, "locked": True})
    assert Impact.INTRUSIVE.allows(Impact.SAFE) and not Impact.SAFE.allows(Impact.INTRUSIVE)


@pytest.mark.parametrize("cid, bad", [("x.challenge.y", lambda: None), ("x.challenge.y", lambda ctx, n: None),
                                      ("x.y", lambda ctx: None)])
def test_a_malformed_challenge_is_refused_at_load(cid, bad):
    with pytest.raises(TypeError, match=f"challenge {cid}: "):
        challenge(id=cid, title="t", severity="low", area="access_control", criterion="c", impact="safe",
                  platforms=["linux"])(bad)


def test_steps_are_recorded_with_hashes_and_the_policy_threshold_applies():
    out = run_challenge(spec(lockout), target(policy={"lockout_threshold": 5}))
    assert [f.status for f in out.findings] == [Status.PASS]
    assert len(out.steps) == 7 and [s.cleanup for s in out.steps] == [False] * 6 + [True]
    first = out.steps[0]
    assert (first.n, first.ok, first.sent, first.received, first.verdict) == (1, True, "user=gxptest", "denied", "met")
    assert first.sent_sha256 == hashlib.sha256(b"user=gxptest").hexdigest()


def test_plan_mode_calls_no_probe_and_lists_the_expected_path():
    def boom() -> Probe:
        raise AssertionError("a probe ran in plan mode")

    @challenge(id="linux.challenge.plan_model", title="t", severity="low", area="encryption", criterion="c",
               impact="safe")
    def planned(ctx):
        ctx.step("offer only 3des-cbc", "the server refuses", boom)
        return [passed("sshd", "refused")]

    out = run_challenge(spec(planned), target(), plan=True)
    assert out.findings == () and [(s.action, s.actual, s.planned, s.verdict) for s in out.steps] == [
        ("offer only 3des-cbc", PLANNED, True, "planned")]
    assert len(run_challenge(spec(lockout), target(challenge_password_env=None), plan=True).steps) == 5


@pytest.mark.parametrize("kw, status, message", [
    ({"unlock_ok": False}, Status.ERROR, "clean-up failed, restore by hand: faillock --user gxptest --reset"),
    ({"locked": False}, Status.FAIL, "not locked"),
    ({"locked": None}, Status.FAIL, "not locked"),
])
def test_verdicts_fail_closed(kw, status, message):
    out = run_challenge(spec(lockout), target(policy=kw))
    assert out.findings[0].status is status and out.findings[0].message.startswith(message)


def test_an_undetermined_step_never_passes_and_a_raising_probe_is_recorded():
    @challenge(id="linux.challenge.raise_model", title="t", severity="low", area="encryption", criterion="c",
               impact="safe")
    def raising(ctx):
        def probe() -> Probe:
            raise ConnectionResetError("reset by peer")
        ctx.step("offer only hmac-md5", "refused", probe)
        return [passed("sshd", "refused")]

    out = run_challenge(spec(raising), target())
    assert out.findings[0].status is Status.ERROR
    assert out.steps[0].actual == "could not run: ConnectionResetError: reset by peer"
    assert out.findings[0].message.startswith("step 1 could not be determined")


@pytest.mark.parametrize("opts, reason", [
    ({"challenge_account": None}, "names no challenge_account"),
    ({"challenge_account": "Scanner"}, "is the account the scan logs in with"),
    ({"challenge_password_env": "GXP_TEST_UNSET_VAR"}, "GXP_TEST_UNSET_VAR"),
])
def test_the_test_account_is_refused_when_missing_or_the_scans_own(opts, reason):
    out = run_challenge(spec(lockout), target(**opts))
    assert out.findings[0].status is Status.ERROR and reason in out.findings[0].message and out.steps == ()
    with pytest.raises(ChallengeRefused):
        ChallengeContext(target(**opts)).test_account()


def test_secrets_are_scrubbed_from_steps():
    @challenge(id="linux.challenge.leak_model", title="t", severity="low", area="access_control", criterion="c",
               impact="intrusive")
    def leaky(ctx):
        pw = ctx.test_account().password
        ctx.step(f"bind with {pw}", "refused", lambda: Probe(False, f"echo {pw}", sent=pw, received=pw))
        return [failed("x", "y")]

    out = run_challenge(spec(leaky), target(), secrets=["s3cret-Challenge-Pw"])
    assert "s3cret-Challenge-Pw" not in repr(out.steps) and out.steps[0].sent == "***"
    assert out.steps[0].sent_sha256 == hashlib.sha256(b"s3cret-Challenge-Pw").hexdigest()  # the hash is of the bytes


def test_a_raising_challenge_or_one_without_result_is_an_error():
    @challenge(id="linux.challenge.empty_model", title="t", severity="low", area="access_control", criterion="c",
               impact="safe")
    def empty(ctx):
        return []

    @challenge(id="linux.challenge.broken_model", title="t", severity="low", area="access_control", criterion="c",
               impact="safe")
    def broken(ctx):
        raise KeyError("x")

    assert run_challenge(spec(empty), target()).findings[0].message == "the challenge gave no result"
    assert run_challenge(spec(broken), target()).findings[0].message == "the challenge raised KeyError: 'x'"

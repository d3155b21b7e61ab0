"""The Windows lockout challenge against the WS-Man responder with lockout semantics (tests/lab/wslockout.py).

No Windows host runs here: the responder is the substitute (real HTTPS with the tests' CA, real NTLM for every
logon, a lockout table per user, the state and unlock scripts answered as the PowerShell would). The opt-in suite
for a real Windows host is test_real_windows_lockout below (the pattern of tests/connectors/test_winrm_real.py).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checks.windows import challenge_lockout
from scanner.challenge import PLANNED, ChallengeContext, ChallengeOutcome, challenge_spec_of, run_challenge
from scanner.model import Platform, Status, Target, freeze
from scanner.probes import winrm
from tests.lab.slapdlab import CA, ServerCert, issue_cert, make_ca
from tests.lab.wslockout import ACCESS_DENIED, LockoutResponder

SCAN_USER, SCAN_PASSWORD = "LAB\\gxpchal-svc", "Scan-Planted-S3cret-77ad"
TEST_USER, TEST_PASSWORD = "gxptest", "Challenge-Planted-S3cret-5e21"  # planted: no output may contain them
BYSTANDER = "LAB\\bystander"
USERS = {SCAN_USER: SCAN_PASSWORD, TEST_USER: TEST_PASSWORD, BYSTANDER: "Bystander-Pw-0c1f"}
SPEC = challenge_spec_of(challenge_lockout.lockout)


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca: CA
    cert: ServerCert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("lockout-pki")
    ca = make_ca(d / "ca")
    return Pki(d, ca, issue_cert(ca, d / "win", "win", ("localhost",), ("127.0.0.1",)))


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXPSCAN_TEST_CHAL_SCAN_PW", SCAN_PASSWORD)
    monkeypatch.setenv("GXPSCAN_TEST_CHAL_ACCOUNT_PW", TEST_PASSWORD)


@pytest.fixture
def server(pki: Pki, request: pytest.FixtureRequest) -> Iterator[LockoutResponder]:
    threshold = getattr(request, "param", 3)
    with LockoutResponder(threshold=threshold, users=USERS, directory=pki.directory, ca=pki.ca,
                          cert=pki.cert) as r:
        yield r


def target(r: LockoutResponder, pki: Pki, account: str = TEST_USER, threshold: int | None = 3,
           connect_timeout: int | None = 5) -> Target:
    """The lab host as a target; a threshold or timeout of None leaves that setting out (the defaults apply)."""
    options = {"host": r.host, "port": r.port, "user": SCAN_USER, "password_env": "GXPSCAN_TEST_CHAL_SCAN_PW",
               "ca_file": str(pki.ca.cert), "challenge_account": account,
               "challenge_password_env": "GXPSCAN_TEST_CHAL_ACCOUNT_PW"}
    if connect_timeout is not None:
        options["connect_timeout"] = connect_timeout
    policy = {} if threshold is None else {"lockout_threshold": threshold}
    return Target(name="win-01", type=Platform.WINDOWS, options=freeze(options), policy=freeze(policy))


def run(r: LockoutResponder, pki: Pki, plan: bool = False, **kw: Any) -> ChallengeOutcome:
    assert SPEC is not None
    return run_challenge(SPEC, target(r, pki, **kw), plan=plan, secrets=[SCAN_PASSWORD, TEST_PASSWORD])


def others(r: LockoutResponder) -> dict[str, tuple[int, bool]]:
    """Every other account with failed logons or locked (the scan account's good logons leave it at (0, False))."""
    return {u: s for u, s in r.lockouts.state().items() if u != "gxptest" and s != (0, False)}


def assert_no_secret(out: ChallengeOutcome, caplog: pytest.LogCaptureFixture) -> None:
    text = repr(out.steps) + repr(out.findings) + caplog.text
    assert SCAN_PASSWORD not in text and TEST_PASSWORD not in text


@pytest.mark.parametrize("account, scripts", [("gxptest", "Win32_UserAccount"), ("LAB\\gxptest", "Get-ADUser")])
def test_the_test_account_is_locked_then_unlocked_and_no_other_account_is_touched(
        server: LockoutResponder, pki: Pki, account: str, scripts: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.lockouts.failures["bystander"] = 1  # another account's state, which must stay as it is
    before = others(server)
    out = run(server, pki, account=account)
    assert [(f.status, f.message) for f in out.findings] == [(Status.PASS, "locked after 3 wrong logons")]
    assert [(s.action.split(" (")[0], s.ok, s.cleanup) for s in out.steps] == [
        (f"read the lockout state of {account} through the scan's WinRM session", True, False),
        *[(f"WinRM logon as {account} with a wrong password", True, False)] * 3,
        (f"read the lockout state of {account} through the scan's WinRM session", True, False),
        (f"unlock {account} through the scan's WinRM session", True, True),
        (f"read the lockout state of {account} through the scan's WinRM session", True, True)]
    assert out.steps[1].actual == "refused: HTTP 401 (the credentials were rejected)"
    assert [s.actual for s in out.steps[4:]] == ["gxptest is locked", "gxptest unlocked", "gxptest is not locked"]
    assert scripts in out.steps[0].sent
    assert server.lockouts.attempts["gxptest"] == 3 and server.lockouts.state()["gxptest"] == (0, False)
    assert others(server) == before and server.lockouts.attempts.get("bystander") is None
    assert {name for _, name in server.account_scripts} == {"gxptest"}
    assert_no_secret(out, caplog)


@pytest.mark.parametrize("server", [10], indirect=True)
def test_a_lockout_threshold_above_policy_fails_and_is_still_cleaned_up(server: LockoutResponder, pki: Pki) -> None:
    out = run(server, pki)
    assert [(f.status, f.message) for f in out.findings] == [(Status.FAIL, "not locked after 3 wrong logons")]
    assert [s.ok for s in out.steps] == [True, True, True, True, False, True, True]
    assert server.lockouts.state()["gxptest"] == (0, False) and server.lockouts.attempts["gxptest"] == 3


def test_a_clean_up_that_fails_is_an_error_naming_what_to_restore(
        server: LockoutResponder, pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    server.deny_unlock = True  # the scan account lost the right to unlock
    out = run(server, pki)
    assert out.findings[0].status is Status.ERROR
    assert out.findings[0].message.startswith(
        "clean-up failed, restore by hand: unlock the local account gxptest: Local Users and Groups > gxptest > "
        "clear 'Account is locked out'")
    assert [(s.ok, s.actual) for s in out.steps[-2:]] == [
        (False, f"the unlock failed (error={ACCESS_DENIED})"), (False, "gxptest is locked")]
    assert server.lockouts.state()["gxptest"] == (3, True)  # really still locked: the message is true
    by_hand = winrm.WindowsAccount.of(TEST_USER).restore_by_hand()
    assert by_hand and [s.restore_by_hand for s in out.steps[-2:]] == [by_hand, by_hand]
    assert_no_secret(out, caplog)


def test_an_account_already_locked_or_missing_is_not_challenged(server: LockoutResponder, pki: Pki) -> None:
    server.lockouts.locked.add("gxptest")
    locked = run(server, pki)
    missing = run(server, pki, account="nobody")
    assert [(f.status, f.message) for f in locked.findings + missing.findings] == [
        (Status.ERROR, "not started, no logon attempted: gxptest is locked"),
        (Status.ERROR, "not started, no logon attempted: nobody does not exist")]
    assert len(locked.steps) == len(missing.steps) == 1 and server.lockouts.attempts.get("gxptest") is None


def test_never_more_attempts_than_the_threshold_and_the_scans_own_account_is_refused(
        server: LockoutResponder, pki: Pki) -> None:
    out = run(server, pki, threshold=5)  # the server locks at 3: attempts 4 and 5 still only refused
    assert out.findings[0].status is Status.PASS and server.lockouts.attempts["gxptest"] == 5
    attempts = dict(server.lockouts.attempts)
    own = run(server, pki, account=SCAN_USER)
    assert own.findings[0].status is Status.ERROR and "is the account the scan logs in with" in own.findings[0].message
    assert own.steps == () and server.lockouts.attempts == attempts


def test_plan_lists_the_steps_and_sends_nothing(server: LockoutResponder, pki: Pki) -> None:
    out = run(server, pki, plan=True)
    assert out.findings == () and len(out.steps) == 7 and {s.actual for s in out.steps} == {PLANNED}
    assert [s.cleanup for s in out.steps] == [False] * 5 + [True] * 2
    assert [s.expected for s in out.steps] == [
        "gxptest exists and is not locked", *["refused (HTTP 401)"] * 3, "gxptest is locked", "gxptest unlocked",
        "gxptest is not locked"]
    assert server.auth_headers == [] and not server.ops


@pytest.mark.parametrize("server", [1], indirect=True)
def test_a_threshold_of_one_is_one_wrong_logon_and_zero_is_nothing_to_challenge(
        server: LockoutResponder, pki: Pki) -> None:
    one = run(server, pki, threshold=1)
    assert [(f.status, f.message) for f in one.findings] == [(Status.PASS, "locked after 1 wrong logons")]
    assert server.lockouts.attempts["gxptest"] == 1
    zero = run(server, pki, threshold=0)
    assert [(f.status, f.message) for f in zero.findings] == [
        (Status.ERROR, "lockout_threshold 0: nothing to challenge")]
    assert zero.steps == () and server.lockouts.attempts["gxptest"] == 1


@pytest.mark.parametrize("server", [5], indirect=True)
def test_without_a_policy_threshold_five_wrong_logons_are_made(server: LockoutResponder, pki: Pki) -> None:
    out = run(server, pki, threshold=None)
    assert [(f.status, f.message) for f in out.findings] == [(Status.PASS, "locked after 5 wrong logons")]
    assert server.lockouts.attempts["gxptest"] == 5


def test_the_challenge_itself_defaults_to_five_attempts(server: LockoutResponder, pki: Pki) -> None:
    """Called without lockout_threshold (run_challenge always passes the spec's default, so this reads the function's
    own), planned: the steps it would take, nothing sent."""
    ctx = ChallengeContext(target(server, pki, threshold=None), plan=True)
    challenge_lockout.lockout(ctx)
    assert [s.action for s in ctx.steps if "wrong password" in s.action] == [
        f"WinRM logon as gxptest with a wrong password ({n} of 5)" for n in range(1, 6)]
    assert server.auth_headers == [] and not server.ops


@pytest.mark.parametrize(("connect_timeout", "seconds"), [(5, 5.0), (None, 10.0)])
def test_the_connect_timeout_or_ten_seconds_reaches_every_wrong_logon(
        server: LockoutResponder, pki: Pki, monkeypatch: pytest.MonkeyPatch, connect_timeout: int | None,
        seconds: float) -> None:
    given: list[float] = []
    real = winrm.wrong_logon_probe

    def wrong_logon(target: Target, account: str, timeout: float) -> Any:
        given.append(timeout)
        return real(target, account, timeout)
    monkeypatch.setattr(winrm, "wrong_logon_probe", wrong_logon)
    out = run(server, pki, connect_timeout=connect_timeout)
    assert out.findings[0].status is Status.PASS and given == [seconds] * 3


@pytest.mark.skipif(not os.environ.get("GXPSCAN_WINRM_CHALLENGE_ACCOUNT"),
                    reason="no real Windows test account: set GXPSCAN_WINRM_HOST (tests/connectors/"
                           "test_winrm_real.py), GXPSCAN_WINRM_CHALLENGE_ACCOUNT, GXPSCAN_WINRM_CHALLENGE_PASSWORD_ENV "
                           "and GXPSCAN_WINRM_LOCKOUT_THRESHOLD")
def test_real_windows_lockout() -> None:
    from tests.connectors.test_winrm_real import real_options

    env = os.environ
    options = {**real_options(), "challenge_account": env["GXPSCAN_WINRM_CHALLENGE_ACCOUNT"],
               "challenge_password_env": env["GXPSCAN_WINRM_CHALLENGE_PASSWORD_ENV"]}
    t = Target(name="real-windows", type=Platform.WINDOWS, options=freeze(options),
               policy=freeze({"lockout_threshold": int(env.get("GXPSCAN_WINRM_LOCKOUT_THRESHOLD", "5"))}))
    assert SPEC is not None
    out = run_challenge(SPEC, t)
    assert [f.status for f in out.findings] == [Status.PASS] and all(s.ok for s in out.steps)

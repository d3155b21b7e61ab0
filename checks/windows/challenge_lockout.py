"""Windows account lockout challenge (intrusive): wrong WinRM logons lock the test account, which is then unlocked.

Only the inventory's ``challenge_account`` is touched: ``lockout_threshold`` NTLM logons over WinRM with random
wrong passwords (never more), then its state is read, and it is unlocked and read again through the scan's own
WinRM session. Clean-up runs whatever happened before it.
"""
from __future__ import annotations

from functools import partial

from scanner.challenge import ChallengeContext, challenge
from scanner.model import Finding, error, failed, passed
from scanner.probes import winrm


@challenge(id="windows.challenge.lockout", title="Wrong logons lock the test account (and it is unlocked again)",
           severity="high", area="access_control", impact="intrusive",
           criterion="After lockout_threshold logons over WinRM with a wrong password, the test account is locked; "
                     "the challenge unlocks it and verifies.",
           remediation="Account Policies > Account Lockout Policy: 'Account lockout threshold' = lockout_threshold "
                       "or fewer (not 0), with a lockout duration of at least 15 minutes.")
def lockout(ctx: ChallengeContext, lockout_threshold: int = 5) -> list[Finding]:
    test = ctx.test_account()
    try:
        account = winrm.WindowsAccount.of(test.name)
    except ValueError as exc:
        return [error(ctx.target.name, str(exc))]
    target, resource = ctx.target, f"account {test.name}"
    timeout = float(target.opt("connect_timeout") or 10)
    threshold = int(lockout_threshold)
    if threshold < 1:
        return [error(resource, f"lockout_threshold {threshold}: nothing to challenge")]
    read = f"read the lockout state of {test.name} through the scan's WinRM session"
    before = ctx.step(read, f"{test.name} exists and is not locked",
                      partial(winrm.locked_probe, target, account, False))
    if before.ok is not True:
        return [error(resource, f"not started, no logon attempted: {before.actual}")]
    try:
        for n in range(1, threshold + 1):
            attempt = ctx.step(f"WinRM logon as {test.name} with a wrong password ({n} of {threshold})",
                               "refused (HTTP 401)", partial(winrm.wrong_logon_probe, target, test.name, timeout))
            if attempt.ok is not True:
                return [error(resource, f"wrong logon {n} was not refused as expected: {attempt.actual}")]
        after = ctx.step(read, f"{test.name} is locked", partial(winrm.locked_probe, target, account, True))
        if after.ok is True:
            return [passed(resource, f"locked after {threshold} wrong logons", attempts=threshold)]
        if after.ok is False:
            return [failed(resource, f"not locked after {threshold} wrong logons", attempts=threshold)]
        return [error(resource, f"the lockout state could not be read: {after.actual}")]
    finally:
        by_hand = account.restore_by_hand()
        ctx.step(f"unlock {test.name} through the scan's WinRM session", f"{test.name} unlocked",
                 partial(winrm.unlock_probe, target, account), cleanup=True, restore_by_hand=by_hand)
        ctx.step(read, f"{test.name} is not locked", partial(winrm.locked_probe, target, account, False),
                 cleanup=True, restore_by_hand=by_hand)

"""Intrusive Active Directory challenges on the inventory's test account (``challenge_account``: its DN):
lockout and the account's own password changes (shared steps: checks/ldap/challenge_flows.py).

Audit trail: a refused password change is recorded in the domain controller's Security event log (event 4723)
and, for the lockout, events 4625 and 4740; none of these is readable over LDAP. What LDAP shows is the account's
own state (badPwdCount, lockoutTime, pwdLastSet), which these challenges read and record.
"""
from __future__ import annotations

from checks.ldap.challenge_flows import AD_LOCK, lockout, password_change
from scanner.challenge import ChallengeContext, challenge
from scanner.model import Area, Finding, Severity
from scanner.probes.ldap import Flavor


@challenge(id="ad.challenge.lockout", title="Wrong passwords lock the test account (Active Directory)",
           severity=Severity.HIGH, area=Area.PASSWORD_POLICY, impact="intrusive",
           criterion="After lockout_threshold binds with a wrong password, the test account's right password is "
                     "refused and lockoutTime is greater than 0; the scan's account then sets lockoutTime to 0 and a "
                     "bind with the right password works again. At most lockout_threshold + 1 failed binds.",
           remediation="Set the domain's (or the account's fine-grained) lockout threshold to at most the policy's "
                       "value, with a lockout duration and observation window (Default Domain Policy > Account "
                       "Lockout Policy, or a Password Settings Object).")
def ad_lockout(ctx: ChallengeContext, lockout_threshold: int = 5) -> list[Finding]:
    return lockout(ctx, AD_LOCK, lockout_threshold)


@challenge(id="ad.challenge.password_change", title="The test account cannot reuse or shorten its password (AD)",
           severity=Severity.MEDIUM, area=Area.PASSWORD_POLICY, impact="intrusive",
           criterion="The test account's own change of unicodePwd (delete the old value, add the new) to its current "
                     "password and to one shorter than password_min_length are both refused. An accepted change is "
                     "undone by the scan's account and a bind with the original password proves it.",
           remediation="Set the minimum password length and password history in the Default Domain Policy (or the "
                       "account's Password Settings Object) to at least the policy's values.")
def ad_password_change(ctx: ChallengeContext, password_min_length: int = 12) -> list[Finding]:
    return password_change(ctx, Flavor.AD, password_min_length)

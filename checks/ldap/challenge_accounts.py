"""Intrusive OpenLDAP challenges on the inventory's test account (``challenge_account``: its DN): ppolicy lockout
and the account's own password changes. The I/O and the clean-up are shared with Active Directory
(checks/ldap/challenge_flows.py)."""
from __future__ import annotations

from checks.ldap.challenge_flows import OPENLDAP_LOCK, lockout, password_change
from scanner.challenge import ChallengeContext, challenge
from scanner.model import Area, Finding, Severity
from scanner.probes.ldap import Flavor


@challenge(id="ldap.challenge.lockout", title="Wrong passwords lock the test account (ppolicy)",
           severity=Severity.HIGH, area=Area.PASSWORD_POLICY, impact="intrusive",
           criterion="After lockout_threshold binds with a wrong password, the test account's right password is "
                     "refused and pwdAccountLockedTime is set; the scan's account then deletes pwdAccountLockedTime "
                     "and a bind with the right password works again. At most lockout_threshold + 1 failed binds.",
           remediation="Enable account lockout in the password policy (ppolicy overlay with ppolicy_use_lockout; "
                       "pwdLockout: TRUE, pwdMaxFailure at most the policy's threshold, pwdLockoutDuration).")
def ldap_lockout(ctx: ChallengeContext, lockout_threshold: int = 5) -> list[Finding]:
    return lockout(ctx, OPENLDAP_LOCK, lockout_threshold)


@challenge(id="ldap.challenge.password_change", title="The test account cannot reuse or shorten its password",
           severity=Severity.MEDIUM, area=Area.PASSWORD_POLICY, impact="intrusive",
           criterion="The test account's own change (Password Modify extended operation) to its current password "
                     "and to one shorter than password_min_length are both refused. An accepted change is undone by "
                     "the scan's account and a bind with the original password proves it.",
           remediation="Set pwdInHistory and pwdMinLength in the password policy and pwdCheckQuality: 2 so that "
                       "the ppolicy overlay checks every new password.")
def ldap_password_change(ctx: ChallengeContext, password_min_length: int = 12) -> list[Finding]:
    return password_change(ctx, Flavor.OPENLDAP, password_min_length)

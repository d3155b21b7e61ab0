"""Safe Active Directory challenge: LDAP signing is required on the domain controller's cleartext port."""
from __future__ import annotations

from typing import Any

from checks.ldap.challenge_flows import find_directory, gate, url
from scanner.challenge import ChallengeContext, challenge
from scanner.model import Area, Finding, Severity, error, failed, not_applicable, passed
from scanner.probes import ldap as probes
from scanner.probes.ldap import STRONGER_AUTH_REQUIRED, Flavor, Kept, PlaintextAnswer


@challenge(id="ad.challenge.ldap_signing_required", title="The domain controller requires LDAP signing",
           severity=Severity.HIGH, area=Area.ENCRYPTION, impact="safe",
           criterion="An unsigned simple bind on port 389 without TLS, as a DN that does not exist with a made-up "
                     "password, is refused with strongerAuthRequired (8) before the credentials are checked.",
           remediation="Set the domain controller policy 'Domain controller: LDAP server signing requirements' to "
                       "Require signing (Samba: 'ldap server require strong auth = yes', the default), and enable "
                       "LDAP channel binding.")
def ldap_signing_required(ctx: ChallengeContext) -> list[Finding]:
    where = url(ctx)
    found = find_directory(ctx)
    if na := gate(ctx, found, Flavor.AD, where):
        return [na]
    assert found is not None
    kept: Kept[PlaintextAnswer] = Kept()
    bound = ctx.step("unsigned simple bind on port 389 without TLS as a DN that does not exist, with a made-up "
                     "password", "refused: strongerAuthRequired (8)",
                     lambda: kept.keep(probes.plaintext_bind(ctx.target, found.base_dn)))
    answer = kept.value
    obs: dict[str, Any] = {"result": bound.actual}
    if ctx.plan or (answer is not None and answer.code == STRONGER_AUTH_REQUIRED):
        return [passed(where, f"an unsigned bind is refused ({bound.actual})", **obs)]
    if answer is not None and answer.no_listener:
        return [not_applicable(where, f"nothing listens on the cleartext LDAP port ({bound.actual}); no unsigned "
                               "bind is possible", **obs)]
    if bound.ok is False:
        return [failed(where, f"the domain controller does not require signing: an unsigned bind got "
                       f"{bound.actual}", **obs)]
    return [error(where, f"could not show that unsigned binds are refused for want of signing ({bound.actual})",
                  **obs)]

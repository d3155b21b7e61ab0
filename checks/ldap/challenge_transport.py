"""Safe LDAP challenges: what the directory lets through without credentials or without TLS. They bind and read
only, never as a real account: anonymous, or a DN that does not exist with a made-up password.

The scan's checks ldap.anonymous_bind and ldap.tls_required stay: they run the same kind of read-only probe on
every scan. These challenges run only when asked and record each exchange as an OQ test step.
"""
from __future__ import annotations

from typing import Any

from checks.ldap.challenge_flows import find_directory, url
from scanner.challenge import ChallengeContext, challenge
from scanner.model import Area, Finding, Severity, error, failed, passed
from scanner.probes import ldap as probes
from scanner.probes.ldap import Kept, PlaintextAnswer


@challenge(id="ldap.challenge.anonymous_refused", title="Anonymous bind and anonymous search are refused",
           severity=Severity.HIGH, area=Area.ACCESS_CONTROL, impact="safe",
           criterion="A search under the base DN without credentials returns no entry (refused or empty). The "
                     "anonymous bind is recorded too: refusing it is expected, but Active Directory accepts every "
                     "anonymous bind by design and then answers nothing, which also passes.",
           remediation="Refuse anonymous access: on OpenLDAP 'disallow bind_anon' and 'require authc' (olcDisallows, "
                       "olcRequires) and ACLs that grant nothing to anonymous; on Active Directory leave dsHeuristics "
                       "without anonymous operations and remove ANONYMOUS LOGON from the directory's permissions.")
def anonymous_refused(ctx: ChallengeContext) -> list[Finding]:
    where = url(ctx)
    found = find_directory(ctx)
    if found is None:
        return [error(where, f"could not read the root DSE: {ctx.steps[-1].actual}")]
    bound = ctx.step(f"anonymous bind to {where}", "refused (Active Directory accepts it by design: then the search "
                     "must show nothing)",
                     lambda: probes.anonymous_bind(ctx.target))
    search = ctx.step(f"search under {found.base_dn} without credentials (subtree, at most 5 entries)",
                      "refused, or no entry returned", lambda: probes.anonymous_search(ctx.target, found.base_dn))
    obs: dict[str, Any] = {"bind": bound.actual, "search": search.actual, "base_dn": found.base_dn}
    if search.ok is False:
        return [failed(where, f"an anonymous search under {found.base_dn} answered: {search.actual}", **obs)]
    bind_text = "the anonymous bind is refused" if bound.ok else "the anonymous bind is accepted but gives no access"
    return [passed(where, f"{bind_text}; an anonymous search returns nothing ({search.actual})", **obs)]


@challenge(id="ldap.challenge.plaintext_bind_refused", title="A simple bind without TLS is refused",
           severity=Severity.HIGH, area=Area.ENCRYPTION, impact="safe",
           criterion="A simple bind over cleartext LDAP, as a DN that does not exist with a made-up password, is "
                     "refused before the credentials are checked (confidentialityRequired, strongerAuthRequired), or "
                     "nothing listens on the cleartext port. No real password is sent.",
           remediation="Require TLS for simple binds: on OpenLDAP 'security simple_bind=128' (olcSecurity) or listen "
                       "on ldaps:// only; on Active Directory require LDAP signing (domain controller policy 'LDAP "
                       "server signing requirements': Require signing; Samba: 'ldap server require strong auth = "
                       "yes').")
def plaintext_bind_refused(ctx: ChallengeContext) -> list[Finding]:
    where = url(ctx)
    found = find_directory(ctx)
    if found is None:
        return [error(where, f"could not read the root DSE: {ctx.steps[-1].actual}")]
    kept: Kept[PlaintextAnswer] = Kept()
    bound = ctx.step("simple bind without TLS (cleartext port) as a DN that does not exist, with a made-up password",
                     "refused before the credentials are checked, or nothing listens",
                     lambda: kept.keep(probes.plaintext_bind(ctx.target, found.base_dn)))
    obs: dict[str, Any] = {"result": bound.actual}
    if bound.ok is False:
        return [failed(where, f"the server evaluated a cleartext simple bind ({bound.actual}): passwords can cross "
                       "the network unencrypted", **obs)]
    return [passed(where, f"a cleartext simple bind is not possible ({bound.actual})", **obs)]

"""What any LDAP server (OpenLDAP or AD) allows without credentials or without TLS. Probes only bind and read."""
from __future__ import annotations

from typing import Any

from scanner.facts.ldap import DirectoryInfo, Probe
from scanner.model import Area, Finding, Severity, failed, passed
from scanner.registry import check


@check(id="ldap.anonymous_bind", title="Anonymous bind and search are refused",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="An anonymous bind is refused, or an anonymous search under the base DN returns no entry.",
       remediation="Refuse anonymous access: on OpenLDAP 'disallow bind_anon' and 'require authc' (olcDisallows, "
                   "olcRequires) and ACLs that grant nothing to anonymous; on Active Directory leave dsHeuristics "
                   "without anonymous operations and remove ANONYMOUS LOGON from the directory's permissions.")
def anonymous_bind(root_dse: DirectoryInfo, anonymous_probe: Probe) -> Finding:
    p = anonymous_probe
    obs: dict[str, Any] = {"result": p.result, "detail": p.detail, "entries_visible": p.entries_visible, "url": p.url}
    if p.refused:
        return passed(root_dse.base_dn, f"anonymous access refused ({p.result}: {p.detail})", **obs)
    return failed(root_dse.base_dn, f"an anonymous search under the base DN returned {p.entries_visible} or more "
                  "entries", **obs)


@check(id="ldap.tls_required", title="The server refuses simple binds without TLS",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="A simple bind over cleartext LDAP is refused before the password is checked "
                 "(confidentialityRequired / strongerAuthRequired), or no cleartext listener answers.",
       remediation="Require TLS for simple binds: on OpenLDAP 'security simple_bind=128' (olcSecurity) or listen on "
                   "ldaps:// only; on Active Directory require LDAP signing and channel binding (the domain "
                   "controller policy 'LDAP server signing requirements'), or block port 389 to clients.")
def tls_required(root_dse: DirectoryInfo, plaintext_bind_probe: Probe) -> Finding:
    p = plaintext_bind_probe
    obs: dict[str, Any] = {"result": p.result, "detail": p.detail, "url": p.url, "scanner_transport": root_dse.tls,
           "scanner_plaintext_allowed": root_dse.plaintext_allowed}
    if p.refused:
        return passed(p.url, f"cleartext simple bind not possible ({p.result}: {p.detail or 'no listener'})", **obs)
    return failed(p.url, f"the server evaluated a cleartext simple bind ({p.detail}): passwords can cross the network "
                  "unencrypted", **obs)

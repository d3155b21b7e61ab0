"""What any LDAP server (OpenLDAP or AD) allows without credentials or without TLS. Probes only bind and read."""
from __future__ import annotations

from typing import Any

from scanner.facts.ldap import DirectoryInfo, Probe
from scanner.model import Area, Finding, Severity, error, failed, passed
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


#: the plaintext probe results that show a cleartext bind is not possible: the server answered before looking at
#: the credentials, or the TCP connection was refused (nothing listens). A timeout shows neither.
TLS_PROBE_REFUSALS = ("cleartext bind refused", "no cleartext listener")


@check(id="ldap.tls_required", title="The server refuses simple binds without TLS",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="A simple bind over cleartext LDAP is refused before the password is checked "
                 "(confidentialityRequired / strongerAuthRequired), or the TCP connection to the cleartext port is "
                 "refused (nothing listens). A port that does not answer at all is an error, not a pass.",
       remediation="Require TLS for simple binds: on OpenLDAP 'security simple_bind=128' (olcSecurity) or listen on "
                   "ldaps:// only; on Active Directory require LDAP signing and channel binding (the domain "
                   "controller policy 'LDAP server signing requirements'), or stop listening on port 389 (a firewall "
                   "that silently drops it cannot be told from a slow server: the check then reports an error).")
def tls_required(root_dse: DirectoryInfo, plaintext_bind_probe: Probe) -> Finding:
    p = plaintext_bind_probe
    obs: dict[str, Any] = {"result": p.result, "detail": p.detail, "url": p.url, "scanner_transport": root_dse.tls,
           "scanner_plaintext_allowed": root_dse.plaintext_allowed}
    if p.refused and p.result in TLS_PROBE_REFUSALS:
        return passed(p.url, f"cleartext simple bind not possible ({p.result}: {p.detail or 'no listener'})", **obs)
    if p.result != "cleartext bind evaluated":  # a timeout, a filtered port: nothing is known about the listener
        return error(p.url, f"could not determine whether a cleartext simple bind is possible ({p.result}: "
                     f"{p.detail})", **obs)
    return failed(p.url, f"the server evaluated a cleartext simple bind ({p.detail}): passwords can cross the network "
                  "unencrypted", **obs)

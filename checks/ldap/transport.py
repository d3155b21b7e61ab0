"""What any LDAP server (OpenLDAP or AD) allows without credentials or without TLS. Probes only bind and read."""
from __future__ import annotations

from typing import Any

from scanner.model import Area, Finding, Severity, failed, passed
from scanner.registry import check


@check(id="ldap.anonymous_bind", title="Anonymous bind and search are refused",
       severity=Severity.HIGH, area=Area.ACCESS_CONTROL,
       criterion="An anonymous bind is refused, or an anonymous search under the base DN returns no entry.")
def anonymous_bind(root_dse: Any, anonymous_probe: Any) -> Finding:
    p = anonymous_probe
    obs = {"result": p.result, "detail": p.detail, "entries_visible": p.entries_visible, "url": p.url}
    if p.refused:
        return passed(root_dse.base_dn, f"anonymous access refused ({p.result}: {p.detail})", **obs)
    return failed(root_dse.base_dn, f"an anonymous search under the base DN returned {p.entries_visible} or more "
                  "entries", **obs)


@check(id="ldap.tls_required", title="The server refuses simple binds without TLS",
       severity=Severity.HIGH, area=Area.ENCRYPTION,
       criterion="A simple bind over cleartext LDAP is refused before the password is checked "
                 "(confidentialityRequired / strongerAuthRequired), or no cleartext listener answers.")
def tls_required(root_dse: Any, plaintext_bind_probe: Any) -> Finding:
    p = plaintext_bind_probe
    obs = {"result": p.result, "detail": p.detail, "url": p.url, "scanner_transport": root_dse.tls,
           "scanner_plaintext_allowed": root_dse.plaintext_allowed}
    if p.refused:
        return passed(p.url, f"cleartext simple bind not possible ({p.result}: {p.detail or 'no listener'})", **obs)
    return failed(p.url, f"the server evaluated a cleartext simple bind ({p.detail}): passwords can cross the network "
                  "unencrypted", **obs)

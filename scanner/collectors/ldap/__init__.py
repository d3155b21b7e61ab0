"""Directory facts (Active Directory and OpenLDAP) from one bound LDAPConnector.

Every fact is one row of ``TABLE`` below: its name, what it holds, which directory flavor it belongs to and the
function that asks the directory and parses the answer into the types of ``scanner.facts.ldap``
(``ad.py`` for Active Directory, ``openldap.py`` for OpenLDAP, ``common.py`` for both). Each
function makes one or a few paged searches asking only for the attributes it needs; the evidence is the
search itself and what came back (never a password or a password hash). A fact that belongs to the other
flavor (an AD fact on OpenLDAP, or the reverse) is collected as ``None`` with the reason, and the checks
turn it into ``not_applicable``; a search that fails or an answer that cannot be trusted is a failed fact.

Fail closed: an attribute the answer must carry but does not (because the bind may not read it) is an
error, never a default; a policy that cannot be found is never taken as compliant.
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from scanner.collectors import FactSpec
from scanner.collectors.ldap import ad, openldap
from scanner.collectors.ldap.common import (
    Directory,
    Recorder,
    anonymous_probe,
    plaintext_bind_probe,
    root_dse,
    system,
)
from scanner.connectors import ConnectorError
from scanner.facts.ldap import Flavor
from scanner.model import Evidence, Fact, Target


@dataclass(frozen=True)
class DirectoryFact:
    name: str
    description: str
    collect: Callable[[Directory, Recorder], object]
    flavor: Flavor | None = None  # None: any directory


TABLE: tuple[DirectoryFact, ...] = (
    DirectoryFact("ldap.root_dse", "how the directory was reached (TLS mode, plaintext allowance, bind identity) and "
                  "its flavor", root_dse),
    DirectoryFact("ldap.system", "the system under test: directory server, vendor and version, naming context "
                  "(from the root DSE)", system),
    DirectoryFact("ldap.domain_policy", "AD domain password and lockout policy (domain head attributes)",
                  ad.domain_policy, "ad"),
    DirectoryFact("ldap.password_settings_objects", "AD fine-grained password policies (msDS-PasswordSettings) and "
                  "their targets", ad.password_settings_objects, "ad"),
    DirectoryFact("ldap.users", "AD user accounts: userAccountControl, lastLogonTimestamp, pwdLastSet, memberOf",
                  ad.users, "ad"),
    DirectoryFact("ldap.privileged_groups", "AD privileged groups with their user members, nested and primary-group "
                  "membership resolved", ad.privileged_groups, "ad"),
    DirectoryFact("ldap.krbtgt", "AD krbtgt account password age", ad.krbtgt, "ad"),
    DirectoryFact("ldap.ppolicy", "OpenLDAP ppolicy overlay default policy and per-entry policies (cn=config and "
                  "the policy entries)", openldap.ppolicy, "openldap"),
    DirectoryFact("ldap.anonymous_probe", "anonymous bind and search attempt (bind and read only)", anonymous_probe),
    DirectoryFact("ldap.plaintext_bind_probe", "simple bind without TLS as a non-existent DN (no real password or "
                  "account involved)", plaintext_bind_probe),
    DirectoryFact("ldap.password_hashes", "OpenLDAP userPassword storage schemes (scheme only, never the value)",
                  openldap.password_hashes, "openldap"),
    DirectoryFact("ldap.overlays", "OpenLDAP overlays per database from cn=config", openldap.overlays, "openldap"),
    DirectoryFact("ldap.accounts", "OpenLDAP account entries (uid, ppolicy lock and password change times, last "
                  "bind) and the groups listing them", openldap.accounts, "openldap"),
    DirectoryFact("ldap.access_rules", "OpenLDAP rootDN and olcAccess rules granting write, per database (cn=config)",
                  openldap.access_rules, "openldap"),
)
BY_NAME = {f.name: f for f in TABLE}
FACTS = {f.name: FactSpec(f.name, f.description) for f in TABLE}
AD_FACTS = tuple(f.name.split(".", 1)[1] for f in TABLE if f.flavor == "ad")
OPENLDAP_FACTS = tuple(f.name.split(".", 1)[1] for f in TABLE if f.flavor == "openldap")


def collect_one(conn: Directory, name: str) -> Fact:
    spec = BY_NAME[name]
    if spec.flavor and conn.flavor in ("ad", "openldap") and conn.flavor != spec.flavor:
        # Collected, and empty on purpose: the checks say not_applicable with this reason.
        return Fact(name, None, (Evidence.of("ldap flavor", f"not collected: an {spec.flavor} fact, target flavor "
                                             f"is {conn.flavor} ({conn.flavor_source})"),))
    rec = Recorder(conn)
    try:
        if spec.collect is not root_dse:
            root_dse(conn, Recorder(conn))  # unknown flavor or base: every fact fails with that reason
        value = spec.collect(conn, rec)
    except (ConnectorError, ValueError, LookupError, struct.error, OverflowError) as exc:
        return Fact.failed(name, f"{name}: {exc}", tuple(rec.evidence))
    return Fact(name, value, tuple(rec.evidence))


def collect(connector: Directory, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    return {name: collect_one(connector, name) if name in BY_NAME else Fact.failed(name, f"unknown ldap fact {name}")
            for name in names}

"""Directory facts (Active Directory and OpenLDAP): what the ``ldap.*`` facts mean, never how the wire encodes it.

The collector (``scanner/collectors/ldap.py``) is the only place that knows userAccountControl bits, FILETIME
and interval encodings, ``msDS-*`` and ``pwd*`` attribute names; checks read these values.

Durations are days or minutes as numbers (``None`` where the directory says "never" or "until an administrator
unlocks"), times are timezone-aware UTC datetimes.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from scanner.value import frozen

Flavor = Literal["ad", "openldap"]
TlsMode = Literal["ldaps", "starttls", "none"]


@frozen
class DirectoryInfo:
    """How gxpscan reached the directory and what it is (``ldap.root_dse``)."""

    url: str
    flavor: Flavor
    flavor_source: str  # "root DSE" or "inventory"
    tls: TlsMode
    certificate_validated: bool
    plaintext_allowed: bool
    bound_as: str
    base_dn: str
    naming_contexts: tuple[str, ...]
    vendor: str


# -- Active Directory ---------------------------------------------------------------------------------
@frozen
class PasswordRules:
    """A password and lockout policy: the domain's (``ldap.domain_policy``), or one password settings object's."""

    min_length: int
    complexity: bool
    reversible_encryption: bool
    max_age_days: float | None  # None: passwords never expire
    min_age_days: float
    history: int
    lockout_threshold: int  # 0: accounts never lock
    lockout_duration_minutes: float | None  # None: locked until an administrator unlocks
    lockout_window_minutes: float


@frozen
class PasswordSettingsObject:
    """One fine-grained password policy (``ldap.password_settings_objects``) and the users/groups it applies to."""

    name: str
    dn: str
    precedence: int
    rules: PasswordRules
    applies_to: tuple[str, ...]


@frozen
class DirectoryUser:
    """One AD user account (``ldap.users``)."""

    sam: str
    dn: str
    disabled: bool
    password_never_expires: bool
    password_not_required: bool  # an empty password is accepted
    reversible_encryption: bool  # the password is stored so that it can be decrypted
    last_logon: datetime | None  # None: never logged on (as far as the replicated timestamp shows)
    pwd_last_set: datetime | None
    created: datetime | None  # None: the creation time is not readable
    member_of: tuple[str, ...] = ()
    description: str = ""
    sid: str | None = None  # objectSid as S-1-5-...; None: not readable
    locked: bool | None = None  # locked out now (computed by the DC, else lockoutTime > 0); None: not readable

    @property
    def enabled(self) -> bool:
        return not self.disabled


@frozen
class MemberPath:
    """One way an account is a member of a privileged group."""

    groups: tuple[str, ...]  # DNs of the nested groups, from the one directly in the privileged group down to the
    #                          account's own group; empty: a direct member
    primary_group: bool = False  # the last hop is the account's primary group (primaryGroupID), not ``member``


@frozen
class GroupMember:
    sam: str
    dn: str
    nested: bool  # a member through another group, not of the privileged group itself
    enabled: bool
    primary_group: bool = False  # a member because the group is its primary group (not listed in ``member``)
    paths: tuple[MemberPath, ...] = ()  # the ways found (shortest first, bounded); empty: not recorded


@frozen
class PrivilegedGroup:
    """A privileged group with its user members, nested and primary-group membership resolved."""

    name: str
    sid: str
    dn: str
    members: tuple[GroupMember, ...]
    #: The group does not live in this domain but in the forest root domain named here (Enterprise Admins and
    #: Schema Admins seen from a child domain); ``members`` is then empty and says nothing.
    held_by: str | None = None


@frozen
class Krbtgt:
    dn: str
    pwd_last_set: datetime | None  # None: never set or not readable


# -- OpenLDAP -----------------------------------------------------------------------------------------
@frozen
class PPolicyRules:
    """One ppolicy password policy entry."""

    dn: str
    min_length: int
    min_length_enforced: bool  # False: the server does no quality check, so min_length is not applied
    max_age_days: float | None  # None: passwords never expire
    in_history: int
    lockout: bool
    max_failure: int
    lockout_duration_seconds: int  # 0: locked until an administrator unlocks


@frozen
class PolicyOverride:
    """A policy that entries name for themselves (pwdPolicySubentry) instead of the default one."""

    policy_dn: str
    rules: PPolicyRules | None  # None: the named policy entry does not exist or is not readable
    entries: tuple[str, ...]  # the entries that name it


@frozen
class PPolicyState:
    """The ppolicy overlay on the database that holds the base DN (``ldap.ppolicy``)."""

    overlay_enabled: bool
    default_dn: str | None
    default: PPolicyRules | None  # None when no default policy is configured or the entry is missing
    overrides: tuple[PolicyOverride, ...] = ()


@frozen
class StoredPassword:
    dn: str
    scheme: str  # upper-case scheme name ("SSHA", "CRYPT-SHA512", "MD5"), "CLEARTEXT" without a {SCHEME} prefix
    salted: bool  # a salted (and for crypt, modern) hash, or no password held by the directory at all


@frozen
class PasswordStorage:
    """How the accounts' userPassword values are stored (``ldap.password_hashes``)."""

    stored: tuple[StoredPassword, ...]
    accounts: int  # account entries under the base DN
    unreadable: tuple[str, ...]  # accounts without a userPassword this bind can read (absent or hidden)
    #: The bind is the database's rootdn, which reads every value: an account in ``unreadable`` has no password.
    #: False: a missing value may be hidden by an ACL.
    bind_reads_all: bool


@frozen
class Overlay:
    """An overlay that is configured and not disabled (``ldap.overlays``)."""

    database: str  # the database's config DN, e.g. "olcDatabase={1}mdb,cn=config"
    name: str
    covers_base: bool  # it is on the database holding the base DN, or on the frontend (all databases)
    logs_writes: bool  # for accesslog: olcAccessLogOps includes the write operations


@frozen
class LdapAccount:
    """One account entry of an OpenLDAP directory (``ldap.accounts``)."""

    dn: str
    name: str  # uid, else cn, else the DN
    person: bool  # a person object class (person, inetOrgPerson, posixAccount, ...), not only a bind identity
    #: locked out at collection time: pwdAccountLockedTime is set and its policy's pwdLockoutDuration has not run
    #: out since; None: a lock is set but its policy is not readable (cn=config), so whether it still holds is unknown
    locked: bool | None
    locked_permanently: bool  # pwdAccountLockedTime says "until an administrator unlocks" (an administrative lock)
    password_changed: datetime | None  # pwdChangedTime; None: not set or not readable
    last_success: datetime | None  # pwdLastSuccess (slapd lastbind); None: never, or not tracked
    groups: tuple[str, ...] = ()  # DNs of the groups listing it (member, uniqueMember, or memberUid for its uid)


@frozen
class LdapGroup:
    dn: str
    members: tuple[str, ...]  # member and uniqueMember DNs
    member_uids: tuple[str, ...] = ()  # posixGroup memberUid values


@frozen
class LdapAccounts:
    """Every account entry under the base DN and the groups (``ldap.accounts``)."""

    accounts: tuple[LdapAccount, ...]
    groups: tuple[LdapGroup, ...]
    tracks_last_bind: bool  # some entry carries pwdLastSuccess, so an absent value means "never"


AclWho = Literal["dn", "group", "users", "anyone", "anonymous", "self", "other"]


@frozen
class AclWriter:
    """One ``by`` clause of an olcAccess rule that grants write-level access (write, add, delete, manage)."""

    who: AclWho
    style: str  # dn/group: exact, base, one, subtree, children, regex, expand; else ""
    pattern: str  # the DN or group DN (or, for ``other``, the whole who text)
    level: str  # the access as written ("write", "manage", "=wrscx", ...)
    conditions: tuple[str, ...] = ()  # further who terms that narrow it (ssf=..., peername=...)


@frozen
class AclRule:
    database: str  # the database's config DN ("olcDatabase={1}mdb,cn=config")
    index: int
    text: str  # the olcAccess value as the server returned it
    writers: tuple[AclWriter, ...]
    parsed: bool = True  # False: the rule could not be read; it may grant write to anyone


@frozen
class DatabaseAccess:
    database: str
    suffixes: tuple[str, ...]
    root_dn: str | None


@frozen
class AccessRules:
    """Who may write, from cn=config (``ldap.access_rules``): every database's rootDN and olcAccess rules."""

    databases: tuple[DatabaseAccess, ...]
    rules: tuple[AclRule, ...]


@frozen
class Probe:
    """A bind-and-read probe's outcome (``ldap.anonymous_probe``, ``ldap.plaintext_bind_probe``)."""

    url: str
    reachable: bool
    refused: bool
    result: str
    detail: str
    entries_visible: int = 0

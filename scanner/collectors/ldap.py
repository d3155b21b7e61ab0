"""Directory facts (Active Directory and OpenLDAP) from one bound LDAPConnector.

Every fact is one row of ``TABLE``: its name, what it holds, which directory flavor it belongs to and the
function that asks the directory and parses the answer into the types of ``scanner.facts.ldap``. Each
function makes one or a few paged searches asking only for the attributes it needs; the evidence is the
search itself and what came back (never a password or a password hash). A fact that belongs to the other
flavor (an AD fact on OpenLDAP, or the reverse) is collected as ``None`` with the reason, and the checks
turn it into ``not_applicable``; a search that fails or an answer that cannot be trusted is a failed fact.

Fail closed: an attribute the answer must carry but does not (because the bind may not read it) is an
error, never a default; a policy that cannot be found is never taken as compliant.
"""
from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Protocol

from scanner.collectors import FactSpec
from scanner.connectors import ConnectorError
from scanner.facts.ldap import (
    DirectoryInfo,
    DirectoryUser,
    Flavor,
    GroupMember,
    Krbtgt,
    Overlay,
    PasswordRules,
    PasswordSettingsObject,
    PasswordStorage,
    PolicyOverride,
    PPolicyRules,
    PPolicyState,
    PrivilegedGroup,
    Probe,
    StoredPassword,
    TlsMode,
)
from scanner.model import Evidence, Fact, Target

if TYPE_CHECKING:
    from scanner.connectors.ldap import Entry

# -- wire knowledge: lives here and nowhere else ------------------------------------------------------
# userAccountControl bits ([MS-ADTS] 2.2.16)
UF_ACCOUNTDISABLE = 0x2
UF_PASSWD_NOTREQD = 0x20
UF_ENCRYPTED_TEXT_PWD_ALLOWED = 0x80
UF_DONT_EXPIRE_PASSWD = 0x10000
# pwdProperties bits
DOMAIN_PASSWORD_COMPLEX = 0x1
DOMAIN_PASSWORD_STORE_CLEARTEXT = 0x10
#: AD's "never" for an interval attribute (maxPwdAge, lockoutDuration).
AD_NEVER = -0x8000000000000000
#: FILETIME values at or above this mean "never" (accountExpires and friends).
FILETIME_NEVER = 0x7FFFFFFFFFFFFFFF
#: Privileged groups by well-known RID (domain-relative) or builtin SID.
PRIVILEGED_DOMAIN_RIDS = {512: "Domain Admins", 518: "Schema Admins", 519: "Enterprise Admins"}
#: Groups that exist only in the forest root domain.
FOREST_ROOT_RIDS = frozenset({518, 519})
PRIVILEGED_BUILTIN_SIDS = {
    "S-1-5-32-544": "Administrators",
    "S-1-5-32-548": "Account Operators",
    "S-1-5-32-549": "Server Operators",
    "S-1-5-32-551": "Backup Operators",
}
SALTED_SCHEMES = frozenset({"SSHA", "SSHA256", "SSHA384", "SSHA512", "ARGON2", "PBKDF2", "PBKDF2-SHA1",
                            "PBKDF2-SHA256", "PBKDF2-SHA512", "BCRYPT", "SASL", "K5KEY"})
#: crypt(3) ids that are salted and still considered strong; DES, BSDi, MD5-crypt and friends are not.
STRONG_CRYPT_IDS = {"2a": "BCRYPT", "2b": "BCRYPT", "2y": "BCRYPT", "5": "SHA256", "6": "SHA512", "y": "YESCRYPT",
                    "gy": "GOST-YESCRYPT", "7": "SCRYPT", "argon2i": "ARGON2", "argon2d": "ARGON2",
                    "argon2id": "ARGON2"}
WEAK_CRYPT_IDS = {"1": "MD5", "2": "BCRYPT-OLD", "2x": "BCRYPT-BUGGY", "md5": "SUN-MD5", "sha1": "SHA1",
                  "3": "NTHASH"}

USER_FILTER = "(&(objectCategory=person)(objectClass=user))"
USER_ATTRS = ["sAMAccountName", "userAccountControl", "lastLogonTimestamp", "pwdLastSet", "whenCreated", "memberOf",
              "description"]
MEMBER_ATTRS = ["objectClass", "objectSid", "sAMAccountName", "userAccountControl", "member"]
GENERALIZED_TIME = re.compile(r"(\d{14})(?:[.,]\d+)?Z")
RANGE_RE = re.compile(r"^member;range=(\d+)-(\d+|\*)$")
DOMAIN_POLICY_ATTRS = {  # attribute -> what it is, every one required
    "minPwdLength": "minimum length", "pwdProperties": "complexity and reversible-encryption flags",
    "maxPwdAge": "maximum age", "minPwdAge": "minimum age", "pwdHistoryLength": "history",
    "lockoutThreshold": "lockout threshold", "lockoutDuration": "lockout duration",
    "lockOutObservationWindow": "lockout window",
}
PSO_RULE_ATTRS = ["msDS-PasswordSettingsPrecedence", "msDS-MinimumPasswordLength", "msDS-PasswordComplexityEnabled",
                  "msDS-PasswordReversibleEncryptionEnabled", "msDS-MaximumPasswordAge", "msDS-MinimumPasswordAge",
                  "msDS-PasswordHistoryLength", "msDS-LockoutThreshold", "msDS-LockoutDuration",
                  "msDS-LockoutObservationWindow"]  # all mandatory on msDS-PasswordSettings
PPOLICY_ATTRS = ["pwdMinLength", "pwdMaxAge", "pwdInHistory", "pwdLockout", "pwdMaxFailure", "pwdLockoutDuration",
                 "pwdCheckQuality"]
ACCOUNT_FILTER = "(|(objectClass=person)(objectClass=simpleSecurityObject)(objectClass=posixAccount)(userPassword=*))"
ACCESSLOG_WRITE_OPS = frozenset({"add", "delete", "modify", "modrdn"})


# -- what the collector needs from a connector ---------------------------------------------------------
class _Settings(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def tls_mode(self) -> str: ...
    @property
    def allow_plaintext(self) -> bool: ...


class _ProbeResult(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def reachable(self) -> bool: ...
    @property
    def refused(self) -> bool: ...
    @property
    def result(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def entries_visible(self) -> int: ...


class Directory(Protocol):
    """The part of ``scanner.connectors.ldap.LDAPConnector`` the collector uses."""

    @property
    def settings(self) -> _Settings: ...
    @property
    def root_dse(self) -> Entry | None: ...
    @property
    def flavor(self) -> str | None: ...
    @property
    def flavor_source(self) -> str: ...
    @property
    def base_dn(self) -> str | None: ...
    @property
    def bound_as(self) -> str: ...
    def search(self, base: str, search_filter: str, attributes: list[str], *, scope: str = ...,
               paged: bool = ...) -> list[Entry]: ...
    def search_one(self, base: str, attributes: list[str]) -> Entry | None: ...
    def probe_anonymous(self) -> _ProbeResult: ...
    def probe_plaintext_bind(self) -> _ProbeResult: ...
    def probe_dn(self) -> str: ...


class _Members(Protocol):
    """Enough of a directory to expand group membership (a base read per member)."""

    def search_one(self, base: str, attributes: list[str]) -> Entry | None: ...


# -- conversions --------------------------------------------------------------------------------------
def filetime(value: int | None) -> datetime | None:
    """AD FILETIME (100 ns since 1601) -> UTC datetime; 0 and 'never' are None; a negative value is an error."""
    if not value or value >= FILETIME_NEVER:
        return None
    if value < 0:
        raise ValueError(f"invalid FILETIME {value}")
    return datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=value // 10)


def interval_minutes(value: int | None) -> float | None:
    """AD negative 100 ns interval -> minutes; AD_NEVER -> None."""
    if value is None or value == AD_NEVER:
        return None
    return abs(value) / 600_000_000


def interval_days(value: int | None) -> float | None:
    minutes = interval_minutes(value)
    return None if minutes is None else minutes / 1440


def _never_if_zero(days: float | None) -> float | None:
    return None if not days else days


def generalized_time(text: str | None) -> datetime | None:
    """``YYYYMMDDHHMMSS[.f]Z`` -> UTC datetime (int() slices are ~10x faster than strptime on 10,000 users)."""
    if not text:
        return None
    m = GENERALIZED_TIME.fullmatch(text)
    if not m:
        raise ValueError(f"not a UTC generalized time: {text[:40]!r}")
    t = m.group(1)
    return datetime(int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[8:10]), int(t[10:12]), int(t[12:14]),
                    tzinfo=timezone.utc)


def sid_to_str(raw: bytes) -> str:
    revision, count = raw[0], raw[1]
    authority = int.from_bytes(raw[2:8], "big")
    if len(raw) != 8 + 4 * count:
        raise ValueError(f"malformed SID of {len(raw)} bytes")
    subs = struct.unpack(f"<{count}I", raw[8:8 + 4 * count])
    return f"S-{revision}-{authority}" + "".join(f"-{s}" for s in subs)


def ad_bool(text: str | None) -> bool:
    """LDAP Boolean: TRUE or FALSE, anything else is an error (an absent value is the caller's problem)."""
    value = (text or "").upper()
    if value not in ("TRUE", "FALSE"):
        raise ValueError(f"not an LDAP boolean: {str(text)[:40]!r}")
    return value == "TRUE"


def password_scheme(value: bytes) -> str:
    """The storage scheme of a userPassword value, upper case; ``{CRYPT}`` is refined by its crypt(3) id."""
    m = re.match(rb"^\{([A-Za-z0-9.\-_]+)\}", value)
    if not m:
        return "CLEARTEXT"
    scheme = m.group(1).decode().upper()
    if scheme == "CRYPT":
        rest = value[m.end():].decode("ascii", "replace")
        ident = rest[1:].split("$", 1)[0] if rest.startswith("$") else ("BSDI" if rest.startswith("_") else "DES")
        return "CRYPT-" + STRONG_CRYPT_IDS.get(ident, WEAK_CRYPT_IDS.get(ident, ident.upper()))
    return "PBKDF2" if scheme.startswith("PBKDF2") and scheme not in SALTED_SCHEMES else scheme


def stored_password(dn: str, value: bytes) -> StoredPassword:
    scheme = password_scheme(value)
    strong = scheme in SALTED_SCHEMES or scheme.removeprefix("CRYPT-") in set(STRONG_CRYPT_IDS.values())
    return StoredPassword(dn, scheme, strong and scheme != "CRYPT-DES")


def normalize_dn(dn: str) -> str:
    """Case and the spaces around separators do not change a DN (enough for the DNs compared here)."""
    return ",".join("=".join(p.strip() for p in rdn.split("=", 1)) for rdn in dn.lower().split(","))


def _required(e: Entry, names: Iterable[str]) -> None:
    missing = [n for n in names if not e.get(n)]
    if missing:
        raise ValueError(f"{e.dn}: {', '.join(missing)} not returned (absent, or not readable by this bind)")


def _int(e: Entry, name: str) -> int:
    value = e.integer(name)
    if value is None:
        raise ValueError(f"{e.dn}: {name} not returned (absent, or not readable by this bind)")
    return value


def _count(e: Entry, name: str) -> int:
    """A length, history size or threshold: negative is outside the attribute's range (and would compare as
    stricter than any limit)."""
    value = _int(e, name)
    if value < 0:
        raise ValueError(f"{e.dn}: {name} is {value}, outside its range")
    return value


# -- evidence -----------------------------------------------------------------------------------------
def _render_value(value: bytes) -> str:
    try:
        text = value.decode("utf-8")
        if text.isprintable():
            return f" {text}"
    except UnicodeDecodeError:
        pass
    return f": {base64.b64encode(value).decode()}"


def render(entries: Iterable[Entry]) -> str:
    """Entries as LDIF-like text (non-printable values base64-encoded, as in LDIF)."""
    out: list[str] = []
    for e in entries:
        out.append(f"dn: {e.dn}")
        for name, values in sorted(e.attrs.items()):
            out.extend(f"{name}:{_render_value(v)}" for v in values)
        out.append("")
    return "\n".join(out)


class _Recorder:
    """Runs searches through the connector and keeps each one as evidence."""

    def __init__(self, conn: Directory):
        self.conn = conn
        self.evidence: list[Evidence] = []

    def search(self, base: str, flt: str, attrs: list[str], *, scope: str = "SUBTREE",
               shown: Callable[[list[Entry]], str] = render) -> list[Entry]:
        """Search and keep the search and its answer as evidence (``shown`` decides what the answer looks like)."""
        entries = self.conn.search(base, flt, attrs, scope=scope)  # ldap3's scope constants are these names
        source = f"ldap search base={base!r} scope={scope.lower()} filter={flt} attrs={','.join(attrs)}"
        self.evidence.append(Evidence.of(source, shown(entries)))
        return entries

    def note(self, source: str, text: str) -> None:
        self.evidence.append(Evidence.of(source, text))


def _base(conn: Directory) -> str:
    if not conn.base_dn:
        raise ValueError("no base DN: the root DSE names no naming context; set base_dn on the target")
    return conn.base_dn


# -- any directory ------------------------------------------------------------------------------------
def _root_dse(conn: Directory, rec: _Recorder) -> DirectoryInfo:
    dse = conn.root_dse
    if dse is None:
        raise ValueError("the root DSE was not read")
    rec.note("ldap root DSE (base '' scope base attrs=*,+)", render([dse]))
    flavor: Flavor
    if conn.flavor == "ad":
        flavor = "ad"
    elif conn.flavor == "openldap":
        flavor = "openldap"
    else:
        raise ValueError("directory flavor not recognised from the root DSE (neither the Active Directory "
                         "capability nor OpenLDAProotDSE); set flavor: ad or openldap on the target")
    base = _base(conn)
    s = conn.settings
    tls: TlsMode = "ldaps" if s.tls_mode == "ldaps" else "starttls" if s.tls_mode == "starttls" else "none"
    vendor = dse.text("vendorName") or ("Active Directory" if flavor == "ad" else "OpenLDAP")
    return DirectoryInfo(
        url=s.url, flavor=flavor, flavor_source=conn.flavor_source, tls=tls,
        certificate_validated=tls != "none", plaintext_allowed=s.allow_plaintext, bound_as=conn.bound_as,
        base_dn=base, naming_contexts=dse.texts("namingContexts"), vendor=vendor,
    )


def _probe(result: _ProbeResult) -> Probe:
    return Probe(url=result.url, reachable=result.reachable, refused=result.refused, result=result.result,
                 detail=result.detail, entries_visible=result.entries_visible)


def _anonymous_probe(conn: Directory, rec: _Recorder) -> Probe:
    got = _probe(conn.probe_anonymous())
    rec.note(f"ldap anonymous bind + search base={conn.base_dn!r} size_limit=5 at {got.url}",
             f"{got.result}: {got.detail} (entries visible: {got.entries_visible})")
    if not got.reachable:
        raise ValueError(f"anonymous probe could not reach {got.url}: {got.detail}")
    if got.result == "starttls failed":
        raise ValueError(f"anonymous probe: StartTLS failed at {got.url}: {got.detail}")
    return got


def _plaintext_probe(conn: Directory, rec: _Recorder) -> Probe:
    got = _probe(conn.probe_plaintext_bind())
    rec.note(f"ldap simple bind without TLS at {got.url} as {conn.probe_dn()} (does not exist) with a made-up "
             "password", f"{got.result}: {got.detail}")
    if got.result == "probe failed":
        raise ValueError(f"cleartext bind probe at {got.url} failed: {got.detail}")
    return got


# -- Active Directory ---------------------------------------------------------------------------------
def domain_rules(e: Entry) -> PasswordRules:
    """The domain head's password and lockout attributes; every one must be there."""
    _required(e, DOMAIN_POLICY_ATTRS)
    props = _int(e, "pwdProperties")
    return PasswordRules(
        min_length=_count(e, "minPwdLength"),
        complexity=bool(props & DOMAIN_PASSWORD_COMPLEX),
        reversible_encryption=bool(props & DOMAIN_PASSWORD_STORE_CLEARTEXT),
        max_age_days=_never_if_zero(interval_days(_int(e, "maxPwdAge"))),
        min_age_days=interval_days(_int(e, "minPwdAge")) or 0.0,
        history=_count(e, "pwdHistoryLength"),
        lockout_threshold=_count(e, "lockoutThreshold"),
        lockout_duration_minutes=interval_minutes(_int(e, "lockoutDuration")),
        lockout_window_minutes=interval_minutes(_int(e, "lockOutObservationWindow")) or 0.0,
    )


def _domain_policy(conn: Directory, rec: _Recorder) -> PasswordRules:
    base = _base(conn)
    found = rec.search(base, "(objectClass=domain)", list(DOMAIN_POLICY_ATTRS), scope="BASE")
    if not found:
        raise ValueError(f"domain head {base} not found (is base_dn the domain's naming context?)")
    return domain_rules(found[0])


def pso(e: Entry) -> PasswordSettingsObject:
    """One msDS-PasswordSettings entry; its rule attributes are mandatory, so a missing one is unreadable."""
    _required(e, PSO_RULE_ATTRS)
    return PasswordSettingsObject(
        name=e.text("cn") or e.dn, dn=e.dn, precedence=_int(e, "msDS-PasswordSettingsPrecedence"),
        applies_to=e.texts("msDS-PSOAppliesTo"),
        rules=PasswordRules(
            min_length=_count(e, "msDS-MinimumPasswordLength"),
            complexity=ad_bool(e.text("msDS-PasswordComplexityEnabled")),
            reversible_encryption=ad_bool(e.text("msDS-PasswordReversibleEncryptionEnabled")),
            max_age_days=_never_if_zero(interval_days(_int(e, "msDS-MaximumPasswordAge"))),
            min_age_days=interval_days(_int(e, "msDS-MinimumPasswordAge")) or 0.0,
            history=_count(e, "msDS-PasswordHistoryLength"),
            lockout_threshold=_count(e, "msDS-LockoutThreshold"),
            lockout_duration_minutes=interval_minutes(_int(e, "msDS-LockoutDuration")),
            lockout_window_minutes=interval_minutes(_int(e, "msDS-LockoutObservationWindow")) or 0.0,
        ))


def _psos(conn: Directory, rec: _Recorder) -> tuple[PasswordSettingsObject, ...]:
    base = _base(conn)
    container = f"CN=Password Settings Container,CN=System,{base}"
    if conn.search_one(container, ["cn"]) is None:
        raise ValueError(f"{container} is not readable by {conn.bound_as}: cannot tell whether fine-grained "
                         "password policies exist")
    found = tuple(pso(e) for e in rec.search(container, "(objectClass=msDS-PasswordSettings)",
                                             ["cn", *PSO_RULE_ATTRS, "msDS-PSOAppliesTo"], scope="LEVEL"))
    # A PSO this bind cannot see still shows as msDS-PSOApplied on the users and groups it applies to.
    applied = rec.search(base, "(msDS-PSOApplied=*)", ["msDS-PSOApplied"])
    seen = {normalize_dn(p.dn) for p in found}
    hidden = sorted({dn for e in applied for dn in e.texts("msDS-PSOApplied") if normalize_dn(dn) not in seen})
    if hidden:
        raise ValueError(f"password settings objects applied to accounts but not readable by {conn.bound_as}: "
                         + "; ".join(hidden))
    return tuple(sorted(found, key=lambda p: (p.precedence, p.name)))


def user(e: Entry) -> DirectoryUser:
    uac = e.integer("userAccountControl")
    if uac is None:
        raise ValueError(f"{e.dn} has no readable userAccountControl")
    return DirectoryUser(
        sam=e.text("sAMAccountName") or e.dn, dn=e.dn,
        disabled=bool(uac & UF_ACCOUNTDISABLE), password_never_expires=bool(uac & UF_DONT_EXPIRE_PASSWD),
        password_not_required=bool(uac & UF_PASSWD_NOTREQD),
        reversible_encryption=bool(uac & UF_ENCRYPTED_TEXT_PWD_ALLOWED),
        last_logon=filetime(e.integer("lastLogonTimestamp")), pwd_last_set=filetime(e.integer("pwdLastSet")),
        created=generalized_time(e.text("whenCreated")), member_of=e.texts("memberOf"),
        description=e.text("description") or "",
    )


def _users(conn: Directory, rec: _Recorder) -> tuple[DirectoryUser, ...]:
    base = _base(conn)
    entries = rec.search(base, USER_FILTER, USER_ATTRS)
    if not entries:
        raise ValueError(f"no user accounts visible under {base} to {conn.bound_as}")
    return tuple(user(e) for e in entries)


def member_values(conn: _Members, entry: Entry) -> tuple[str, ...]:
    """All values of ``member``, following AD's ranged retrieval (member;range=0-1499) to the end."""
    def ranged_key(e: Entry) -> tuple[str, re.Match[str]] | None:
        return next(((k, m) for k in e.attrs if (m := RANGE_RE.match(k))), None)

    values = list(entry.texts("member"))
    ranged = ranged_key(entry)
    while ranged:
        key, m = ranged
        values += [v.decode("utf-8", "replace") for v in entry.attrs[key]]
        if m.group(2) == "*":
            break
        dn = entry.dn
        follow = conn.search_one(dn, [f"member;range={int(m.group(2)) + 1}-*"])
        if follow is None:
            raise ValueError(f"member range retrieval on {dn} failed")
        entry = follow
        ranged = ranged_key(entry)
        if ranged is None:
            raise ValueError("member range retrieval returned no range")
    return tuple(values)


def _is_group(entry: Entry) -> bool:
    classes = {c.lower() for c in entry.texts("objectClass")}
    if not classes:
        raise ValueError(f"objectClass of {entry.dn} is not readable: cannot tell whether it is a group")
    return "group" in classes


def _no_primary(group: Entry) -> list[Entry]:
    return []


def _member(entry: Entry, nested: bool, primary: bool = False) -> GroupMember:
    # a member whose userAccountControl is not readable cannot be shown to be disabled: it counts as enabled
    return GroupMember(sam=entry.text("sAMAccountName") or entry.dn, dn=entry.dn, nested=nested,
                       enabled=not (entry.integer("userAccountControl") or 0) & UF_ACCOUNTDISABLE,
                       primary_group=primary)


def expand_members(conn: _Members, group: Entry, cache: dict[str, Entry | None],
                   primary_members: Callable[[Entry], list[Entry]] = _no_primary) -> tuple[GroupMember, ...]:
    """Every non-group member of ``group``, nested groups expanded breadth-first (direct members first, cycles cut).

    ``primary_members(g)`` gives the accounts whose primary group is ``g``: AD does not list them in ``member``.
    A member that cannot be read is an error: an unreadable nested group could hide privileged users.
    """
    found: dict[str, GroupMember] = {}
    seen = {group.dn.lower()}
    queue: list[tuple[str, bool]] = []

    def add(member: GroupMember) -> None:
        key = member.dn.lower()
        if key not in found or found[key].nested and not member.nested:
            found[key] = member

    def visit_group(g: Entry, nested: bool) -> None:
        queue.extend((m, nested) for m in member_values(conn, g))
        for p in primary_members(g):
            add(_member(p, nested, primary=True))

    visit_group(group, False)
    while queue:
        dn, nested = queue.pop(0)
        key = dn.lower()
        if key in seen:
            continue
        seen.add(key)
        if key not in cache:
            cache[key] = conn.search_one(dn, MEMBER_ATTRS)
        entry = cache[key]
        if entry is None:
            raise ValueError(f"member {dn} of {group.dn} is not readable")
        if _is_group(entry):
            visit_group(entry, True)
        else:
            add(_member(entry, nested))
    return tuple(sorted(found.values(), key=lambda m: m.sam.lower()))


def _privileged_groups(conn: Directory, rec: _Recorder) -> tuple[PrivilegedGroup, ...]:
    base = _base(conn)
    head = rec.search(base, "(objectClass=*)", ["objectSid"], scope="BASE")
    raw_sid = head[0].get("objectSid") if head else []
    if not raw_sid:
        raise ValueError(f"domain SID not readable on {base}")
    domain_sid = sid_to_str(raw_sid[0])
    wanted = {f"{domain_sid}-{rid}": name for rid, name in PRIVILEGED_DOMAIN_RIDS.items()}
    wanted.update(PRIVILEGED_BUILTIN_SIDS)
    flt = "(&(objectClass=group)(|" + "".join(f"(objectSid={sid})" for sid in wanted) + "))"
    by_sid = {sid_to_str(g.get("objectSid")[0]): g for g in rec.search(base, flt, ["objectSid", "cn", "member"])}
    forest_root = (conn.root_dse.text("rootDomainNamingContext") if conn.root_dse else None) or base
    cache: dict[str, Entry | None] = {}
    primaries: dict[str, list[Entry]] = {}

    def primary_members(group: Entry) -> list[Entry]:
        """Accounts whose primaryGroupID is this group's RID (only groups of this domain can be primary)."""
        sid = sid_to_str(group.get("objectSid")[0]) if group.get("objectSid") else ""
        if not sid.startswith(f"{domain_sid}-"):
            return []
        if sid not in primaries:
            rid = sid.rsplit("-", 1)[1]
            primaries[sid] = conn.search(base, f"(primaryGroupID={rid})", MEMBER_ATTRS)
        return primaries[sid]

    out = []
    for sid, name in wanted.items():
        g = by_sid.get(sid)
        rid = int(sid.rsplit("-", 1)[1])
        if g is None and sid.startswith(f"{domain_sid}-") and rid in FOREST_ROOT_RIDS \
                and normalize_dn(forest_root) != normalize_dn(base):
            out.append(PrivilegedGroup(name=name, sid=sid, dn="", members=(), held_by=forest_root))
            continue
        if g is None:
            raise ValueError(f"{name} ({sid}) not found under {base}: privileged groups are not readable by "
                             f"{conn.bound_as}")
        out.append(PrivilegedGroup(name=name, sid=sid, dn=g.dn,
                                   members=expand_members(conn, g, cache, primary_members)))
    rec.note(f"ldap base searches attrs={','.join(MEMBER_ATTRS)} for {len(cache)} members of privileged groups "
             "(nested groups expanded)", render(e for e in cache.values() if e is not None))
    rec.note(f"ldap searches base={base!r} filter=(primaryGroupID=<rid>) for {len(primaries)} groups "
             "(members through their primary group)",
             "\n".join(f"{sid}: {', '.join(e.dn for e in entries) or '(none)'}" for sid, entries in primaries.items()))
    return tuple(sorted(out, key=lambda g: g.name))


def _krbtgt(conn: Directory, rec: _Recorder) -> Krbtgt:
    found = rec.search(_base(conn), "(&(objectClass=user)(sAMAccountName=krbtgt))", ["pwdLastSet"])
    if len(found) != 1:
        raise ValueError(f"expected one krbtgt account, found {len(found)}")
    return Krbtgt(dn=found[0].dn, pwd_last_set=filetime(found[0].integer("pwdLastSet")))


# -- OpenLDAP -----------------------------------------------------------------------------------------
def _config_readable(conn: Directory) -> None:
    if conn.search_one("cn=config", ["cn"]) is None:
        raise ValueError(f"cn=config is not readable by {conn.bound_as}; grant it read access to cn=config")


def _strip_index(value: str | None) -> str:
    return re.sub(r"^\{-?\d+\}", "", value or "")


def base_database(databases: Iterable[Entry], base_dn: str) -> Entry | None:
    """The database whose suffix holds ``base_dn`` (the longest suffix wins, as slapd picks it)."""
    base = normalize_dn(base_dn)
    best: tuple[int, Entry] | None = None
    for db in databases:
        for suffix in db.texts("olcSuffix"):
            s = normalize_dn(suffix)
            if (base == s or base.endswith("," + s)) and (best is None or len(s) > best[0]):
                best = (len(s), db)
    return best[1] if best else None


def _covers(db_dn: str, base_db: Entry | None) -> bool:
    """An overlay acts on the base DN's data when it sits on that database or on the frontend (global)."""
    name = _strip_index(db_dn.split(",", 1)[0].split("=", 1)[-1]).lower()
    return name == "frontend" or (base_db is not None and normalize_dn(db_dn) == normalize_dn(base_db.dn))


def overlays(databases: list[Entry], found: list[Entry], base_dn: str) -> tuple[Overlay, ...]:
    """Configured overlays that are not disabled, with where they act and (accesslog) whether writes are logged."""
    base_db = base_database(databases, base_dn)
    out = []
    for e in found:
        if (e.text("olcDisabled") or "").upper() == "TRUE":
            continue
        name = _strip_index(e.text("olcOverlay"))
        ops = {o.lower() for o in e.texts("olcAccessLogOps")}
        logs_writes = name != "accesslog" or bool(ops & {"writes", "all"}) or ACCESSLOG_WRITE_OPS <= ops
        database = e.dn.split(",", 1)[1]
        out.append(Overlay(database=database, name=name, covers_base=_covers(database, base_db),
                           logs_writes=logs_writes))
    return tuple(out)


def _read_overlays(conn: Directory, rec: _Recorder) -> tuple[list[Entry], list[Entry]]:
    _config_readable(conn)
    databases = rec.search("cn=config", "(objectClass=olcDatabaseConfig)", ["olcSuffix", "olcRootDN"],
                           scope="LEVEL")
    found = rec.search("cn=config", "(objectClass=olcOverlayConfig)",
                       ["olcOverlay", "olcDisabled", "olcPPolicyDefault", "olcAccessLogOps"])
    return databases, found


def _overlays(conn: Directory, rec: _Recorder) -> tuple[Overlay, ...]:
    return overlays(*_read_overlays(conn, rec), _base(conn))


def ppolicy_rules(e: Entry) -> PPolicyRules:
    """A pwdPolicy entry. An absent attribute takes the ppolicy default, which is always the weaker setting."""
    max_age = e.integer("pwdMaxAge") or 0  # 0 (and, for slapd, anything below) means passwords never expire
    lockout = e.text("pwdLockout")
    return PPolicyRules(
        dn=e.dn, min_length=e.integer("pwdMinLength") or 0,
        min_length_enforced=(e.integer("pwdCheckQuality") or 0) > 0,  # 0 or absent: no quality check at all
        max_age_days=max_age / 86400 if max_age > 0 else None, in_history=e.integer("pwdInHistory") or 0,
        lockout=ad_bool(lockout) if lockout is not None else False, max_failure=e.integer("pwdMaxFailure") or 0,
        lockout_duration_seconds=e.integer("pwdLockoutDuration") or 0,
    )


def _policy_entry(conn: Directory, rec: _Recorder, dn: str) -> PPolicyRules | None:
    if conn.search_one(dn, ["objectClass"]) is None:
        return None
    found = rec.search(dn, "(objectClass=pwdPolicy)", PPOLICY_ATTRS, scope="BASE")
    return ppolicy_rules(found[0]) if found else None


def _ppolicy(conn: Directory, rec: _Recorder) -> PPolicyState:
    base = _base(conn)
    databases, found = _read_overlays(conn, rec)
    base_db = base_database(databases, base)
    acting = [e for e in found if _strip_index(e.text("olcOverlay")) == "ppolicy"
              and (e.text("olcDisabled") or "").upper() != "TRUE" and _covers(e.dn.split(",", 1)[1], base_db)]
    default_dn = next((e.text("olcPPolicyDefault") for e in acting if e.text("olcPPolicyDefault")), None)
    if not acting:
        return PPolicyState(overlay_enabled=False, default_dn=default_dn, default=None)
    default = _policy_entry(conn, rec, default_dn) if default_dn else None
    # Entries may name their own policy (pwdPolicySubentry); each one named is judged like the default.
    named: dict[str, list[str]] = {}
    for e in rec.search(base, "(pwdPolicySubentry=*)", ["pwdPolicySubentry"]):
        for dn in e.texts("pwdPolicySubentry"):
            named.setdefault(dn, []).append(e.dn)
    overrides = tuple(PolicyOverride(policy_dn=dn, rules=_policy_entry(conn, rec, dn), entries=tuple(entries))
                      for dn, entries in sorted(named.items()))
    return PPolicyState(overlay_enabled=True, default_dn=default_dn, default=default, overrides=overrides)


def _bind_is_rootdn(conn: Directory, rec: _Recorder, base: str) -> bool:
    """True when the bind DN is the rootdn of the base DN's database (read from cn=config, when readable)."""
    if conn.search_one("cn=config", ["cn"]) is None:
        return False
    db = base_database(rec.search("cn=config", "(objectClass=olcDatabaseConfig)", ["olcSuffix", "olcRootDN"],
                                  scope="LEVEL"), base)
    root = db.text("olcRootDN") if db else None
    return root is not None and normalize_dn(root) == normalize_dn(conn.bound_as)


def _password_hashes(conn: Directory, rec: _Recorder) -> PasswordStorage:
    def schemes_only(entries: list[Entry]) -> str:
        return "\n".join(f"{e.dn}: {password_scheme(v) if v else '(no readable value)'}"
                         for e in entries for v in (e.get("userPassword") or [b""]))

    base = _base(conn)
    # One search: every account, with userPassword where this bind may read it (values never leave here).
    found = rec.search(base, ACCOUNT_FILTER, ["userPassword"], shown=schemes_only)
    if not found:
        raise ValueError(f"no account entries visible under {base} to {conn.bound_as}")
    stored = tuple(stored_password(e.dn, v) for e in found for v in e.get("userPassword"))
    unreadable = tuple(e.dn for e in found if not e.get("userPassword"))
    if not stored:
        raise ValueError(f"{len(found)} accounts but no readable userPassword: bind as a DN allowed to read "
                         "userPassword (e.g. the rootdn) to check how passwords are stored")
    return PasswordStorage(stored=stored, accounts=len(found), unreadable=unreadable,
                           bind_reads_all=_bind_is_rootdn(conn, rec, base) if unreadable else True)


# -- the table ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DirectoryFact:
    name: str
    description: str
    collect: Callable[[Directory, _Recorder], object]
    flavor: Flavor | None = None  # None: any directory


TABLE: tuple[DirectoryFact, ...] = (
    DirectoryFact("ldap.root_dse", "how the directory was reached (TLS mode, plaintext allowance, bind identity) and "
                  "its flavor", _root_dse),
    DirectoryFact("ldap.domain_policy", "AD domain password and lockout policy (domain head attributes)",
                  _domain_policy, "ad"),
    DirectoryFact("ldap.password_settings_objects", "AD fine-grained password policies (msDS-PasswordSettings) and "
                  "their targets", _psos, "ad"),
    DirectoryFact("ldap.users", "AD user accounts: userAccountControl, lastLogonTimestamp, pwdLastSet, memberOf",
                  _users, "ad"),
    DirectoryFact("ldap.privileged_groups", "AD privileged groups with their user members, nested and primary-group "
                  "membership resolved", _privileged_groups, "ad"),
    DirectoryFact("ldap.krbtgt", "AD krbtgt account password age", _krbtgt, "ad"),
    DirectoryFact("ldap.ppolicy", "OpenLDAP ppolicy overlay default policy and per-entry policies (cn=config and "
                  "the policy entries)", _ppolicy, "openldap"),
    DirectoryFact("ldap.anonymous_probe", "anonymous bind and search attempt (bind and read only)", _anonymous_probe),
    DirectoryFact("ldap.plaintext_bind_probe", "simple bind without TLS as a non-existent DN (no real password or "
                  "account involved)", _plaintext_probe),
    DirectoryFact("ldap.password_hashes", "OpenLDAP userPassword storage schemes (scheme only, never the value)",
                  _password_hashes, "openldap"),
    DirectoryFact("ldap.overlays", "OpenLDAP overlays per database from cn=config", _overlays, "openldap"),
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
    rec = _Recorder(conn)
    try:
        if spec.collect is not _root_dse:
            _root_dse(conn, _Recorder(conn))  # unknown flavor or base: every fact fails with that reason
        value = spec.collect(conn, rec)
    except (ConnectorError, ValueError, LookupError, struct.error, OverflowError) as exc:
        return Fact.failed(name, f"{name}: {exc}", tuple(rec.evidence))
    return Fact(name, value, tuple(rec.evidence))


def collect(connector: Directory, target: Target, names: Iterable[str]) -> dict[str, Fact]:
    return {name: collect_one(connector, name) if name in BY_NAME else Fact.failed(name, f"unknown ldap fact {name}")
            for name in names}

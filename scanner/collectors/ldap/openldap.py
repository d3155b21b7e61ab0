"""OpenLDAP facts from cn=config and the data: ppolicy, overlays, how userPassword values are stored.

The cn=config attribute names (olcOverlay, olcPPolicyDefault, olcAccessLogOps, olcDisabled), the pwdPolicy
attributes and the password storage schemes live here and nowhere else.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from scanner.collectors.ldap.common import Directory, Recorder, ad_bool, base_dn, generalized_time, normalize_dn
from scanner.facts.ldap import (
    AccessRules,
    AclRule,
    AclWho,
    AclWriter,
    DatabaseAccess,
    LdapAccount,
    LdapAccounts,
    LdapGroup,
    Overlay,
    PasswordStorage,
    PolicyOverride,
    PPolicyRules,
    PPolicyState,
    StoredPassword,
)
from scanner.model import utcnow

if TYPE_CHECKING:
    from scanner.connectors.ldap import Entry

SALTED_SCHEMES = frozenset({"SSHA", "SSHA256", "SSHA384", "SSHA512", "ARGON2", "PBKDF2", "PBKDF2-SHA1",
                            "PBKDF2-SHA256", "PBKDF2-SHA512", "BCRYPT", "SASL", "K5KEY"})
#: crypt(3) ids that are salted and still considered strong; DES, BSDi, MD5-crypt and friends are not.
STRONG_CRYPT_IDS = {"2a": "BCRYPT", "2b": "BCRYPT", "2y": "BCRYPT", "5": "SHA256", "6": "SHA512", "y": "YESCRYPT",
                    "gy": "GOST-YESCRYPT", "7": "SCRYPT", "argon2i": "ARGON2", "argon2d": "ARGON2",
                    "argon2id": "ARGON2"}
WEAK_CRYPT_IDS = {"1": "MD5", "2": "BCRYPT-OLD", "2x": "BCRYPT-BUGGY", "md5": "SUN-MD5", "sha1": "SHA1",
                  "3": "NTHASH"}

PPOLICY_ATTRS = ["pwdMinLength", "pwdMaxAge", "pwdInHistory", "pwdLockout", "pwdMaxFailure", "pwdLockoutDuration",
                 "pwdCheckQuality"]
ACCOUNT_FILTER = "(|(objectClass=person)(objectClass=simpleSecurityObject)(objectClass=posixAccount)(userPassword=*))"
ACCESSLOG_WRITE_OPS = frozenset({"add", "delete", "modify", "modrdn"})


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
    strong_crypt = scheme.startswith("CRYPT-") and scheme.removeprefix("CRYPT-") in set(STRONG_CRYPT_IDS.values())
    return StoredPassword(dn, scheme, scheme in SALTED_SCHEMES or strong_crypt)


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


def parse_overlays(databases: list[Entry], found: list[Entry], base_dn: str) -> tuple[Overlay, ...]:
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


def _read_overlays(conn: Directory, rec: Recorder) -> tuple[list[Entry], list[Entry]]:
    _config_readable(conn)
    databases = rec.search("cn=config", "(objectClass=olcDatabaseConfig)", ["olcSuffix", "olcRootDN"],
                           scope="LEVEL")
    found = rec.search("cn=config", "(objectClass=olcOverlayConfig)",
                       ["olcOverlay", "olcDisabled", "olcPPolicyDefault", "olcAccessLogOps"])
    return databases, found


def overlays(conn: Directory, rec: Recorder) -> tuple[Overlay, ...]:
    return parse_overlays(*_read_overlays(conn, rec), base_dn(conn))


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


def _policy_entry(conn: Directory, rec: Recorder, dn: str) -> PPolicyRules | None:
    if conn.search_one(dn, ["objectClass"]) is None:
        return None
    found = rec.search(dn, "(objectClass=pwdPolicy)", PPOLICY_ATTRS, scope="BASE")
    return ppolicy_rules(found[0]) if found else None


def ppolicy(conn: Directory, rec: Recorder) -> PPolicyState:
    base = base_dn(conn)
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


def _bind_is_rootdn(conn: Directory, rec: Recorder, base: str) -> bool:
    """True when the bind DN is the rootdn of the base DN's database (read from cn=config, when readable)."""
    if conn.search_one("cn=config", ["cn"]) is None:
        return False
    db = base_database(rec.search("cn=config", "(objectClass=olcDatabaseConfig)", ["olcSuffix", "olcRootDN"],
                                  scope="LEVEL"), base)
    root = db.text("olcRootDN") if db else None
    return root is not None and normalize_dn(root) == normalize_dn(conn.bound_as)


def password_hashes(conn: Directory, rec: Recorder) -> PasswordStorage:
    def schemes_only(entries: list[Entry]) -> str:
        return "\n".join(f"{e.dn}: {password_scheme(v) if v else '(no readable value)'}"
                         for e in entries for v in (e.get("userPassword") or [b""]))

    base = base_dn(conn)
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


# -- accounts and who may write (the access review) ---------------------------------------------------
ACCOUNT_ATTRS = ["objectClass", "uid", "cn", "pwdAccountLockedTime", "pwdChangedTime", "pwdLastSuccess",
                 "pwdPolicySubentry"]
PERSON_CLASSES = frozenset({"person", "organizationalperson", "inetorgperson", "posixaccount", "shadowaccount",
                            "account"})
GROUP_FILTER = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup))"
GROUP_ATTRS = ["member", "uniqueMember", "memberUid"]
#: pwdAccountLockedTime's "locked until an administrator unlocks" value
LOCKED_FOREVER = "000001010000Z"
#: olcAccess access levels that change data (a ``self`` prefix limits the value to the writer's own DN)
WRITE_LEVELS = frozenset({"write", "add", "delete", "manage"})
WRITE_PRIVILEGES = frozenset("mwaz")  # =/+ privilege letters: manage, write, add, delete (z)
#: who terms that narrow a ``by`` clause to a connection, not to an identity
CONDITION_TERMS = frozenset({"peername", "sockname", "domain", "sockurl", "ssf", "transport_ssf", "tls_ssf",
                             "sasl_ssf", "aci", "dynacl"})
MAX_RULE_TOKENS = 4096
SPECIAL_WHO: dict[str, AclWho] = {"*": "anyone", "users": "users", "anonymous": "anonymous", "self": "self"}


def lock_state(locked_at: str | None, rules: PPolicyRules | None, overlay: bool | None,
               now: datetime) -> bool | None:
    """Whether a pwdAccountLockedTime value locks the account at ``now``. ``overlay``: the ppolicy overlay acts
    on the database (None: not known); ``rules``: the entry's policy (None: not readable)."""
    if locked_at is None or overlay is False:
        return False  # without the overlay, slapd does not look at the attribute
    if locked_at == LOCKED_FOREVER:
        return True
    if rules is None:
        return None
    if rules.lockout_duration_seconds == 0:
        return True  # locked until an administrator unlocks
    since = generalized_time(locked_at)
    return since is not None and since + timedelta(seconds=rules.lockout_duration_seconds) > now


def account(e: Entry, state: PPolicyState | None, now: datetime) -> LdapAccount:
    """One account entry; ``state``: the ppolicy configuration (None: cn=config not readable)."""
    locked_at = e.text("pwdAccountLockedTime")
    classes = {c.lower() for c in e.texts("objectClass")}
    rules = None
    if state is not None:
        own = e.text("pwdPolicySubentry")
        named = next((o for o in state.overrides if own and normalize_dn(o.policy_dn) == normalize_dn(own)), None)
        rules = named.rules if named else None if own else state.default
    return LdapAccount(
        dn=e.dn, name=e.text("uid") or e.text("cn") or e.dn, person=bool(classes & PERSON_CLASSES),
        locked=lock_state(locked_at, rules, state.overlay_enabled if state else None, now),
        locked_permanently=locked_at == LOCKED_FOREVER,
        password_changed=generalized_time(e.text("pwdChangedTime")),
        last_success=generalized_time(e.text("pwdLastSuccess")))


def accounts(conn: Directory, rec: Recorder) -> LdapAccounts:
    base = base_dn(conn)
    now = utcnow()
    found = rec.search(base, ACCOUNT_FILTER, ACCOUNT_ATTRS)
    try:  # how long a lock lasts is in the policy, found through cn=config
        state: PPolicyState | None = ppolicy(conn, rec) if any(e.get("pwdAccountLockedTime") for e in found) else None
    except ValueError:
        state = None
    if not found:
        raise ValueError(f"no account entries visible under {base} to {conn.bound_as}")
    groups = tuple(LdapGroup(dn=g.dn, members=g.texts("member") + g.texts("uniqueMember"),
                             member_uids=g.texts("memberUid"))
                   for g in rec.search(base, GROUP_FILTER, GROUP_ATTRS))
    by_dn: dict[str, list[str]] = {}
    by_uid: dict[str, list[str]] = {}
    for g in groups:
        for m in g.members:
            by_dn.setdefault(normalize_dn(m), []).append(g.dn)
        for uid in g.member_uids:
            by_uid.setdefault(uid, []).append(g.dn)
    out = []
    for e in found:
        a = account(e, state, now)
        own_uid = e.text("uid")
        listed = by_dn.get(normalize_dn(a.dn), []) + (by_uid.get(own_uid, []) if own_uid else [])
        out.append(replace(a, groups=tuple(dict.fromkeys(listed))))
    return LdapAccounts(accounts=tuple(out), groups=groups,
                        tracks_last_bind=any(a.last_success is not None for a in out))


def rule_tokens(text: str) -> list[str]:
    """Split an olcAccess value on white space; double quotes group (a backslash escapes the next character)."""
    tokens: list[str] = []
    cur: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch.isspace() and not quoted:
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if quoted or len(tokens) > MAX_RULE_TOKENS:
        raise ValueError("unbalanced quotes or too long")
    if cur:
        tokens.append("".join(cur))
    return tokens


def _is_level(token: str) -> bool:
    word = token.lower()
    return word[:1] in "=+-" or word.removeprefix("self") in WRITE_LEVELS | {
        "none", "disclose", "auth", "compare", "search", "read"}


def _writes(level: str) -> bool:
    word = level.lower()
    if word[:1] in "=+":
        return bool(set(word[1:]) & WRITE_PRIVILEGES)
    return word.removeprefix("self") in WRITE_LEVELS


def _writer(who: list[str], level: str) -> AclWriter:
    """A write-granting ``by`` clause: its identity term (dn, group, users, *, anonymous, self) and the rest."""
    identity: AclWriter | None = None
    conditions = []
    for term in who:
        key, _, value = term.partition("=")
        kind, _, style = key.lower().partition(".")
        kind = kind.split("/", 1)[0]
        if term in SPECIAL_WHO:
            identity = AclWriter(SPECIAL_WHO[term], "", "", level)
        elif kind in ("dn", "realdn") and value:
            identity = AclWriter("dn", style.split(",", 1)[0] or "base", value, level)
        elif kind == "group" and value:
            identity = AclWriter("group", style or "exact", value, level)
        elif kind in CONDITION_TERMS:
            conditions.append(term)
        else:  # set=, dnattr=, realself, ... : who they name is not read here
            return AclWriter("other", "", " ".join(who), level)
    if identity is None:  # only conditions: any connection meeting them
        return AclWriter("anyone", "", "", level, tuple(conditions))
    return replace(identity, conditions=tuple(conditions))


def acl_rule(database: str, index: int, text: str) -> AclRule:
    """Parse one olcAccess value (``{n}to <what> by <who> [<access>] [<control>] ...``) for its write grants."""
    body = re.sub(r"^\{\d+\}", "", text)
    try:
        tokens = rule_tokens(body)
    except ValueError:
        return AclRule(database, index, text, (), parsed=False)
    if not tokens or tokens[0].lower() != "to" or "by" not in (t.lower() for t in tokens):
        return AclRule(database, index, text, (), parsed=False)
    writers = []
    clauses: list[list[str]] = []
    for t in tokens[[t.lower() for t in tokens].index("by"):]:
        if t.lower() == "by":
            clauses.append([])
        else:
            clauses[-1].append(t)
    for clause in clauses:
        at = next((i for i, t in enumerate(clause) if i > 0 and _is_level(t)), None)
        if not clause:
            return AclRule(database, index, text, (), parsed=False)
        if at is not None and _writes(clause[at]):
            writers.append(_writer(clause[:at], clause[at]))
    return AclRule(database, index, text, tuple(writers))


def access_rules(conn: Directory, rec: Recorder) -> AccessRules:
    _config_readable(conn)
    found = rec.search("cn=config", "(objectClass=olcDatabaseConfig)", ["olcSuffix", "olcRootDN", "olcAccess"],
                       scope="LEVEL")
    if not found:
        raise ValueError(f"no database is visible in cn=config to {conn.bound_as}")
    databases = tuple(DatabaseAccess(e.dn, e.texts("olcSuffix"), e.text("olcRootDN")) for e in found)
    rules = tuple(acl_rule(e.dn, i, text) for e in found for i, text in enumerate(e.texts("olcAccess")))
    return AccessRules(databases=databases, rules=rules)

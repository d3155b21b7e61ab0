"""Password policy: ageing, length, complexity, history, lockout, inactivity and hashing."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checks.linux._common import first_location, missing_modules, pam_setting, rule_text
from scanner.facts.linux import LoginDefs, Pam, Shadow
from scanner.model import Finding, Location, failed, not_applicable, passed
from scanner.registry import check

QUALITY = ("pam_pwquality", "pam_cracklib")
STRONG_SCHEMES = ("sha512", "yescrypt", "gost-yescrypt", "scrypt", "bcrypt")
#: login.defs ENCRYPT_METHOD and pam_unix option -> crypt scheme.
METHOD_SCHEMES = {"des": "des", "bigcrypt": "des", "md5": "md5", "sha256": "sha256", "sha512": "sha512",
                  "bcrypt": "bcrypt", "blowfish": "bcrypt", "yescrypt": "yescrypt", "gost_yescrypt": "gost-yescrypt"}
LOGIN_DEFS = "/etc/login.defs"


def _login_defs_value(defs: LoginDefs, key: str, ok: Callable[[int | None], bool], want: str) -> Finding:
    value = defs.int(key)
    observed: dict[str, Any] = {key: value}
    where = defs.location(key)
    if value is not None and ok(value):
        return passed(LOGIN_DEFS, f"{key} {value} ({want})", location=where, **observed)
    return failed(LOGIN_DEFS, f"{key} is {value if value is not None else 'not set'}, expected {want}",
                  location=where, **observed)


def _per_account(shadow: Shadow, attr: str, ok: Callable[[int | None], bool], want: str) -> Finding:
    """Accounts with a usable password whose ageing field fails ``ok`` (an empty field counts as None)."""
    users = [e for e in shadow.entries if e.usable]
    bad = {e.name: getattr(e, attr) for e in users if not ok(getattr(e, attr))}
    if bad:
        listed = ", ".join(f"{n}={v if v is not None else 'unset'}" for n, v in sorted(bad.items()))
        return failed("/etc/shadow", f"{len(bad)} of {len(users)} accounts with a password miss {want}: {listed}",
                      location=Location("/etc/shadow"), accounts=bad)
    return passed("/etc/shadow", f"all {len(users)} accounts with a password have {want}",
                  location=Location("/etc/shadow"), accounts={})


@check(id="linux.password.max_age", title="Passwords expire", severity="medium", area="password_policy",
       criterion="PASS_MAX_DAYS and every password account's maximum age are at most password_max_age_days (90).",
       remediation="Set PASS_MAX_DAYS in /etc/login.defs to the policy's limit and apply it to existing accounts "
                   "with 'chage --maxdays <days> <user>'.")
def max_age(login_defs: LoginDefs, shadow: Shadow, password_max_age_days: int = 90) -> list[Finding]:
    def ok(v: int | None) -> bool:
        return v is not None and 0 < v <= password_max_age_days

    want = f"maximum age <= {password_max_age_days} days"
    return [_login_defs_value(login_defs, "PASS_MAX_DAYS", ok, want), _per_account(shadow, "max_days", ok, want)]


@check(id="linux.password.min_age", title="Passwords cannot be changed back at once", severity="low",
       area="password_policy",
       criterion="PASS_MIN_DAYS and every password account's minimum age are at least password_min_age_days (1).",
       remediation="Set PASS_MIN_DAYS in /etc/login.defs to at least the policy's minimum and apply it to existing "
                   "accounts with 'chage --mindays <days> <user>'.")
def min_age(login_defs: LoginDefs, shadow: Shadow, password_min_age_days: int = 1) -> list[Finding]:
    def ok(v: int | None) -> bool:
        return v is not None and v >= password_min_age_days

    want = f"minimum age >= {password_min_age_days} days"
    return [_login_defs_value(login_defs, "PASS_MIN_DAYS", ok, want), _per_account(shadow, "min_days", ok, want)]


@check(id="linux.password.inactive", title="Accounts lock after password inactivity", severity="medium",
       area="password_policy",
       criterion="useradd's INACTIVE and every password account's inactivity period are between 0 and "
                 "inactive_days (30).",
       remediation="Run 'useradd -D -f <days>' so new accounts lock after the inactivity period, and "
                   "'chage --inactive <days> <user>' for each existing account.")
def inactive(login_defs: LoginDefs, shadow: Shadow, inactive_days: int = 30) -> list[Finding]:
    def ok(v: int | None) -> bool:
        return v is not None and 0 <= v <= inactive_days

    raw = login_defs.useradd.get("INACTIVE")
    default = int(raw) if raw not in (None, "") and raw.lstrip("-").isdigit() else None
    want = f"inactivity lock within {inactive_days} days"
    where = login_defs.useradd_locations.get("INACTIVE") or Location("/etc/default/useradd")
    first = (passed if ok(default) else failed)(
        "/etc/default/useradd", f"INACTIVE is {default if default is not None else 'not set'} ({want})",
        location=where, INACTIVE=default)
    return [first, _per_account(shadow, "inactive_days", ok, want)]


@check(id="linux.password.min_length", title="Passwords have a minimum length", severity="medium",
       area="password_policy",
       criterion="The PAM password stack enforces a minimum length of at least password_min_length (12), through "
                 "an installed pam_pwquality/pam_cracklib or pam_unix.",
       remediation="Install the password quality module (libpam-pwquality or libpwquality) and set minlen in "
                   "/etc/security/pwquality.conf to at least the policy's length.")
def min_length(pam: Pam, password_min_length: int = 12) -> Finding:
    skipped = missing_modules(pam, "password", QUALITY)
    if pam.find("password", *QUALITY):
        got = pam_setting(pam, "password", QUALITY, "minlen", "pwquality")
        length, source = (int(got.value), got.where) if got.value else (8, "pam_pwquality default")
    else:
        got = pam_setting(pam, "password", ("pam_unix",), "minlen")
        length, source = (int(got.value), got.where) if got.value else (6, "pam_unix default (no quality module)")
    where = got.location or first_location(pam, "password", (*QUALITY, "pam_unix"))
    observed: dict[str, Any] = {"minlen": length, "source": source, "required": password_min_length}
    if skipped:
        observed["not_installed"] = [rule_text(r) for r in pam.missing("password", *QUALITY)]
    if length >= password_min_length:
        return passed("pam", f"minimum password length {length} >= {password_min_length}", location=where,
                      **observed)
    return failed("pam", f"minimum password length {length} < {password_min_length} ({source}){skipped}",
                  location=where, **observed)


@check(id="linux.password.complexity", title="Passwords must mix character classes", severity="medium",
       area="password_policy",
       criterion="An installed pam_pwquality/pam_cracklib requires at least 3 character classes (minclass or "
                 "negative credits).",
       remediation="Install the password quality module, add it to the password stack and set minclass = 3 (or "
                   "negative dcredit/ucredit/lcredit/ocredit) in /etc/security/pwquality.conf.")
def complexity(pam: Pam, password_complexity: bool = True) -> Finding:
    if not password_complexity:
        return not_applicable("pam", "the policy does not require password complexity (password_complexity false)")
    if not pam.find("password", *QUALITY):
        skipped = missing_modules(pam, "password", QUALITY)
        return failed("pam", "no installed password quality module (pam_pwquality or pam_cracklib) in the password "
                             f"stack{skipped}", location=first_location(pam, "password", QUALITY),
                      files=list(pam.files), not_installed=[rule_text(r) for r in pam.missing("password", *QUALITY)])
    minclass = pam_setting(pam, "password", QUALITY, "minclass", "pwquality")
    credits = {k: pam_setting(pam, "password", QUALITY, k, "pwquality") for k in ("dcredit", "ucredit", "lcredit",
                                                                                  "ocredit")}
    values = {k: int(v.value or 0) for k, v in credits.items()}
    required = sum(1 for v in values.values() if v < 0)
    classes = max(int(minclass.value or 0), required)
    where = minclass.location or first_location(pam, "password", QUALITY)
    observed: dict[str, Any] = {"minclass": int(minclass.value or 0), **values}
    if classes >= 3:
        return passed("pam", f"passwords need {classes} character classes", location=where, **observed)
    return failed("pam", f"passwords need only {classes} character class(es), expected 3", location=where,
                  **observed)


@check(id="linux.password.history", title="Recent passwords cannot be reused", severity="medium",
       area="password_policy",
       criterion="An installed pam_pwhistory, or pam_unix, remembers at least password_history (5) previous "
                 "passwords.",
       remediation="Add pam_pwhistory.so to the password stack before pam_unix.so and set remember to at least the "
                   "policy's number (module argument or /etc/security/pwhistory.conf).")
def history(pam: Pam, password_history: int = 5) -> Finding:
    remembered, sources, where = 0, [], first_location(pam, "password", ("pam_pwhistory", "pam_unix"))
    if pam.find("password", "pam_pwhistory"):
        got = pam_setting(pam, "password", ("pam_pwhistory",), "remember", "pwhistory")
        remembered, sources = int(got.value or 10), [got.where or "pam_pwhistory default"]
        where = got.location or where
    unix = pam_setting(pam, "password", ("pam_unix",), "remember")
    if unix.value and int(unix.value) > remembered:
        remembered, sources, where = int(unix.value), [unix.where], unix.location
    skipped = missing_modules(pam, "password", ("pam_pwhistory",))
    observed: dict[str, Any] = {"remember": remembered, "source": sources, "required": password_history}
    if remembered >= password_history:
        return passed("pam", f"the last {remembered} passwords are remembered", location=where, **observed)
    return failed("pam", f"{remembered} previous passwords remembered, expected {password_history}{skipped}",
                  location=where, **observed)


@check(id="linux.password.lockout", title="Repeated failed logins lock the account", severity="high",
       area="password_policy",
       criterion="An installed pam_faillock (or pam_tally2) in the auth stack locks an account after at most "
                 "lockout_threshold (5) failures.",
       remediation="Add pam_faillock.so (preauth and authfail) to the auth stack and set deny to at most the "
                   "policy's threshold in /etc/security/faillock.conf.")
def lockout(pam: Pam, lockout_threshold: int = 5) -> Finding:
    rules = pam.find("auth", "pam_faillock", "pam_tally2")
    if not rules:
        skipped = missing_modules(pam, "auth", ("pam_faillock", "pam_tally2"))
        return failed("pam", f"no installed lockout module (pam_faillock or pam_tally2) in the auth stack{skipped}",
                      location=first_location(pam, "auth", ("pam_faillock", "pam_tally2")), files=list(pam.files))
    module = rules[0].name
    conf = "faillock" if module == "pam_faillock.so" else None
    deny_at = pam_setting(pam, "auth", (module[:-3],), "deny", conf)
    deny = int(deny_at.value) if deny_at.value else (3 if module == "pam_faillock.so" else 0)
    unlock = pam_setting(pam, "auth", (module[:-3],), "unlock_time", conf).value
    observed: dict[str, Any] = {"module": module, "deny": deny, "unlock_time": unlock,
                                "rules": [rule_text(r) for r in rules]}
    where = deny_at.location or rules[0].location
    if 0 < deny <= lockout_threshold:
        return passed("pam", f"{module} locks after {deny} failures", location=where, **observed)
    return failed("pam", f"{module} deny={deny} does not lock within {lockout_threshold} failures", location=where,
                  **observed)


@check(id="linux.password.hashing", title="Passwords are stored with a strong hash", severity="high",
       area="password_policy",
       criterion="New passwords are hashed with SHA-512, yescrypt, scrypt or bcrypt (login.defs ENCRYPT_METHOD and "
                 "pam_unix) and no stored hash uses a weaker scheme.",
       remediation="Set ENCRYPT_METHOD to YESCRYPT or SHA512 in /etc/login.defs and the same option on pam_unix.so, "
                   "then have the listed accounts change their passwords so their hashes are renewed.")
def hashing(login_defs: LoginDefs, pam: Pam, shadow: Shadow) -> list[Finding]:
    method = (login_defs.values.get("ENCRYPT_METHOD") or "DES").lower()
    configured = {"/etc/login.defs ENCRYPT_METHOD": METHOD_SCHEMES.get(method, method)}
    where = login_defs.location("ENCRYPT_METHOD")
    for rule in pam.find("password", "pam_unix"):
        for opt in rule.args:
            if opt in METHOD_SCHEMES:
                configured[rule_text(rule)] = METHOD_SCHEMES[opt]
                if METHOD_SCHEMES[opt] not in STRONG_SCHEMES:
                    where = rule.location
    weak_config = {k: v for k, v in configured.items() if v not in STRONG_SCHEMES}
    findings = [
        failed("password hashing", f"weak hashing configured: {weak_config}", location=where, configured=configured)
        if weak_config else passed("password hashing", "new passwords get a strong hash", location=where,
                                   configured=configured)
    ]
    weak = {e.name: e.scheme for e in shadow.entries if e.scheme and e.scheme not in STRONG_SCHEMES}
    if weak:
        findings.append(failed("/etc/shadow", f"{len(weak)} stored hash(es) use a weak scheme",
                               location=Location("/etc/shadow"), accounts=weak))
    else:
        schemes = sorted({e.scheme for e in shadow.entries if e.scheme})
        findings.append(passed("/etc/shadow", "every stored hash uses a strong scheme",
                               location=Location("/etc/shadow"), schemes=schemes))
    return findings

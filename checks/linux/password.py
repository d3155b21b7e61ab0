"""Password policy: ageing, length, complexity, history, lockout, inactivity and hashing."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checks.linux._common import PamValue, first_location, missing_modules, pam_setting, rule_text
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


# ---------------------------------------------------------------- issue 14: warning, faillock details, hash cost


@check(id="linux.password.warn_age", title="Users are warned before their password expires", severity="low",
       area="password_policy",
       criterion="PASS_WARN_AGE and every password account's warning period are at least password_warn_days (7, "
                 "the CIS figure).",
       remediation="Set PASS_WARN_AGE in /etc/login.defs to at least the policy's days and apply it to existing "
                   "accounts with 'chage --warndays <days> <user>'.")
def warn_age(login_defs: LoginDefs, shadow: Shadow, password_warn_days: int = 7) -> list[Finding]:
    def ok(v: int | None) -> bool:
        return v is not None and v >= password_warn_days

    want = f"a warning at least {password_warn_days} days ahead"
    return [_login_defs_value(login_defs, "PASS_WARN_AGE", ok, want), _per_account(shadow, "warn_days", ok, want)]


#: Places a tally directory must not be: anyone can create files there, and they are emptied at will.
SHARED_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


@check(id="linux.password.faillock", title="Account lockout is configured in full", severity="medium",
       area="password_policy",
       criterion="An installed pam_faillock in the auth stack locks after at most lockout_threshold (5) failures, "
                 "unlocks after no less than lockout_unlock_seconds (900; 0 means only an administrator unlocks), "
                 "also locks root (even_deny_root), logs to the audit system (audit), and keeps its tallies in a "
                 "directory of its own (not under /tmp, /var/tmp or /dev/shm).",
       remediation="Set deny, unlock_time, even_deny_root and audit in /etc/security/faillock.conf (RHEL: "
                   "'authselect enable-feature with-faillock'; Debian/Ubuntu: add pam_faillock.so preauth and "
                   "authfail to common-auth) and leave dir at its default or another root-only directory.")
def faillock(pam: Pam, lockout_threshold: int = 5, lockout_unlock_seconds: int = 900) -> Finding:
    rules = pam.find("auth", "pam_faillock")
    if not rules:
        skipped = missing_modules(pam, "auth", ("pam_faillock",))
        return failed("pam", f"pam_faillock is not in the auth stack{skipped}",
                      location=first_location(pam, "auth", ("pam_faillock",)) or Location(pam.files[0]),
                      files=list(pam.files))

    def get(key: str) -> PamValue:
        return pam_setting(pam, "auth", ("pam_faillock",), key, "faillock")

    deny, unlock, tally = get("deny"), get("unlock_time"), get("dir")
    deny_n = int(deny.value) if deny.value else 3
    unlock_raw = unlock.value if unlock.value is not None else "600"
    unlock_n = -1 if unlock_raw == "never" else int(unlock_raw)
    directory = tally.value or "/var/run/faillock"
    observed: dict[str, Any] = {"deny": deny_n, "unlock_time": unlock_raw, "even_deny_root": False, "audit": False,
                                "dir": directory, "rules": [rule_text(r) for r in rules]}
    problems = []
    if not 0 < deny_n <= lockout_threshold:
        problems.append(f"deny={deny_n} does not lock within {lockout_threshold} failures")
    if 0 < unlock_n < lockout_unlock_seconds:
        problems.append(f"unlock_time={unlock_n} s is shorter than {lockout_unlock_seconds} s")
    for flag in ("even_deny_root", "audit"):
        observed[flag] = get(flag).value is not None
        if not observed[flag]:
            problems.append(f"{flag} is not set")
    if not directory.startswith("/") or any(directory == d or directory.startswith(d + "/") for d in SHARED_DIRS):
        problems.append(f"dir={directory} is not a root-only absolute directory")
    where = deny.location or unlock.location or rules[0].location
    if problems:
        return failed("pam", f"pam_faillock: {'; '.join(problems)}", location=where, problems=problems, **observed)
    return passed("pam", f"pam_faillock locks after {deny_n} failures for {unlock_raw} s, root included, audited",
                  location=where, **observed)


@check(id="linux.password.hash_rounds", title="Password hashes use enough rounds", severity="medium",
       area="password_policy",
       criterion="Where new passwords are hashed with SHA-crypt, the rounds (pam_unix rounds=, login.defs "
                 "SHA_CRYPT_MIN_ROUNDS) are at least sha_crypt_min_rounds (5000, the glibc default and the DISA STIG "
                 "minimum); with yescrypt, the cost (pam_unix rounds=, login.defs YESCRYPT_COST_FACTOR) is at least "
                 "yescrypt_min_cost (5, the libxcrypt default).",
       remediation="Remove low rounds= from pam_unix.so and set SHA_CRYPT_MIN_ROUNDS (e.g. 5000 or more) or "
                   "YESCRYPT_COST_FACTOR (5 or more) in /etc/login.defs; passwords get the new cost when changed.")
def hash_rounds(login_defs: LoginDefs, pam: Pam, sha_crypt_min_rounds: int = 5000,
                yescrypt_min_cost: int = 5) -> list[Finding]:
    method = METHOD_SCHEMES.get((login_defs.values.get("ENCRYPT_METHOD") or "DES").lower(), "")
    settings: list[tuple[str, str, int | None, Location | None]] = []  # (where, scheme, rounds, location)
    if method in ("sha512", "sha256"):
        rounds = login_defs.int("SHA_CRYPT_MIN_ROUNDS") or login_defs.int("SHA_CRYPT_MAX_ROUNDS")
        key = "SHA_CRYPT_MIN_ROUNDS" if login_defs.int("SHA_CRYPT_MIN_ROUNDS") else "SHA_CRYPT_MAX_ROUNDS"
        settings.append((f"/etc/login.defs ENCRYPT_METHOD {method}", method, rounds, login_defs.location(key)))
    elif method == "yescrypt":
        settings.append(("/etc/login.defs ENCRYPT_METHOD yescrypt", method, login_defs.int("YESCRYPT_COST_FACTOR"),
                         login_defs.location("YESCRYPT_COST_FACTOR")))
    for rule in pam.find("password", "pam_unix"):
        scheme = next((METHOD_SCHEMES[o] for o in rule.args if o in METHOD_SCHEMES), "")
        if scheme in ("sha512", "sha256", "yescrypt"):
            raw = rule.args.get("rounds")
            settings.append((rule_text(rule), scheme, int(raw) if raw else None, rule.location))
    findings = []
    for where, scheme, rounds, location in settings:
        minimum, default = (yescrypt_min_cost, 5) if scheme == "yescrypt" else (sha_crypt_min_rounds, 5000)
        value = rounds if rounds is not None else default
        observed: dict[str, Any] = {"scheme": scheme, "rounds": value, "explicit": rounds is not None,
                                    "minimum": minimum}
        if value >= minimum:
            findings.append(passed("password hashing", f"{scheme} with {value} rounds ({where})", location=location,
                                   **observed))
        else:
            findings.append(failed("password hashing", f"{scheme} with only {value} rounds, expected {minimum} "
                                                        f"({where})", location=location, **observed))
    return findings or [not_applicable("password hashing", "no SHA-crypt or yescrypt hashing is configured; the "
                                                           "scheme itself is judged by linux.password.hashing")]

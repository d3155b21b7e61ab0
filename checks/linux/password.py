"""Password policy: ageing, length, complexity, history, lockout, inactivity and hashing."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checks.linux._common import pam_setting, rule_text
from scanner.facts.linux import LoginDefs, Pam, Shadow
from scanner.model import Finding, failed, not_applicable, passed
from scanner.registry import check

QUALITY = ("pam_pwquality", "pam_cracklib")
STRONG_SCHEMES = ("sha512", "yescrypt", "gost-yescrypt", "scrypt", "bcrypt")
#: login.defs ENCRYPT_METHOD and pam_unix option -> crypt scheme.
METHOD_SCHEMES = {"des": "des", "bigcrypt": "des", "md5": "md5", "sha256": "sha256", "sha512": "sha512",
                  "bcrypt": "bcrypt", "blowfish": "bcrypt", "yescrypt": "yescrypt", "gost_yescrypt": "gost-yescrypt"}


def _login_defs_value(defs: LoginDefs, key: str, ok: Callable[[int | None], bool], want: str) -> Finding:
    value = defs.int(key)
    observed: dict[str, Any] = {key: value}
    if value is not None and ok(value):
        return passed("/etc/login.defs", f"{key} {value} ({want})", **observed)
    return failed("/etc/login.defs", f"{key} is {value if value is not None else 'not set'}, expected {want}",
                  **observed)


def _per_account(shadow: Shadow, attr: str, ok: Callable[[int | None], bool], want: str) -> Finding:
    """Accounts with a usable password whose ageing field fails ``ok`` (an empty field counts as None)."""
    users = [e for e in shadow.entries if e.usable]
    bad = {e.name: getattr(e, attr) for e in users if not ok(getattr(e, attr))}
    if bad:
        listed = ", ".join(f"{n}={v if v is not None else 'unset'}" for n, v in sorted(bad.items()))
        return failed("/etc/shadow", f"{len(bad)} of {len(users)} accounts with a password miss {want}: {listed}",
                      accounts=bad)
    return passed("/etc/shadow", f"all {len(users)} accounts with a password have {want}", accounts={})


@check(id="linux.password.max_age", title="Passwords expire", severity="medium", area="password_policy",
       criterion="PASS_MAX_DAYS and every password account's maximum age are at most password_max_age_days (90).")
def max_age(login_defs: LoginDefs, shadow: Shadow, password_max_age_days: int = 90) -> list[Finding]:
    def ok(v: int | None) -> bool:
        return v is not None and 0 < v <= password_max_age_days

    want = f"maximum age <= {password_max_age_days} days"
    return [_login_defs_value(login_defs, "PASS_MAX_DAYS", ok, want), _per_account(shadow, "max_days", ok, want)]


@check(id="linux.password.min_age", title="Passwords cannot be changed back at once", severity="low",
       area="password_policy",
       criterion="PASS_MIN_DAYS and every password account's minimum age are at least password_min_age_days (1).")
def min_age(login_defs: LoginDefs, shadow: Shadow, password_min_age_days: int = 1) -> list[Finding]:
    def ok(v: int | None) -> bool:
        return v is not None and v >= password_min_age_days

    want = f"minimum age >= {password_min_age_days} days"
    return [_login_defs_value(login_defs, "PASS_MIN_DAYS", ok, want), _per_account(shadow, "min_days", ok, want)]


@check(id="linux.password.inactive", title="Accounts lock after password inactivity", severity="medium",
       area="password_policy",
       criterion="useradd's INACTIVE and every password account's inactivity period are between 0 and "
                 "inactive_days (30).")
def inactive(login_defs: LoginDefs, shadow: Shadow, inactive_days: int = 30) -> list[Finding]:
    def ok(v: int | None) -> bool:
        return v is not None and 0 <= v <= inactive_days

    raw = login_defs.useradd.get("INACTIVE")
    default = int(raw) if raw not in (None, "") and raw.lstrip("-").isdigit() else None
    want = f"inactivity lock within {inactive_days} days"
    first = (passed if ok(default) else failed)(
        "/etc/default/useradd", f"INACTIVE is {default if default is not None else 'not set'} ({want})",
        INACTIVE=default)
    return [first, _per_account(shadow, "inactive_days", ok, want)]


@check(id="linux.password.min_length", title="Passwords have a minimum length", severity="medium",
       area="password_policy",
       criterion="The PAM password stack enforces a minimum length of at least password_min_length (12).")
def min_length(pam: Pam, password_min_length: int = 12) -> Finding:
    if pam.find("password", *QUALITY):
        value, where = pam_setting(pam, "password", QUALITY, "minlen", dict(pam.pwquality))
        length, source = (int(value), where) if value else (8, "pam_pwquality default")
    else:
        value, where = pam_setting(pam, "password", ("pam_unix",), "minlen")
        length, source = (int(value), where) if value else (6, "pam_unix default (no quality module)")
    observed: dict[str, Any] = {"minlen": length, "source": source, "required": password_min_length}
    if length >= password_min_length:
        return passed("pam", f"minimum password length {length} >= {password_min_length}", **observed)
    return failed("pam", f"minimum password length {length} < {password_min_length} ({source})", **observed)


@check(id="linux.password.complexity", title="Passwords must mix character classes", severity="medium",
       area="password_policy",
       criterion="pam_pwquality/pam_cracklib requires at least 3 character classes (minclass or negative credits).")
def complexity(pam: Pam, password_complexity: bool = True) -> Finding:
    if not password_complexity:
        return not_applicable("pam", "the policy does not require password complexity (password_complexity false)")
    if not pam.find("password", *QUALITY):
        return failed("pam", "no password quality module (pam_pwquality or pam_cracklib) in the password stack",
                      files=list(pam.files))
    conf = dict(pam.pwquality)
    minclass = int(pam_setting(pam, "password", QUALITY, "minclass", conf)[0] or 0)
    credits = {k: int(pam_setting(pam, "password", QUALITY, k, conf)[0] or 0)
               for k in ("dcredit", "ucredit", "lcredit", "ocredit")}
    required = sum(1 for v in credits.values() if v < 0)
    observed: dict[str, Any] = {"minclass": minclass, **credits}
    if minclass >= 3 or required >= 3:
        return passed("pam", f"passwords need {max(minclass, required)} character classes", **observed)
    return failed("pam", f"passwords need only {max(minclass, required)} character class(es), expected 3",
                  **observed)


@check(id="linux.password.history", title="Recent passwords cannot be reused", severity="medium",
       area="password_policy",
       criterion="pam_pwhistory or pam_unix remembers at least password_history (5) previous passwords.")
def history(pam: Pam, password_history: int = 5) -> Finding:
    remembered, sources = 0, []
    if pam.find("password", "pam_pwhistory"):
        value, where = pam_setting(pam, "password", ("pam_pwhistory",), "remember", dict(pam.pwhistory))
        remembered, sources = int(value or 10), [where or "pam_pwhistory default"]
    value, where = pam_setting(pam, "password", ("pam_unix",), "remember")
    if value and int(value) > remembered:
        remembered, sources = int(value), [where]
    observed: dict[str, Any] = {"remember": remembered, "source": sources, "required": password_history}
    if remembered >= password_history:
        return passed("pam", f"the last {remembered} passwords are remembered", **observed)
    return failed("pam", f"{remembered} previous passwords remembered, expected {password_history}", **observed)


@check(id="linux.password.lockout", title="Repeated failed logins lock the account", severity="high",
       area="password_policy",
       criterion="pam_faillock (or pam_tally2) in the auth stack locks an account after at most lockout_threshold "
                 "(5) failures.")
def lockout(pam: Pam, lockout_threshold: int = 5) -> Finding:
    rules = pam.find("auth", "pam_faillock", "pam_tally2")
    if not rules:
        return failed("pam", "no lockout module (pam_faillock or pam_tally2) in the auth stack",
                      files=list(pam.files))
    module = rules[0].module.rsplit("/", 1)[-1]
    conf = dict(pam.faillock) if module == "pam_faillock.so" else None
    value, where = pam_setting(pam, "auth", (module[:-3],), "deny", conf)
    deny = int(value) if value else (3 if module == "pam_faillock.so" else 0)
    unlock, _ = pam_setting(pam, "auth", (module[:-3],), "unlock_time", conf)
    observed: dict[str, Any] = {"module": module, "deny": deny, "unlock_time": unlock,
                                "rules": [rule_text(r) for r in rules]}
    if 0 < deny <= lockout_threshold:
        return passed("pam", f"{module} locks after {deny} failures", **observed)
    return failed("pam", f"{module} deny={deny} does not lock within {lockout_threshold} failures", **observed)


@check(id="linux.password.hashing", title="Passwords are stored with a strong hash", severity="high",
       area="password_policy",
       criterion="New passwords are hashed with SHA-512, yescrypt, scrypt or bcrypt (login.defs ENCRYPT_METHOD and "
                 "pam_unix) and no stored hash uses a weaker scheme.")
def hashing(login_defs: LoginDefs, pam: Pam, shadow: Shadow) -> list[Finding]:
    method = (login_defs.values.get("ENCRYPT_METHOD") or "DES").lower()
    configured = {"/etc/login.defs ENCRYPT_METHOD": METHOD_SCHEMES.get(method, method)}
    for rule in pam.find("password", "pam_unix"):
        for opt in rule.args:
            if opt in METHOD_SCHEMES:
                configured[rule_text(rule)] = METHOD_SCHEMES[opt]
    weak_config = {k: v for k, v in configured.items() if v not in STRONG_SCHEMES}
    findings = [
        failed("password hashing", f"weak hashing configured: {weak_config}", configured=configured)
        if weak_config else passed("password hashing", "new passwords get a strong hash", configured=configured)
    ]
    weak = {e.name: e.scheme for e in shadow.entries if e.scheme and e.scheme not in STRONG_SCHEMES}
    if weak:
        findings.append(failed("/etc/shadow", f"{len(weak)} stored hash(es) use a weak scheme", accounts=weak))
    else:
        schemes = sorted({e.scheme for e in shadow.entries if e.scheme})
        findings.append(passed("/etc/shadow", "every stored hash uses a strong scheme", schemes=schemes))
    return findings

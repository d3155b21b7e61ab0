"""Password policy checks at their boundaries, asserting the observed values (mutants of checks/linux/password.py
that the recorded cases left alive: docs/mutation.md)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from checks.linux import password
from scanner.facts.linux import LoginDefs, Pam, Shadow, ShadowEntry
from scanner.model import Finding, Location, Status, freeze, thaw
from tests.checks.linux.factories import login_defs, pam

NO_ACCOUNTS = Shadow(())
PWQUALITY = ("pam_unix.so", "pam_pwquality.so")


@pytest.mark.parametrize(("days", "status", "message"), [
    ("0", Status.FAIL, "PASS_MAX_DAYS is 0, expected maximum age <= 90 days"),  # 0: no ageing at all
    ("1", Status.PASS, "PASS_MAX_DAYS 1 (maximum age <= 90 days)"),
    ("90", Status.PASS, "PASS_MAX_DAYS 90 (maximum age <= 90 days)"),
    ("91", Status.FAIL, "PASS_MAX_DAYS is 91, expected maximum age <= 90 days"),
])
def test_max_age_boundaries(days: str, status: Status, message: str) -> None:
    got = password.max_age(login_defs(PASS_MAX_DAYS=days), NO_ACCOUNTS)[0]
    assert (got.status, got.message, dict(got.observed), got.location) == (
        status, message, {"PASS_MAX_DAYS": int(days)}, Location("/etc/login.defs", 1))


@pytest.mark.parametrize(("days", "status", "message"), [
    ("0", Status.FAIL, "PASS_MIN_DAYS is 0, expected minimum age >= 1 days"),
    ("1", Status.PASS, "PASS_MIN_DAYS 1 (minimum age >= 1 days)"),
])
def test_min_age_boundaries(days: str, status: Status, message: str) -> None:
    got = password.min_age(login_defs(PASS_MIN_DAYS=days), NO_ACCOUNTS)[0]
    assert (got.status, got.message) == (status, message)


@pytest.mark.parametrize(("inactive", "status"), [("-1", Status.FAIL), ("0", Status.PASS), ("1", Status.PASS),
                                                  ("30", Status.PASS), ("31", Status.FAIL)])
def test_inactive_boundaries(inactive: str, status: Status) -> None:
    defs = login_defs()
    defs = type(defs)(defs.values, {"INACTIVE": inactive}, defs.locations)
    got = password.inactive(defs, NO_ACCOUNTS)[0]
    assert (got.status, got.message, dict(got.observed)) == (
        status, f"INACTIVE is {inactive} (inactivity lock within 30 days)", {"INACTIVE": int(inactive)})


@pytest.mark.parametrize(("args", "status", "classes", "observed"), [
    ("minclass=3", Status.PASS, 3, {"minclass": 3, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0}),
    ("minclass=2", Status.FAIL, 2, {"minclass": 2, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0}),
    ("dcredit=-1 ucredit=-1 lcredit=-1", Status.PASS, 3,
     {"minclass": 0, "dcredit": -1, "ucredit": -1, "lcredit": -1, "ocredit": 0}),
    ("dcredit=-1 ucredit=-1 ocredit=1", Status.FAIL, 2,
     {"minclass": 0, "dcredit": -1, "ucredit": -1, "lcredit": 0, "ocredit": 1}),
    ("", Status.FAIL, 0, {"minclass": 0, "dcredit": 0, "ucredit": 0, "lcredit": 0, "ocredit": 0}),
])
def test_complexity_counts_classes_from_minclass_and_negative_credits(args: str, status: Status, classes: int,
                                                                       observed: dict[str, int]) -> None:
    got = password.complexity(pam(f"password requisite pam_pwquality.so {args}".strip(), installed=PWQUALITY))
    message = (f"passwords need {classes} character classes" if status is Status.PASS
               else f"passwords need only {classes} character class(es), expected 3")
    assert (got.status, got.message, dict(got.observed), got.location) == (
        status, message, observed, Location("/etc/pam.d/common-password", 1))


def test_complexity_not_required_by_policy_is_not_applicable_and_says_why() -> None:
    got = password.complexity(pam(), password_complexity=False)
    assert (got.status, got.resource, got.message) == (
        Status.NOT_APPLICABLE, "pam", "the policy does not require password complexity (password_complexity false)")


#: source: the line the value was read from (None: pam_pwhistory's default)
@pytest.mark.parametrize(("lines", "status", "remember", "source"), [
    (("password required pam_pwhistory.so remember=5",), Status.PASS, 5, 1),
    (("password required pam_pwhistory.so remember=4",), Status.FAIL, 4, 1),
    (("password required pam_pwhistory.so",), Status.PASS, 10, None),  # pam_pwhistory's default
    # pam_unix's remember counts when it is the larger one, and equal ones keep pam_pwhistory's line
    (("password required pam_pwhistory.so remember=4", "password required pam_unix.so remember=4"), Status.FAIL, 4,
     1),
    (("password required pam_pwhistory.so remember=4", "password required pam_unix.so remember=6"), Status.PASS, 6,
     2),
])
def test_history_takes_the_larger_remember_and_says_where(lines: tuple[str, ...], status: Status, remember: int,
                                                          source: int | None) -> None:
    got = password.history(pam(*lines, installed=("pam_unix.so", "pam_pwhistory.so")))
    where = f"/etc/pam.d/common-password:{source}: {lines[source - 1]}" if source else "pam_pwhistory default"
    assert (got.status, dict(got.observed)) == (status, {"remember": remember, "source": (where,), "required": 5})
    assert got.location == Location("/etc/pam.d/common-password", source or 1)


# ---------------------------------------------------------------- issue 15, fifth session: logic survivors under mutmut
PW = "/etc/pam.d/common-password"


def entry(name: str, state: str = "hash", scheme: str | None = "yescrypt",
          days: dict[str, int] | None = None) -> ShadowEntry:
    """A /etc/shadow entry; ``days`` sets ageing fields by name (max_days, ...), the others are empty."""
    fields = [(days or {}).get(k) for k in ("last_change", "min_days", "max_days", "warn_days", "inactive_days",
                                            "expire")]
    return ShadowEntry(name, state, scheme, *fields)


def seen(f: Finding) -> tuple[Status, str, dict[str, Any], Location | None]:
    return f.status, f.message, thaw(f.observed), f.location


def rule(n: int, line: str) -> str:
    return f"{PW}:{n}: {line}"


#: check, the shadow field, a value within the default policy, one outside it, the policy's words
AGEING = [
    (password.max_age, "max_days", 90, 91, "maximum age <= 90 days"),
    (password.min_age, "min_days", 1, 0, "minimum age >= 1 days"),
    (password.warn_age, "warn_days", 7, 6, "a warning at least 7 days ahead"),
    (password.inactive, "inactive_days", 30, 31, "inactivity lock within 30 days"),
]


@pytest.mark.parametrize(("check", "attr", "good", "bad", "want"), AGEING)
def test_each_ageing_check_judges_every_account_with_a_password_in_its_words(
        check: Callable[..., list[Finding]], attr: str, good: int, bad: int, want: str) -> None:
    accounts = Shadow((entry("alice", days={attr: good}), entry("bob", days={attr: bad}), entry("carol"),
                       entry("dave", "locked", days={attr: bad})))  # a locked account is not judged
    assert seen(check(login_defs(), accounts)[1]) == (
        Status.FAIL, f"2 of 3 accounts with a password miss {want}: bob={bad}, carol=unset",
        {"accounts": {"bob": bad, "carol": None}}, Location("/etc/shadow"))
    assert seen(check(login_defs(), Shadow((entry("alice", days={attr: good}),)))[1]) == (
        Status.PASS, f"all 1 accounts with a password have {want}", {"accounts": {}}, Location("/etc/shadow"))


@pytest.mark.parametrize(("check", "key", "good", "bad", "want"), [
    (password.max_age, "PASS_MAX_DAYS", 90, 91, "maximum age <= 90 days"),
    (password.warn_age, "PASS_WARN_AGE", 7, 6, "a warning at least 7 days ahead"),  # the default 7 itself passes
])
def test_login_defs_ageing_default_limits(check: Callable[..., list[Finding]], key: str, good: int, bad: int,
                                          want: str) -> None:
    assert [seen(check(login_defs(**{key: str(v)}), NO_ACCOUNTS)[0])[:2] for v in (good, bad)] == [
        (Status.PASS, f"{key} {good} ({want})"), (Status.FAIL, f"{key} is {bad}, expected {want}")]


#: /etc/default/useradd INACTIVE (None: no line), its line -> the verdict, the value read, the location
@pytest.mark.parametrize(("raw", "line", "status", "value", "location"), [
    (None, None, Status.FAIL, None, Location("/etc/default/useradd")),
    ("X5", 3, Status.FAIL, None, Location("/etc/default/useradd", 3)),  # no number: not set, not a crash
    ("30", 2, Status.PASS, 30, Location("/etc/default/useradd", 2)),
])
def test_inactive_reads_useradd_and_names_an_unset_value(raw: str | None, line: int | None, status: Status,
                                                         value: int | None, location: Location) -> None:
    defs = LoginDefs(freeze({}), freeze({} if raw is None else {"INACTIVE": raw}), freeze({}),
                     freeze({} if line is None else {"INACTIVE": Location("/etc/default/useradd", line)}))
    shown = "not set" if value is None else value
    assert seen(password.inactive(defs, NO_ACCOUNTS)[0]) == (
        status, f"INACTIVE is {shown} (inactivity lock within 30 days)", {"INACTIVE": value}, location)


#: PAM lines, installed modules, pwquality.conf -> verdict, minlen, the source, what is named but not installed
@pytest.mark.parametrize(("lines", "installed", "conf", "status", "length", "source", "missing"), [
    (("password requisite pam_pwquality.so",), PWQUALITY, {}, Status.FAIL, 8, "pam_pwquality default", None),
    (("password requisite pam_pwquality.so",), PWQUALITY, {"minlen": "12"}, Status.PASS, 12,
     "pam_pwquality configuration file", None),
    (("password required pam_unix.so minlen=12",), ("pam_unix.so",), {}, Status.PASS, 12,
     rule(1, "password required pam_unix.so minlen=12"), None),
    (("password required pam_unix.so minlen=11",), ("pam_unix.so",), {}, Status.FAIL, 11,
     rule(1, "password required pam_unix.so minlen=11"), None),
    (("password required pam_unix.so",), ("pam_unix.so",), {}, Status.FAIL, 6,
     "pam_unix default (no quality module)", None),
    # pam_pwquality named but not installed: pam_unix's length counts, and the missing rule is listed
    (("password requisite pam_pwquality.so minlen=14", "password required pam_unix.so minlen=12"), ("pam_unix.so",),
     {}, Status.PASS, 12, rule(2, "password required pam_unix.so minlen=12"),
     [rule(1, "password requisite pam_pwquality.so minlen=14")]),
])
def test_min_length_from_the_quality_module_or_pam_unix_and_their_defaults(
        lines: tuple[str, ...], installed: tuple[str, ...], conf: dict[str, str], status: Status, length: int,
        source: str, missing: list[str] | None) -> None:
    got = password.min_length(pam(*lines, installed=installed, pwquality=conf))
    observed: dict[str, Any] = {"minlen": length, "source": source, "required": 12}
    if missing:
        observed["not_installed"] = missing
    skipped = f" (pam_pwquality.so is named but not installed, so PAM does not apply it: {missing[0]})" \
        if missing else ""
    message = (f"minimum password length {length} >= 12" if status is Status.PASS
               else f"minimum password length {length} < 12 ({source}){skipped}")
    assert seen(got)[:3] == (status, message, observed)


def test_complexity_reads_credits_from_pwquality_conf() -> None:
    got = password.complexity(pam("password requisite pam_pwquality.so", installed=PWQUALITY,
                                  pwquality={"dcredit": "-1", "ucredit": "-1", "lcredit": "-1"}))
    assert seen(got)[:3] == (Status.PASS, "passwords need 3 character classes",
                             {"minclass": 0, "dcredit": -1, "ucredit": -1, "lcredit": -1, "ocredit": 0})


def test_complexity_with_the_quality_module_named_but_not_installed_fails_and_lists_the_rule() -> None:
    line = "password requisite pam_pwquality.so minclass=4"
    got = password.complexity(pam(line))
    assert seen(got) == (
        Status.FAIL, "no installed password quality module (pam_pwquality or pam_cracklib) in the password stack "
                     f"(pam_pwquality.so is named but not installed, so PAM does not apply it: {rule(1, line)})",
        {"files": [PW], "not_installed": [rule(1, line)]}, Location(PW, 1))


def test_history_reads_pwhistory_conf_and_without_any_remember_is_zero_at_pam_unix() -> None:
    conf = replace(pam("password required pam_pwhistory.so", installed=("pam_unix.so", "pam_pwhistory.so")),
                   pwhistory=freeze({"remember": "5"}))
    assert seen(password.history(conf))[:3] == (
        Status.PASS, "the last 5 passwords are remembered",
        {"remember": 5, "source": ["pam_pwhistory configuration file"], "required": 5})
    bare = password.history(pam("password requisite pam_deny.so", "password required pam_unix.so"))
    assert seen(bare) == (Status.FAIL, "0 previous passwords remembered, expected 5",
                          {"remember": 0, "source": [], "required": 5}, Location(PW, 2))
    assert password.history(pam("password required pam_unix.so"), password_history=1).status is Status.FAIL


def faillock_pam(args: str = "", conf: dict[str, str] | None = None) -> Pam:
    return pam(f"auth required pam_faillock.so preauth {args}".strip(), installed=("pam_faillock.so",),
               faillock=conf)


#: faillock's module arguments, faillock.conf, the policy's threshold (None: the default) -> the problems (none: a
#: pass), the observed deny, unlock_time, even_deny_root, audit, dir
@pytest.mark.parametrize(("args", "conf", "threshold", "problems", "observed"), [
    ("deny=1 unlock_time=900 even_deny_root audit", None, None, [], (1, "900", True, True, "/var/run/faillock")),
    # nothing set: deny 3 (within a threshold of 3), unlock_time 600, no root, no audit
    ("", None, 3, ["unlock_time=600 s is shorter than 900 s", "even_deny_root is not set", "audit is not set"],
     (3, "600", False, False, "/var/run/faillock")),
    # from faillock.conf: deny 0 never locks, unlock_time 0 (only an administrator unlocks) is fine, /tmp is shared
    ("", {"deny": "0", "unlock_time": "0", "even_deny_root": "", "audit": "", "dir": "/tmp"}, None,
     ["deny=0 does not lock within 5 failures", "dir=/tmp is not a root-only absolute directory"],
     (0, "0", True, True, "/tmp")),
    ("deny=6 unlock_time=1 even_deny_root audit dir=/var/tmp/faillock", None, None,
     ["deny=6 does not lock within 5 failures", "unlock_time=1 s is shorter than 900 s",
      "dir=/var/tmp/faillock is not a root-only absolute directory"],
     (6, "1", True, True, "/var/tmp/faillock")),
    ("deny=5 unlock_time=never even_deny_root audit dir=faillock", None, None,
     ["dir=faillock is not a root-only absolute directory"], (5, "never", True, True, "faillock")),
    ("deny=5 unlock_time=899 even_deny_root audit dir=/run/faillock", None, None,
     ["unlock_time=899 s is shorter than 900 s"], (5, "899", True, True, "/run/faillock")),
])
def test_faillock_judges_each_setting_where_pam_reads_it(args: str, conf: dict[str, str] | None,
                                                         threshold: int | None, problems: list[str],
                                                         observed: tuple[Any, ...]) -> None:
    policy = {} if threshold is None else {"lockout_threshold": threshold}  # None: the default, 5
    got = password.faillock(faillock_pam(args, conf), **policy)
    keys = ("deny", "unlock_time", "even_deny_root", "audit", "dir")
    want: dict[str, Any] = {**dict(zip(keys, observed, strict=True)),
                            "rules": [f"{PW}:1: auth required pam_faillock.so preauth {args}".rstrip()]}
    if problems:
        assert seen(got) == (Status.FAIL, f"pam_faillock: {'; '.join(problems)}", {"problems": problems, **want},
                             Location(PW, 1))
    else:
        assert seen(got) == (Status.PASS, f"pam_faillock locks after {observed[0]} failures for {observed[1]} s, "
                                          "root included, audited", want, Location(PW, 1))


#: the auth line, faillock.conf, the policy's threshold (None: the default, 5) -> verdict, message, deny,
#: unlock_time as observed
@pytest.mark.parametrize(("line", "conf", "threshold", "status", "message", "deny", "unlock"), [
    ("pam_faillock.so preauth deny=1 unlock_time=900", None, None, Status.PASS,
     "pam_faillock.so locks after 1 failures", 1, "900"),
    ("pam_faillock.so preauth deny=6", None, None, Status.FAIL,
     "pam_faillock.so deny=6 does not lock within 5 failures", 6, None),
    # nothing set: pam_faillock locks after 3 (within a threshold of 3); faillock.conf's unlock_time is read
    ("pam_faillock.so preauth", {"unlock_time": "600"}, 3, Status.PASS, "pam_faillock.so locks after 3 failures", 3,
     "600"),
    # pam_tally2 has no default deny (it never locks) and does not read faillock.conf
    ("pam_tally2.so", {"deny": "3", "unlock_time": "900"}, None, Status.FAIL,
     "pam_tally2.so deny=0 does not lock within 5 failures", 0, None),
    ("pam_tally2.so deny=4 unlock_time=600", None, None, Status.PASS, "pam_tally2.so locks after 4 failures", 4, "600"),
])
def test_lockout_reads_deny_and_unlock_time_of_the_module_in_use(
        line: str, conf: dict[str, str] | None, threshold: int | None, status: Status, message: str, deny: int,
        unlock: str | None) -> None:
    policy = {} if threshold is None else {"lockout_threshold": threshold}
    got = password.lockout(pam(f"auth required {line}", installed=("pam_faillock.so", "pam_tally2.so"),
                               faillock=conf), **policy)
    assert seen(got) == (status, message, {"module": line.split()[0], "deny": deny, "unlock_time": unlock,
                                           "rules": [rule(1, f"auth required {line}")]}, Location(PW, 1))


#: login.defs lines, the pam_unix line -> the findings (status, scheme, rounds, explicit, minimum, where, location)
@pytest.mark.parametrize(("defs", "unix", "findings"), [
    ({"ENCRYPT_METHOD": "SHA512", "SHA_CRYPT_MIN_ROUNDS": "5000"}, "password required pam_unix.so",
     [(Status.PASS, "sha512", 5000, True, 5000, "/etc/login.defs ENCRYPT_METHOD sha512",
       Location("/etc/login.defs", 2))]),  # a pam_unix line without a scheme adds nothing
    # only the maximum set: it is the one that counts, and its line is named
    ({"ENCRYPT_METHOD": "SHA512", "SHA_CRYPT_MAX_ROUNDS": "4999"}, None,
     [(Status.FAIL, "sha512", 4999, True, 5000, "/etc/login.defs ENCRYPT_METHOD sha512",
       Location("/etc/login.defs", 2))]),
    ({"ENCRYPT_METHOD": "YESCRYPT", "YESCRYPT_COST_FACTOR": "5"}, "password required pam_unix.so yescrypt",
     [(Status.PASS, "yescrypt", 5, True, 5, "/etc/login.defs ENCRYPT_METHOD yescrypt",
       Location("/etc/login.defs", 2)),
      (Status.PASS, "yescrypt", 5, False, 5, rule(1, "password required pam_unix.so yescrypt"),
       Location(PW, 1))]),  # the defaults are the minimums
    ({}, "password required pam_unix.so sha512 rounds=4000",
     [(Status.FAIL, "sha512", 4000, True, 5000, rule(1, "password required pam_unix.so sha512 rounds=4000"),
       Location(PW, 1))]),
    ({}, "password required pam_unix.so sha256",
     [(Status.PASS, "sha256", 5000, False, 5000, rule(1, "password required pam_unix.so sha256"),
       Location(PW, 1))]),
])
def test_hash_rounds_default_minimums_and_the_line_read(
        defs: dict[str, str], unix: str | None, findings: list[tuple[Any, ...]]) -> None:
    got = password.hash_rounds(login_defs(**defs), pam(*([unix] if unix else [])))
    keys = ("scheme", "rounds", "explicit", "minimum")
    want = []
    for status, scheme, rounds, explicit, minimum, where, location in findings:
        message = (f"{scheme} with {rounds} rounds ({where})" if status is Status.PASS
                   else f"{scheme} with only {rounds} rounds, expected {minimum} ({where})")
        want.append((status, message, dict(zip(keys, (scheme, rounds, explicit, minimum), strict=True)), location))
    assert [seen(f) for f in got] == want


def test_hash_rounds_is_not_applicable_without_sha_crypt_or_yescrypt() -> None:
    for method in ("DES", "MD5", "BCRYPT"):
        got = password.hash_rounds(login_defs(ENCRYPT_METHOD=method), pam("password required pam_unix.so md5"))
        assert [(f.status, f.message) for f in got] == [
            (Status.NOT_APPLICABLE, "no SHA-crypt or yescrypt hashing is configured; the scheme itself is judged by "
                                    "linux.password.hashing")]


#: ENCRYPT_METHOD (None: unset), the pam_unix line -> verdict, the schemes configured, the location
@pytest.mark.parametrize(("method", "unix", "status", "configured", "where"), [
    (None, "password required pam_unix.so sha512", Status.FAIL,  # unset: login.defs means DES
     {"/etc/login.defs ENCRYPT_METHOD": "des", rule(1, "password required pam_unix.so sha512"): "sha512"},
     Location("/etc/login.defs")),
    ("BLOWFISH", "password required pam_unix.so yescrypt", Status.PASS,
     {"/etc/login.defs ENCRYPT_METHOD": "bcrypt", rule(1, "password required pam_unix.so yescrypt"): "yescrypt"},
     Location("/etc/login.defs", 1)),
    ("FOO", "password required pam_unix.so", Status.FAIL, {"/etc/login.defs ENCRYPT_METHOD": "foo"},
     Location("/etc/login.defs", 1)),  # an unknown method is named as written, and weak
    ("SHA512", "password required pam_unix.so md5", Status.FAIL,
     {"/etc/login.defs ENCRYPT_METHOD": "sha512", rule(1, "password required pam_unix.so md5"): "md5"},
     Location(PW, 1)),  # the weak pam_unix line is the location
])
def test_hashing_judges_every_configured_scheme(method: str | None, unix: str, status: Status,
                                               configured: dict[str, str], where: Location) -> None:
    defs = login_defs(**({} if method is None else {"ENCRYPT_METHOD": method}))
    got = password.hashing(defs, pam(unix), NO_ACCOUNTS)[0]
    weak = {k: v for k, v in configured.items() if v not in password.STRONG_SCHEMES}
    message = f"weak hashing configured: {weak}" if weak else "new passwords get a strong hash"
    assert seen(got) == (status, message, {"configured": configured}, where)


def test_hashing_names_every_stored_hash_of_a_weak_scheme() -> None:
    accounts = (entry("a", scheme="md5"), entry("b", scheme="sha512"), entry("c", "locked", scheme="des"),
                entry("d", "disabled", scheme=None))
    defs, unix = login_defs(ENCRYPT_METHOD="SHA512"), pam()
    assert seen(password.hashing(defs, unix, Shadow(accounts))[1]) == (
        Status.FAIL, "2 stored hash(es) use a weak scheme", {"accounts": {"a": "md5", "c": "des"}},
        Location("/etc/shadow"))
    assert seen(password.hashing(defs, unix, Shadow(accounts[1:2] + accounts[3:]))[1]) == (
        Status.PASS, "every stored hash uses a strong scheme", {"schemes": ["sha512"]}, Location("/etc/shadow"))

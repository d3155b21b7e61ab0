"""The helpers every Linux check shares, on small facts with exact results: logic survivors of
checks/linux/_common.py under mutmut (docs/mutation.md, issue 15 fifth session)."""
from __future__ import annotations

import pytest

from checks.linux._common import PamValue, interactive_users, missing_modules, mode_problems, pam_setting
from scanner.facts.linux import FileStat, Pam, Passwd, PasswdEntry, Shadow, ShadowEntry
from scanner.model import Location, freeze
from tests.checks.linux.factories import SECURITY, pam_rule

STACK = "/etc/pam.d/common-password"


def stack(*lines: str, conf: dict[str, dict[str, str]] | None = None, installed: tuple[str, ...] = (
        "pam_pwquality.so", "pam_faillock.so", "pam_pwhistory.so", "pam_unix.so")) -> Pam:
    """A PAM stack with the given rules and .conf files (``{"pwquality": {"minlen": "12"}}``), each setting of a
    .conf file on line 7 of /etc/security/<name>.conf."""
    conf = conf or {}
    return Pam(tuple(pam_rule(line, n=n) for n, line in enumerate(lines, 1)), freeze(conf.get("pwquality", {})),
               freeze(conf.get("faillock", {})), freeze(conf.get("pwhistory", {})), (STACK,),
               frozenset(SECURITY + m for m in installed),
               freeze({f"{name}:{k}": Location(f"/etc/security/{name}.conf", 7) for name, kv in conf.items()
                       for k in kv}))


@pytest.mark.parametrize(("conf", "module", "key"), [
    ("pwquality", "pam_pwquality", "minlen"), ("faillock", "pam_faillock", "deny"),
    ("pwhistory", "pam_pwhistory", "remember"),
])
def test_pam_setting_reads_each_conf_file_when_no_rule_argument_sets_it(conf: str, module: str, key: str) -> None:
    from_file = stack(f"password requisite {module}.so", conf={conf: {key: "5"}})
    assert pam_setting(from_file, "password", (module,), key, conf) == PamValue(
        "5", f"{module} configuration file", Location(f"/etc/security/{conf}.conf", 7))
    argument = stack(f"password requisite {module}.so {key}=9", conf={conf: {key: "5"}})  # an argument wins
    assert pam_setting(argument, "password", (module,), key, conf) == PamValue(
        "9", f"{STACK}:1: password requisite {module}.so {key}=9", Location(STACK, 1))
    assert pam_setting(from_file, "password", (module,), key) == PamValue(None, "")  # no conf named: unset


@pytest.mark.parametrize("conf", [None, "", "pwhistory", "sshd"])
def test_pam_setting_unset_anywhere_is_none_with_no_place(conf: str | None) -> None:
    pam = stack("password requisite pam_pwhistory.so use_authtok", conf={"pwquality": {"remember": "5"}})
    assert pam_setting(pam, "password", ("pam_pwhistory",), "remember", conf) == PamValue(None, "", None)


def test_missing_modules_names_each_module_once_and_every_rule() -> None:
    pam = stack("auth required pam_tally2.so deny=3", "auth required pam_faillock.so preauth",
                "auth required pam_tally2.so onerr=fail", installed=("pam_unix.so",))
    assert missing_modules(pam, "auth", ("pam_faillock", "pam_tally2")) == (
        " (pam_faillock.so, pam_tally2.so is named but not installed, so PAM does not apply it: "
        f"{STACK}:1: auth required pam_tally2.so deny=3; {STACK}:2: auth required pam_faillock.so preauth; "
        f"{STACK}:3: auth required pam_tally2.so onerr=fail)")
    assert missing_modules(stack("auth required pam_faillock.so"), "auth", ("pam_faillock",)) == ""


def test_mode_problems_names_mode_owner_and_every_allowed_group() -> None:
    st = FileStat("/etc/gshadow", 0o644, 1000, 4, "alice", "adm", "regular file")
    assert mode_problems(st, 0o640, ("root", "shadow")) == [
        "mode 0644 is wider than 0640", "owner alice is not root", "group adm is not root or shadow"]
    assert mode_problems(FileStat("/etc/gshadow", 0o640, 0, 0, "root", "shadow", "regular file"), 0o640,
                         ("root", "shadow")) == []


def test_interactive_users_are_the_passwd_accounts_with_a_usable_hash() -> None:
    def user(name: str) -> PasswdEntry:
        return PasswdEntry(name, "x", 1000, 1000, f"/home/{name}", "/bin/bash")

    def shadow(name: str, state: str) -> ShadowEntry:
        return ShadowEntry(name, state, None, None, None, None, None, None, None)

    passwd = Passwd((user("dave"), user("bob"), user("carol"), user("alice")))
    entries = Shadow((shadow("alice", "hash"), shadow("bob", "locked"), shadow("dave", "hash"),
                      shadow("erin", "hash")))  # carol has no shadow entry, erin no passwd entry
    assert interactive_users(passwd, entries) == ["dave", "alice"]

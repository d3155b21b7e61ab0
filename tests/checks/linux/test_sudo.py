"""The sudo checks on small facts, asserting the observed values (mutants of checks/linux/sudo.py that the
recorded cases left alive: docs/mutation.md)."""
from __future__ import annotations

from collections.abc import Callable

import pytest

from checks.linux import sudo
from scanner.facts.linux import FileModes, FileStat, Sudoers, SudoLine
from scanner.model import Finding, Location, Status
from scanner.registry import spec_of
from scanner.runner import evaluate
from tests.factories import make_fact, make_target


def stat(path: str, mode: int, uid: int = 0, owner: str = "root", kind: str = "regular file") -> FileStat:
    return FileStat(path=path, mode=mode, uid=uid, gid=0, owner=owner, group="root", kind=kind)


def sudoers(*texts: str) -> Sudoers:
    return Sudoers(installed=True, lines=tuple(SudoLine("/etc/sudoers", n, t) for n, t in enumerate(texts, 1)))


NOT_INSTALLED = "sudo is not installed (/etc/sudoers does not exist)"


@pytest.mark.parametrize("check", [sudo.nopasswd, sudo.use_pty, sudo.logfile, sudo.command_lists])
def test_without_sudo_each_sudoers_check_is_not_applicable_and_says_why(check: Callable[[Sudoers], Finding]) -> None:
    got = check(Sudoers(installed=False))
    assert (got.status, got.resource, got.message) == (Status.NOT_APPLICABLE, "sudoers", NOT_INSTALLED)


def test_without_sudoers_the_file_modes_check_is_not_applicable_and_says_why() -> None:
    got = sudo.file_modes(FileModes({"/etc/sudoers": None, "/etc/sudoers.d": stat("/etc/sudoers.d", 0o755)}))
    assert [(f.status, f.resource, f.message) for f in got] == [(Status.NOT_APPLICABLE, "sudoers", NOT_INSTALLED)]


def test_file_modes_judges_every_existing_file_with_its_mode_and_owner() -> None:
    files = FileModes({
        "/etc/sudoers": stat("/etc/sudoers", 0o440),
        "/etc/sudoers.d": stat("/etc/sudoers.d", 0o755, kind="directory"),
        "/etc/sudoers.d/a-gone": None,  # vanished between listing and stat: skipped, the rest still judged
        "/etc/sudoers.d/b": stat("/etc/sudoers.d/b", 0o644, uid=1000, owner="alice"),
        "/etc/sudoers.d/c": stat("/etc/sudoers.d/c", 0o755),  # a directory's limit is no file's
        "/etc/sudoers.d/d": stat("/etc/sudoers.d/d", 0o440, uid=1000, owner="alice"),
    })
    got = [(f.status, f.resource, f.message, dict(f.observed), f.location) for f in sudo.file_modes(files)]
    assert got == [
        (Status.PASS, "/etc/sudoers", "/etc/sudoers is 0440 root:root",
         {"mode": "0440", "owner": "root", "group": "root"}, Location("/etc/sudoers")),
        (Status.PASS, "/etc/sudoers.d", "/etc/sudoers.d is 0755 root:root",
         {"mode": "0755", "owner": "root", "group": "root"}, Location("/etc/sudoers.d")),
        (Status.FAIL, "/etc/sudoers.d/b", "/etc/sudoers.d/b: mode 0644 is wider than 0440; owner alice is not root",
         {"mode": "0644", "owner": "alice", "group": "root"}, Location("/etc/sudoers.d/b")),
        (Status.FAIL, "/etc/sudoers.d/c", "/etc/sudoers.d/c: mode 0755 is wider than 0440",
         {"mode": "0755", "owner": "root", "group": "root"}, Location("/etc/sudoers.d/c")),
        (Status.FAIL, "/etc/sudoers.d/d", "/etc/sudoers.d/d: owner alice is not root",
         {"mode": "0440", "owner": "alice", "group": "root"}, Location("/etc/sudoers.d/d")),
    ]


#: line: the sudoers line the finding points at
@pytest.mark.parametrize(("lines", "status", "message", "logfile", "line"), [
    (("Defaults logfile=/var/log/sudo.log",), Status.PASS, "sudo logs to /var/log/sudo.log", "/var/log/sudo.log", 1),
    (("Defaults use_pty,logfile=/var/log/sudo.log",), Status.PASS, "sudo logs to /var/log/sudo.log",
     "/var/log/sudo.log", 1),  # one Defaults line, several settings
    (("Defaults use_pty", "Defaults logfile=sudo.log"), Status.FAIL,
     "sudo has no log file of its own (logfile=sudo.log is not absolute)", "sudo.log", 2),
    (("Defaults use_pty",), Status.FAIL, "sudo has no log file of its own", None, None),
    (("Defaults logfile=/var/log/sudo.log", "Defaults !logfile"), Status.FAIL,
     "sudo has no log file of its own (turned off by !logfile)", "/var/log/sudo.log", 2),
    # only quotes are taken off a value: an X at either end stays (a relative path is no log file)
    (("Defaults logfile=X/var/log/sudo.log",), Status.FAIL,
     "sudo has no log file of its own (logfile=X/var/log/sudo.log is not absolute)", "X/var/log/sudo.log", 1),
    (('Defaults logfile="/var/log/sudoX"',), Status.PASS, "sudo logs to /var/log/sudoX", "/var/log/sudoX", 1),
])
def test_logfile_names_the_file_or_why_there_is_none(lines: tuple[str, ...], status: Status, message: str,
                                                    logfile: str | None, line: int | None) -> None:
    got = sudo.logfile(sudoers(*lines))
    assert (got.status, got.message, dict(got.observed)) == (status, message, {"logfile": logfile})
    assert got.location == Location("/etc/sudoers", line)


def test_use_pty_set_for_one_user_only_is_not_enough() -> None:
    got = sudo.use_pty(sudoers("Defaults:alice use_pty"))
    assert (got.status, got.message) == (Status.FAIL, "sudoers does not set 'Defaults use_pty'")


@pytest.mark.parametrize(("line", "status", "why"), [
    # a tag carries over to the next command of the list
    ("alice ALL=(ALL) NOPASSWD: /bin/ls, ALL", Status.FAIL, "NOPASSWD: ALL"),
    # an '=' in a command's arguments is no second rule
    ("alice ALL=(ALL) NOPASSWD: ALL, /usr/bin/env A=b", Status.FAIL, "NOPASSWD: ALL"),
    ("alice ALL=(ALL) ALL, !/bin/su", Status.FAIL, "negated command"),
    # an alias definition is no rule, even with a '!' and an '='
    ("Cmnd_Alias SHELLS = /bin/ls, !/bin/sh", Status.PASS, None),
])
def test_command_lists_reads_tags_and_commands_as_sudo_does(line: str, status: Status, why: str | None) -> None:
    got = sudo.command_lists(sudoers(line))
    assert got.status is status
    assert dict(got.observed) == {"rules": (f"/etc/sudoers:1: {line} ({why})",) if why else ()}


def test_a_command_alias_member_with_an_equals_sign_keeps_the_alias_name() -> None:
    got = sudo.command_lists(sudoers("Cmnd_Alias ROOTCMDS = ALL, /usr/bin/env A=b",
                                     "alice ALL=(ALL) NOPASSWD: ROOTCMDS"))
    assert (got.status, dict(got.observed)) == (
        Status.FAIL, {"rules": ("/etc/sudoers:2: alice ALL=(ALL) NOPASSWD: ROOTCMDS (NOPASSWD: ALL)",)})


def alias_chain(depth: int, last: str) -> Sudoers:
    """``Cmnd_Alias A0 = A1``, ..., ``A<depth-1> = last`` and a rule granting A0 without a password."""
    return sudoers(*(f"Cmnd_Alias A{n} = A{n + 1}" for n in range(depth - 1)), f"Cmnd_Alias A{depth - 1} = {last}",
                   "alice ALL=(ALL) NOPASSWD: A0")


@pytest.mark.parametrize("last", ["ALL", "/bin/ls, ALL"])
def test_nested_command_aliases_are_followed_seventeen_deep(last: str) -> None:
    got = sudo.command_lists(alias_chain(17, last))
    assert (got.status, dict(got.observed)) == (
        Status.FAIL, {"rules": ("/etc/sudoers:18: alice ALL=(ALL) NOPASSWD: A0 (NOPASSWD: ALL)",)})
    assert sudo.command_lists(alias_chain(17, "/bin/ls")).status is Status.PASS


@pytest.mark.parametrize("sudoers_", [alias_chain(18, "ALL"),  # passed before: A17 was read as a plain command
                                      sudoers("Cmnd_Alias A = B", "Cmnd_Alias B = A", "alice ALL=(ALL) A")])
def test_command_aliases_too_deep_or_in_a_loop_are_an_error_not_a_pass(sudoers_: Sudoers) -> None:
    got = evaluate(spec_of(sudo.command_lists), {"linux.sudoers": make_fact("linux.sudoers", sudoers_)},
                   make_target())
    assert [f.status for f in got] == [Status.ERROR]
    assert got[0].message.startswith("check raised ValueError: command alias ")
    assert got[0].message.endswith(" is nested more than 16 aliases deep or in a loop")


@pytest.mark.parametrize(("command", "aliases", "expanded"), [
    ("FOO", {}, ["FOO"]),  # an alias name with no definition reads as a command
    ("ALL", {"ALL": ["/bin/ls"]}, ["ALL"]),  # ALL is never an alias
    ("sh", {"sh": ["ALL"]}, ["sh"]),  # nor is a name sudo would not take for one
    ("!XNOSU", {"XNOSU": ["!/bin/su", "/bin/ls"]}, ["/bin/su", "!/bin/ls"]),  # a negated negation is the command
    ("NOSU", {"NOSU": ["!/bin/su"]}, ["!/bin/su"]),  # one '!' only
    ("A", {"A": ["XUNDEF", "!XOTHER"]}, ["XUNDEF", "!XOTHER"]),  # names kept as written
    ("!A", {"A": ["XUNDEF"]}, ["!XUNDEF"]),
])
def test_expand_reads_only_defined_upper_case_aliases(command: str, aliases: dict[str, list[str]],
                                                      expanded: list[str]) -> None:
    assert sudo.expand(command, aliases) == expanded

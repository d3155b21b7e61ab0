"""The account-file mode checks on small facts, asserting status, message, observed values and location: logic
survivors of checks/linux/files.py under mutmut (docs/mutation.md, issue 15 fifth session)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from checks.linux import files
from scanner.facts.linux import FileModes, FileStat
from scanner.model import Finding, Location, Status, thaw

SHADOW = ("/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-")
PASSWD = ("/etc/passwd", "/etc/group", "/etc/passwd-", "/etc/group-")
Check = Callable[[FileModes], list[Finding]]

#: check, the paths it judges in order, its mode limit, an allowed group besides root, the paths that must exist
CHECKS = [pytest.param(files.shadow_perms, SHADOW, 0o640, "shadow", ("/etc/shadow",), id="shadow"),
          pytest.param(files.passwd_perms, PASSWD, 0o644, "root", ("/etc/passwd", "/etc/group"), id="passwd")]


def stat(path: str, mode: int, owner: str = "root", group: str = "root") -> FileStat:
    return FileStat(path, mode, 0 if owner == "root" else 1000, 0, owner, group, "regular file")


def seen(f: Finding) -> tuple[Status, str, str, dict[str, Any], Location | None]:
    return f.status, f.resource, f.message, thaw(f.observed), f.location


def observed(mode: int, owner: str = "root", group: str = "root") -> dict[str, Any]:
    return {"mode": f"{mode:04o}", "owner": owner, "group": group}


@pytest.mark.parametrize(("check", "paths", "limit", "group", "required"), CHECKS)
def test_each_file_at_its_limit_passes_and_one_bit_wider_fails(check: Check, paths: tuple[str, ...], limit: int,
                                                               group: str, required: tuple[str, ...]) -> None:
    at_limit = check(FileModes({p: stat(p, limit, group=group) for p in paths}))
    assert [seen(f) for f in at_limit] == [
        (Status.PASS, p, f"{p} is {limit:04o} root:{group}", observed(limit, group=group), Location(p)) for p in paths]
    for wide in paths:  # each file judged by its own path: only the one too wide fails
        got = check(FileModes({p: stat(p, limit | 0o001 if p == wide else limit, group=group) for p in paths}))
        assert [(f.resource, f.status) for f in got] == [
            (p, Status.FAIL if p == wide else Status.PASS) for p in paths]
        assert seen(got[paths.index(wide)]) == (
            Status.FAIL, wide, f"{wide}: mode {limit | 1:04o} is wider than {limit:04o}",
            observed(limit | 1, group=group), Location(wide))


@pytest.mark.parametrize(("check", "paths", "limit", "group", "required"), CHECKS)
def test_a_missing_live_file_fails_and_a_missing_backup_is_not_applicable(
        check: Check, paths: tuple[str, ...], limit: int, group: str, required: tuple[str, ...]) -> None:
    got = check(FileModes({p: None for p in paths}))  # every one looked for, none there: the loop goes on
    assert [seen(f) for f in got] == [
        (Status.FAIL, p, f"{p} does not exist", {}, Location(p)) if p in required else
        (Status.NOT_APPLICABLE, p, f"{p} does not exist on this system", {}, None) for p in paths]
    # the backups were not looked for (no entry): no finding; a live file with no entry is missing all the same
    only_first = check(FileModes({paths[0]: stat(paths[0], limit, group=group)}))
    assert [(f.resource, f.status) for f in only_first] == [
        (p, Status.PASS if p == paths[0] else Status.FAIL) for p in paths if p == paths[0] or p in required]


@pytest.mark.parametrize(("check", "path", "owner", "group", "message"), [
    (files.shadow_perms, "/etc/shadow", "root", "shadow", None),
    (files.shadow_perms, "/etc/shadow", "root", "adm", "/etc/shadow: group adm is not root or shadow"),
    (files.passwd_perms, "/etc/passwd", "root", "shadow", "/etc/passwd: group shadow is not root"),
    (files.shadow_perms, "/etc/gshadow", "alice", "root", "/etc/gshadow: owner alice is not root"),
])
def test_owner_and_group_are_judged_per_check(check: Check, path: str, owner: str, group: str,
                                              message: str | None) -> None:
    got = {f.resource: f for f in check(FileModes({path: stat(path, 0o600, owner, group)}))}[path]
    assert (got.status, got.message) == ((Status.FAIL, message) if message else
                                         (Status.PASS, f"{path} is 0600 {owner}:{group}"))

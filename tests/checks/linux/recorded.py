"""Facts from recorded files and command outputs under ``tests/fixtures/linux/<case>/``.

A case holds ``files/`` (a copy of the host's files at their absolute paths), ``probes/<fact>/<label>.out``
(with optional ``.rc`` and ``.err``; a probe without a recording counts as "command not found"), an optional
``unreadable.txt`` (paths the scanning user could not read) and an optional ``policy.json``. The recordings are
framed exactly as the collector's shell helpers frame them, then go through the collector's own splitter and
parsers, so a case exercises everything but the shell.
"""
from __future__ import annotations

import glob
import json
import re
from collections.abc import Callable
from pathlib import Path

from scanner.collectors import linux
from scanner.collectors.linux_accounts import LOGIN_ENV_FILES
from scanner.collectors.linux_logs import LOGROTATE_FILES
from scanner.collectors.linux_password import PAM_DIR_GLOB
from scanner.connectors import CommandResult
from scanner.model import Fact, Target
from tests.factories import make_target

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "linux"
CASES = ("debian12", "ubuntu2204", "rhel9", "hardened", "weak")
NONCE = "0123456789abcdef0123456789abcdef"


def _mark(kind: str, arg: str) -> bytes:
    return f"\n{NONCE} {kind} {arg}\n".encode()


def _show(root: Path, pattern: str, unreadable: set[str]) -> bytes:
    out = b""
    if "*" in pattern:
        paths = sorted("/" + str(Path(p).relative_to(root / "files"))
                       for p in glob.glob(str(root / "files") + pattern) if Path(p).is_file())
        if pattern.rsplit("/", 1)[0] in unreadable:
            return _mark("UNREADABLE", pattern.rsplit("/", 1)[0])
    else:
        paths = [pattern]
    for path in paths:
        local = root / "files" / path.lstrip("/")
        if path in unreadable or path.rsplit("/", 1)[0] in unreadable:
            out += _mark("UNREADABLE", path)
        elif local.is_file():
            out += _mark("FILE", path) + local.read_bytes()
        else:
            out += _mark("MISSING", path)
    return out


def _dump(root: Path, patterns: tuple[str, ...], unreadable: set[str],
          keep: Callable[[str, str], bool] = lambda path, line: True) -> bytes:
    """What a ``dump_files`` probe prints for the case's ``files/`` (issue 14: many small files in one awk)."""
    listed, denied = [], []
    for pattern in patterns:
        if "*" in pattern:
            directory = pattern.rsplit("/", 1)[0]
            if directory in unreadable:
                denied.append(directory)
                continue
            paths = sorted("/" + str(Path(p).relative_to(root / "files"))
                           for p in glob.glob(str(root / "files") + pattern) if Path(p).is_file())
        else:
            paths = [pattern] if (root / "files" / pattern.lstrip("/")).is_file() else []
        for path in paths:
            (denied if path in unreadable else listed).append(path)
    out = "".join(f"U\t{p}\n" for p in denied) + "".join(f"F\t{p}\n" for p in listed)
    for i, path in enumerate(listed, 1):
        text = (root / "files" / path.lstrip("/")).read_text()
        body = text[:-1] if text.endswith("\n") else text
        out += "".join(f"{i}\t{n}\t{line}\n" for n, line in enumerate(body.split("\n"), 1)
                       if keep(path, line)) if text else ""
    return out.encode()


#: Probes that print files (``dump_files``): recorded as the files themselves under ``files/``.
DUMPS = {("linux.login_env", "files"): LOGIN_ENV_FILES, ("linux.pam_services", "files"): (PAM_DIR_GLOB,),
         ("linux.logrotate", "files"): LOGROTATE_FILES}
#: The lines a dump keeps (the same condition as the probe's awk: LOGIN_ENV_LINES).
KEEP: dict[tuple[str, str], Callable[[str, str], bool]] = {
    ("linux.login_env", "files"): lambda path, line: path == "/etc/securetty" or bool(
        re.search("umask|PATH|secure_path", line))}


def _probe(root: Path, fact: str, label: str, unreadable: set[str] | None = None) -> bytes:
    base = root / "probes" / fact.split(".", 1)[1] / label
    out = base.with_suffix(".out")
    if (fact, label) in DUMPS and not out.exists():
        dumped = _dump(root, DUMPS[(fact, label)], unreadable or set(), KEEP.get((fact, label), lambda p, t: True))
        return _mark("PROBE", label) + dumped + _mark("RC", f"{label} 0")
    rc_file, err_file = base.with_suffix(".rc"), base.with_suffix(".err")
    if not out.exists() and not rc_file.exists():
        return _mark("PROBE", label) + _mark("RC", f"{label} 127") + f"sh: 1: {label}: not found".encode()
    rc = rc_file.read_text().strip() if rc_file.exists() else "0"
    data = out.read_bytes() if out.exists() else b""
    err = err_file.read_bytes() if err_file.exists() else b""
    return _mark("PROBE", label) + data + _mark("RC", f"{label} {rc}") + err


def case_target(case: str, fixtures: Path = FIXTURES, **policy_overrides: object) -> Target:
    root = fixtures / case
    policy = json.loads((root / "policy.json").read_text()) if (root / "policy.json").exists() else {}
    policy.update(policy_overrides)
    return make_target(case, policy=policy)


def recorded_output(case: str, target: Target, names: list[str], fixtures: Path = FIXTURES) -> bytes:
    root = fixtures / case
    unreadable_file = root / "unreadable.txt"
    unreadable = set(unreadable_file.read_text().split()) if unreadable_file.exists() else set()
    out = b""
    for name in names:
        files, probes = linux.SECTIONS_BY_NAME[name].plan(target)
        out += _mark("BEGIN", name)
        for pattern in files:
            out += _show(root, pattern, unreadable)
        for label, _command in probes:
            out += _probe(root, name, label, unreadable)
        out += _mark("END", name)
    return out


def recorded_facts(case: str, target: Target | None = None, fixtures: Path = FIXTURES) -> dict[str, Fact]:
    """Every Linux fact of a case, parsed by the collector from the recorded output."""
    target = target or case_target(case, fixtures)
    names = sorted(linux.SECTIONS_BY_NAME)
    specs = [linux.SECTIONS_BY_NAME[n] for n in names]
    _, sources = linux.build_script(specs, target, NONCE, 10)
    result = CommandResult(exit_code=0, stdout=recorded_output(case, target, names, fixtures), stderr=b"")
    return linux.facts_from_output(result, specs, sources, NONCE, target)

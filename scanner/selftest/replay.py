"""Replay a recorded Linux host through the collector's own splitter and parsers.

A recording is a directory: ``files/`` (the host's files at their absolute paths), ``probes/<fact>/<label>.out``
(with optional ``.rc`` and ``.err``; a probe without a recording answers "command not found"), an optional
``unreadable.txt`` (paths the scanning user could not read) and an optional ``policy.json``. The recordings are
framed exactly as the collector's shell helpers frame them, so a replay exercises everything but the shell.

``changes`` lays edits over a recording without copying it (relative path -> new text, or None for "absent"):
that is how a known-answer case damages evidence.
"""
from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scanner.model import Fact, Platform, Target

NONCE = "0123456789abcdef0123456789abcdef"
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Recording:
    root: Path
    changes: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))

    def read(self, rel: str) -> bytes | None:
        """The bytes of ``rel`` (relative to the recording), or None when absent."""
        if rel in self.changes:
            text = self.changes[rel]
            return None if text is None else text.encode()
        path = self.root / rel
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            return fh.read(MAX_FILE_BYTES)

    def host_files(self, pattern: str) -> list[str]:
        """Host paths under ``files/`` matching a pattern whose ``*`` is in its last part only (as ``glob``)."""
        directory, name = pattern.rsplit("/", 1)
        local = self.root / "files" / directory.lstrip("/")
        found = {f"{directory}/{p.name}" for p in local.iterdir() if p.is_file()} if local.is_dir() else set()
        found |= {"/" + rel[len("files/"):] for rel in self.changes if rel.startswith("files/")}
        return sorted(p for p in found
                      if p.rsplit("/", 1)[0] == directory and self.read("files" + p) is not None
                      and fnmatch.fnmatchcase(p.rsplit("/", 1)[1], name)
                      and (name.startswith(".") or not p.rsplit("/", 1)[1].startswith(".")))

    def unreadable(self) -> set[str]:
        data = self.read("unreadable.txt")
        return set(data.decode().split()) if data else set()

    def policy(self) -> dict[str, Any]:
        data = self.read("policy.json")
        policy = json.loads(data) if data else {}
        if not isinstance(policy, dict):
            raise ValueError(f"{self.root}/policy.json: not a JSON object")
        return policy


def _mark(kind: str, arg: str) -> bytes:
    return f"\n{NONCE} {kind} {arg}\n".encode()


def _show(rec: Recording, pattern: str, unreadable: set[str]) -> bytes:
    out = b""
    if "*" in pattern:
        if pattern.rsplit("/", 1)[0] in unreadable:
            return _mark("UNREADABLE", pattern.rsplit("/", 1)[0])
        paths = rec.host_files(pattern)
    else:
        paths = [pattern]
    for path in paths:
        data = rec.read("files" + path)
        if path in unreadable or path.rsplit("/", 1)[0] in unreadable:
            out += _mark("UNREADABLE", path)
        elif data is not None:
            out += _mark("FILE", path) + data
        else:
            out += _mark("MISSING", path)
    return out


def _dump(rec: Recording, patterns: tuple[str, ...], unreadable: set[str],
          keep: Callable[[str, str], bool]) -> bytes:
    """What a ``dump_files`` probe prints for the recording's ``files/`` (many small files in one awk)."""
    listed: list[str] = []
    denied: list[str] = []
    for pattern in patterns:
        if "*" in pattern:
            directory = pattern.rsplit("/", 1)[0]
            if directory in unreadable:
                denied.append(directory)
                continue
            paths = rec.host_files(pattern)
        else:
            paths = [pattern] if rec.read("files" + pattern) is not None else []
        for path in paths:
            (denied if path in unreadable else listed).append(path)
    out = "".join(f"U\t{p}\n" for p in denied) + "".join(f"F\t{p}\n" for p in listed)
    for i, path in enumerate(listed, 1):
        text = (rec.read("files" + path) or b"").decode()
        body = text[:-1] if text.endswith("\n") else text
        out += "".join(f"{i}\t{n}\t{line}\n" for n, line in enumerate(body.split("\n"), 1)
                       if keep(path, line)) if text else ""
    return out.encode()


def _dumps() -> dict[tuple[str, str], tuple[tuple[str, ...], Callable[[str, str], bool]]]:
    """Probes that print files (``dump_files``), recorded as the files themselves under ``files/``, with the
    lines the probe's awk keeps."""
    from scanner.collectors.linux_accounts import LOGIN_ENV_FILES
    from scanner.collectors.linux_logs import LOGROTATE_FILES
    from scanner.collectors.linux_password import PAM_DIR_GLOB

    def login_env(path: str, line: str) -> bool:
        return path == "/etc/securetty" or bool(re.search("umask|PATH|secure_path", line))

    return {("linux.login_env", "files"): (LOGIN_ENV_FILES, login_env),
            ("linux.pam_services", "files"): ((PAM_DIR_GLOB,), lambda path, line: True),
            ("linux.logrotate", "files"): (LOGROTATE_FILES, lambda path, line: True)}


def _probe(rec: Recording, fact: str, label: str, unreadable: set[str]) -> bytes:
    base = f"probes/{fact.split('.', 1)[1]}/{label}"
    out, rc, err = rec.read(base + ".out"), rec.read(base + ".rc"), rec.read(base + ".err")
    dumps = _dumps()
    if (fact, label) in dumps and out is None:
        patterns, keep = dumps[(fact, label)]
        return _mark("PROBE", label) + _dump(rec, patterns, unreadable, keep) + _mark("RC", f"{label} 0")
    if out is None and rc is None:
        return _mark("PROBE", label) + _mark("RC", f"{label} 127") + f"sh: 1: {label}: not found".encode()
    code = rc.decode().strip() if rc is not None else "0"
    return _mark("PROBE", label) + (out or b"") + _mark("RC", f"{label} {code}") + (err or b"")


def target_for(rec: Recording, name: str, policy: Mapping[str, Any] | None = None) -> Target:
    """The local Linux target a recording stands for: its ``policy.json``, then ``policy`` on top."""
    return Target(name=name, type=Platform.LINUX, options={"connection": "local"},
                  policy={**rec.policy(), **(policy or {})})


def output(rec: Recording, target: Target, names: Iterable[str]) -> bytes:
    """The batch output the collector would have read from the recorded host for these facts."""
    from scanner.collectors import linux

    unreadable = rec.unreadable()
    out = b""
    for name in names:
        files, probes = linux.SECTIONS_BY_NAME[name].plan(target)
        out += _mark("BEGIN", name)
        for pattern in files:
            out += _show(rec, pattern, unreadable)
        for label, _command in probes:
            out += _probe(rec, name, label, unreadable)
        out += _mark("END", name)
    return out


def facts(rec: Recording, target: Target, names: Iterable[str] | None = None) -> dict[str, Fact]:
    """Linux facts of a recording (all of them unless ``names``), parsed by the collector."""
    from scanner.collectors import linux
    from scanner.connectors import CommandResult

    wanted = sorted(set(names) if names is not None else linux.SECTIONS_BY_NAME)
    specs = [linux.SECTIONS_BY_NAME[n] for n in wanted]
    _, sources = linux.build_script(specs, target, NONCE, 10)
    result = CommandResult(exit_code=0, stdout=output(rec, target, wanted), stderr=b"")
    got: dict[str, Fact] = linux.facts_from_output(result, specs, sources, NONCE, target)
    return got

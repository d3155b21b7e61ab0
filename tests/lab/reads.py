"""What the Linux collectors read on a host, derived from their read table (scanner/collectors/linux.py).

Every section of ``SECTIONS`` names the files it shows and the shell probes it runs; the absolute paths in both
are what a scan of a host reads. The SSH lab (tests/lab/sshlab.py) builds each host's private files from this
list, and tests/lab/test_lab_isolation.py proves that every such path is private to the lab host or on the
justified allow-list below. A new path in a collector shows up here by itself.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.collectors.linux import SECTIONS
from scanner.model import Platform, Target

#: An absolute path (or glob) in a probe's shell text: it starts a word, after a blank, a quote or a redirection.
_PATH = re.compile(r"""(?:^|(?<=[\s'"=<>(]))(/[A-Za-z0-9_.*+\[\]-]+(?:/[A-Za-z0-9_.*+\[\]-]*)*)""")
#: The top-level directories a host's files live in; a token elsewhere (``/6000`` of ``find -perm``) is no path.
ROOTS = ("etc", "root", "home", "var", "proc", "usr", "lib", "lib64", "bin", "sbin", "opt", "run", "dev", "sys")


@dataclass(frozen=True)
class Read:
    path: str  # absolute path or glob
    fact: str  # the fact whose section reads it


def collector_reads() -> list[Read]:
    """Every path a Linux scan reads (files shown and paths in probes), per fact, sorted and without repeats.

    Sections planned from the inventory (a declared backup status file, a restore test record) read only what the
    inventory names; with no such policy, as in the lab scans, they read nothing."""
    target = Target("lab", Platform.LINUX, {}, {})
    seen: set[Read] = set()
    for spec in SECTIONS:
        files, probes = spec.plan(target)
        paths = set(files) | {p for _, command in probes for p in _PATH.findall(command)}
        for path in paths:
            if path.split("/")[1] in ROOTS and path != "/dev/null":
                seen.add(Read(path.rstrip("/") or "/", spec.name))
    return sorted(seen, key=lambda r: (r.path, r.fact))


def etc_reads() -> list[str]:
    """The paths and globs under /etc a scan reads."""
    return sorted({r.path for r in collector_reads() if r.path.startswith("/etc/")})

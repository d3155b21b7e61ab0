"""OpenSSH server: the effective configuration from ``sshd -T``, the files it is read from, and the host keys."""
from __future__ import annotations

import fnmatch
import re

from scanner.collectors.linux_common import BLANKS, NOT_FOUND, ParseError, Section, config_lines, fields, lines
from scanner.collectors.linux_files import stat_lines, with_files
from scanner.facts.linux import SshdConfig, SshdFiles, SshdInclude
from scanner.model import Location, Target, freeze


def parse_sshd(section: Section, target: Target) -> SshdConfig:
    probe = section.probe("sshd_T")
    if probe.rc == NOT_FOUND:
        return SshdConfig(installed=False)
    if not probe.ok:
        raise ParseError(probe.reason("sshd -T"))
    options: dict[str, list[str]] = {}
    for line in lines(probe.text()):
        parts = fields(line, 1)
        if len(parts) == 2 and re.fullmatch(r"[a-z0-9]+", parts[0]):
            options.setdefault(parts[0], []).append(parts[1])
    for required in ("permitrootlogin", "passwordauthentication", "ciphers"):
        if required not in options:
            raise ParseError(f"sshd -T output has no {required!r}: not an sshd configuration dump")
    return SshdConfig(installed=True, options=freeze(options))


# ---------------------------------------------------------------- where the configuration comes from

SSHD_CONFIG = "/etc/ssh/sshd_config"
SSHD_DROPINS = "/etc/ssh/sshd_config.d/*"
#: How deep Include directives are followed (sshd itself stops at 16).
MAX_INCLUDE_DEPTH = 16
_STAT = "%a|%u|%g|%U|%G|%F|%n"
#: Owner and mode of sshd_config and of every file an Include directive in it (or in a drop-in) matches on the host.
SSHD_INCLUDES_PROBE = (  # stat -L: an included symlink (RHEL crypto policy) counts by its target
    f"@{{stat}} -c '{_STAT}' -- {SSHD_CONFIG}; "
    + with_files(f"{SSHD_CONFIG} {SSHD_DROPINS}",
                 "@{awk} 'tolower($1)==\"include\" { for (i = 2; i <= NF; i++) print $i }' \"$@\" "
                 "| while IFS= read -r p; do case $p in /*) ;; *) p=/etc/ssh/$p;; esac; "
                 f"for f in $p; do if [ -e \"$f\" ]; then @{{stat}} -L -c '{_STAT}' -- \"$f\"; fi; done; done")
    + "; true"
)
#: Owner and mode of the private host keys, in one ``stat``: sshd's three default ones, any other at
#: /etc/ssh/ssh_host_*_key, and those HostKey names in sshd_config and its drop-ins (``missing|path`` when absent).
#: A key ``sshd -T`` names that this did not reach is an error in the check, never a pass; running ``sshd -T`` a
#: second time here would cost more than the rest of the section.
SSHD_HOSTKEYS_PROBE = (
    "k=$(for f in /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ed25519_key "
    "/etc/ssh/ssh_host_*_key; do case $f in *'*'*) ;; *) printf '%s\\n' \"$f\";; esac; done; "
    + with_files(f"{SSHD_CONFIG} {SSHD_DROPINS}",
                 "@{awk} 'tolower($1) == \"hostkey\" && $2 != \"\" { print $2 }' \"$@\"")
    + "); set -f; IFS='\n'; set --; for x in $k; do if [ -e \"$x\" ] || [ -L \"$x\" ]; then set -- \"$@\" \"$x\"; "
    "else printf 'missing|%s\\n' \"$x\"; fi; done; "
    f"if [ $# -gt 0 ]; then @{{stat}} -c '{_STAT}' -- \"$@\"; fi"
)


def _directives(text: str) -> list[tuple[int, str, str]]:
    """(line, keyword in lower case, value) of an sshd_config file: ``Keyword value`` or ``Keyword=value``."""
    out = []
    for n, line in config_lines(text):
        m = re.match(r"([A-Za-z0-9]+)(?:[ \t]*=[ \t]*|[ \t]+)(.*)$", line)
        if not m:
            raise ParseError(f"sshd configuration line {n}: not a 'Keyword value' line: {line[:80]!r}")
        out.append((n, m.group(1).lower(), m.group(2).strip(BLANKS)))
    return out


def _matches(pattern: str, candidates: list[str]) -> list[str]:
    path = pattern if pattern.startswith("/") else "/etc/ssh/" + pattern
    return sorted(c for c in candidates if fnmatch.fnmatchcase(c, path))


def parse_sshd_files(section: Section, target: Target) -> SshdFiles:
    section.require_readable(SSHD_CONFIG, "/etc/ssh/sshd_config.d")
    stats = stat_lines(section.probe("includes").text()) if section.probe("includes").ok else None
    if stats is None:
        raise ParseError(section.probe("includes").reason("stat of sshd_config and its includes"))
    keys = section.probe("hostkeys")
    if not keys.ok:
        raise ParseError(keys.reason("stat of the host keys"))
    host_keys = stat_lines(keys.text())
    if section.text(SSHD_CONFIG) is None:
        return SshdFiles((), (), freeze({}), freeze({}), freeze(host_keys))
    shown = section.present()
    known = sorted(set(shown) | {p for p, st in stats.items() if st is not None and st.kind.startswith("regular")})
    order: list[str] = []
    includes: list[SshdInclude] = []
    set_at: dict[str, Location] = {}
    missing: list[str] = []

    def read(path: str, depth: int) -> None:
        if depth > MAX_INCLUDE_DEPTH:
            raise ParseError(f"{path}: Include nested deeper than {MAX_INCLUDE_DEPTH}")
        order.append(path)
        text = section.text(path)
        if text is None:
            missing.append(path)
            return
        in_match = False
        for n, key, value in _directives(text):
            if key == "match":
                in_match = value.lower() != "all"
            elif key == "include":
                for pattern in fields(value):
                    matched = _matches(pattern, known)
                    includes.append(SshdInclude(path, n, pattern, tuple(matched)))
                    for m in matched:
                        read(m, depth + 1)
            elif not in_match:
                set_at.setdefault(key, Location(path, n))

    read(SSHD_CONFIG, 0)
    file_stats = {p: st for p, st in stats.items() if st is not None and p in order}
    return SshdFiles(tuple(order), tuple(includes), freeze(set_at), freeze(file_stats), freeze(host_keys),
                     tuple(missing))

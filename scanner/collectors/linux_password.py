"""Password policy: login.defs, useradd defaults and the PAM password/auth stacks with their .conf files."""
from __future__ import annotations

import re
import shlex

from scanner.collectors.linux_common import ParseError, Section, config_lines, key_values
from scanner.facts.linux import LoginDefs, Pam, PamRule
from scanner.model import Target, freeze

#: The PAM files that hold the password and auth stacks on Debian/Ubuntu and on RHEL-like systems.
PAM_STACKS = ("/etc/pam.d/common-password", "/etc/pam.d/common-auth", "/etc/pam.d/common-account",
              "/etc/pam.d/system-auth", "/etc/pam.d/password-auth")


def parse_login_defs(section: Section, target: Target) -> LoginDefs:
    values = key_values(section.file("/etc/login.defs"))
    section.require_readable("/etc/default/useradd")
    useradd = key_values(section.text("/etc/default/useradd") or "", sep="=")
    return LoginDefs(freeze(values), freeze(useradd))


def pam_rules(path: str, text: str) -> list[PamRule]:
    rules = []
    joined = re.sub(r"\\\n", " ", text)
    for n, line in config_lines(joined):
        if line.startswith("@include"):
            continue
        m = re.match(r"-?(\w+)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            raise ParseError(f"{path} line {n}: not a PAM rule: {line[:80]!r}")
        args = {}
        for tok in shlex.split(m.group(4), comments=True):
            k, _, v = tok.partition("=")
            args[k] = v
        rules.append(PamRule(path, n, m.group(1).lower(), m.group(2), m.group(3), freeze(args)))
    return rules


def _conf_dir(section: Section, main: str, dropins: str) -> dict[str, str]:
    values = key_values(section.text(main) or "", sep="=")
    for path in section.present(dropins):
        values.update(key_values(section.text(path) or "", sep="="))
    return values


def parse_pam(section: Section, target: Target) -> Pam:
    section.require_readable("/etc/pam.d", "/etc/security")
    files = tuple(p for p in PAM_STACKS if section.files.get(p) is not None)
    if not files:
        raise ParseError("none of the PAM stack files exists: " + ", ".join(PAM_STACKS))
    rules = [r for p in files for r in pam_rules(p, section.text(p) or "")]
    return Pam(
        rules=tuple(rules),
        pwquality=freeze(_conf_dir(section, "/etc/security/pwquality.conf", "/etc/security/pwquality.conf.d/")),
        faillock=freeze(key_values(section.text("/etc/security/faillock.conf") or "", sep="=")),
        pwhistory=freeze(key_values(section.text("/etc/security/pwhistory.conf") or "", sep="=")),
        files=files,
    )

"""OpenSSH server: the effective configuration from ``sshd -T``."""
from __future__ import annotations

import re

from scanner.collectors.linux_common import NOT_FOUND, ParseError, Section, fields, lines
from scanner.facts.linux import SshdConfig
from scanner.model import Target, freeze


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

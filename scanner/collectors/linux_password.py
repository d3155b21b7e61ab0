"""Password policy: login.defs, useradd defaults and the PAM password/auth stacks with their .conf files; every PAM
service file (su, login, sshd, ...) for the checks that read one service."""
from __future__ import annotations

import re

from scanner.collectors.linux_common import BLANKS, ParseError, Section, config_lines, lines, settings
from scanner.collectors.linux_files import dump_files, dumped
from scanner.facts.linux import LoginDefs, Pam, PamRule, PamServices
from scanner.model import Location, Target, freeze

#: The PAM files that hold the password and auth stacks on Debian/Ubuntu and on RHEL-like systems.
PAM_STACKS = ("/etc/pam.d/common-password", "/etc/pam.d/common-auth", "/etc/pam.d/common-account",
              "/etc/pam.d/system-auth", "/etc/pam.d/password-auth")
#: Where distributions install PAM modules (Debian multiarch, RHEL/SUSE lib64, others).
PAM_MODULE_GLOBS = ("/lib/security/*.so", "/lib64/security/*.so", "/usr/lib/security/*.so", "/usr/lib64/security/*.so",
                    "/lib/*/security/*.so", "/usr/lib/*/security/*.so")
#: Lists the module files that exist, with shell built-ins only.
PAM_MODULES_PROBE = ("for f in " + " ".join(PAM_MODULE_GLOBS)
                     + "; do if [ -f \"$f\" ]; then printf '%s\\n' \"$f\"; fi; done; true")


def _located(path: str, found: dict[str, tuple[str, int]]) -> tuple[dict[str, str], dict[str, Location]]:
    return ({k: v for k, (v, _) in found.items()}, {k: Location(path, n) for k, (_, n) in found.items()})


def parse_login_defs(section: Section, target: Target) -> LoginDefs:
    values, where = _located("/etc/login.defs", settings(section.file("/etc/login.defs")))
    section.require_readable("/etc/default/useradd")
    useradd, useradd_where = _located("/etc/default/useradd",
                                      settings(section.text("/etc/default/useradd") or "", sep="="))
    return LoginDefs(freeze(values), freeze(useradd), freeze(where), freeze(useradd_where))


def _words(text: str) -> list[str]:
    """PAM module arguments: blank-separated, ``[...]`` keeps blanks (brackets dropped), ``#`` ends the line."""
    out, word, depth, bracketed = [], "", 0, False
    for ch in text:
        if depth:
            if ch == "]":
                depth = 0
            else:
                word += ch
        elif ch == "[":
            depth, bracketed = 1, True
        elif ch == "#" and not word and not bracketed:
            break
        elif ch in BLANKS:
            if word or bracketed:
                out.append(word)
            word, bracketed = "", False
        else:
            word += ch
    if word or bracketed:
        out.append(word)
    return out


def pam_rules(path: str, text: str) -> list[PamRule]:
    rules = []
    logical: list[tuple[int, str]] = []  # a line ending in a backslash continues on the next one
    for n, raw in enumerate(lines(text), 1):
        if logical and logical[-1][1].endswith("\\"):
            logical[-1] = (logical[-1][0], logical[-1][1][:-1] + " " + raw)
        else:
            logical.append((n, raw))
    for n, line in ((n, t) for n, text_ in logical for _, t in config_lines(text_)):
        if line.startswith("@include"):
            continue
        m = re.match(r"-?(\w+)[ \t]+(\[[^\]]*\]|[^ \t]+)[ \t]+([^ \t]+)[ \t]*(.*)$", line)
        if not m:
            raise ParseError(f"{path} line {n}: not a PAM rule: {line[:80]!r}")
        args = {}
        for tok in _words(m.group(4)):
            k, _, v = tok.partition("=")
            args[k] = v
        rules.append(PamRule(path, n, m.group(1).lower(), m.group(2), m.group(3), freeze(args)))
    return rules


def _conf(section: Section, name: str, main: str, dropins: str | None,
          where: dict[str, Location]) -> dict[str, str]:
    """A module's .conf file (and its drop-ins, which win), recording where each value was set."""
    values: dict[str, str] = {}
    for path in [main] + (section.present(dropins) if dropins else []):
        found, located = _located(path, settings(section.text(path) or "", sep="="))
        values.update(found)
        where.update({f"{name}:{k}": loc for k, loc in located.items()})
    return values


def _module_files(section: Section) -> frozenset[str]:
    probe = section.probe("modules")
    if not probe.ok:
        raise ParseError(probe.reason("list PAM modules"))
    return frozenset(line for line in lines(probe.text()) if re.fullmatch(r"/[\x21-\x7e]+", line))


def parse_pam(section: Section, target: Target) -> Pam:
    section.require_readable("/etc/pam.d", "/etc/security")
    files = tuple(p for p in PAM_STACKS if section.files.get(p) is not None)
    if not files:
        raise ParseError("none of the PAM stack files exists: " + ", ".join(PAM_STACKS))
    rules = [r for p in files for r in pam_rules(p, section.text(p) or "")]
    where: dict[str, Location] = {}
    return Pam(
        rules=tuple(rules),
        pwquality=freeze(_conf(section, "pwquality", "/etc/security/pwquality.conf",
                               "/etc/security/pwquality.conf.d/", where)),
        faillock=freeze(_conf(section, "faillock", "/etc/security/faillock.conf", None, where)),
        pwhistory=freeze(_conf(section, "pwhistory", "/etc/security/pwhistory.conf", None, where)),
        files=files,
        module_files=_module_files(section),
        conf_locations=freeze(where),
    )


# ---------------------------------------------------------------- every PAM service file

PAM_DIR_GLOB = "/etc/pam.d/*"
#: Every PAM service file in one ``dump_files`` probe (``show`` would run two processes per file).
PAM_SERVICES_PROBE = dump_files((PAM_DIR_GLOB,))


def parse_pam_services(section: Section, target: Target) -> PamServices:
    section = dumped(section.probe("files"), "/etc/pam.d")
    section.require_readable("/etc/pam.d")
    found: dict[str, tuple[PamRule, ...]] = {}
    errors: dict[str, str] = {}
    for path in section.present("/etc/pam.d/"):
        try:
            found[path] = tuple(pam_rules(path, section.text(path) or ""))
        except ParseError as exc:
            errors[path] = str(exc)
    if not found and not errors:
        raise ParseError("/etc/pam.d holds no files")
    return PamServices(freeze(found), freeze(errors))

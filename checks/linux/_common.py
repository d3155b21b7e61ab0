"""Helpers shared by the Linux checks (no checks live here)."""
from __future__ import annotations

from dataclasses import dataclass

from scanner.facts.linux import FileStat, Pam, PamRule, Passwd, Shadow, SshdConfig
from scanner.model import Finding, Location, not_applicable

SSHD = "sshd"
#: sshd -T shows the effective configuration, which is read from this file (and what it includes).
SSHD_CONFIG = Location("/etc/ssh/sshd_config")


def sshd_missing(sshd: SshdConfig) -> Finding | None:
    if sshd.installed:
        return None
    return not_applicable(SSHD, "OpenSSH server is not installed (sshd not found)")


def rule_text(rule: PamRule) -> str:
    args = " ".join(k if v == "" else f"{k}={v}" for k, v in rule.args.items())
    return f"{rule.file}:{rule.line}: {rule.type} {rule.control} {rule.module} {args}".rstrip()


@dataclass(frozen=True)
class PamValue:
    """A PAM module option as PAM will apply it, and where it was set."""

    value: str | None
    where: str  # "file:line: rule" or "<module> configuration file"; "" when unset
    location: Location | None = None


def pam_setting(pam: Pam, type_: str, modules: tuple[str, ...], key: str, conf: str | None = None) -> PamValue:
    """A module option of an installed module: a module argument wins over its .conf file (``conf`` names it:
    pwquality, faillock, pwhistory)."""
    for rule in pam.find(type_, *modules):
        if key in rule.args:
            return PamValue(rule.args[key], rule_text(rule), rule.location)
    values = {"pwquality": pam.pwquality, "faillock": pam.faillock, "pwhistory": pam.pwhistory}.get(conf or "", {})
    if conf is not None and key in values:
        return PamValue(values[key], f"{modules[0]} configuration file", pam.conf_location(conf, key))
    return PamValue(None, "")


def missing_modules(pam: Pam, type_: str, modules: tuple[str, ...]) -> str:
    """A sentence naming the rules whose module file is not installed (PAM skips or fails them), or ""."""
    missing = pam.missing(type_, *modules)
    if not missing:
        return ""
    listed = "; ".join(rule_text(r) for r in missing)
    return f" ({', '.join(sorted({r.name for r in missing}))} is named but not installed, so PAM does not apply " \
           f"it: {listed})"


def first_location(pam: Pam, type_: str, modules: tuple[str, ...]) -> Location | None:
    """Where the first rule naming one of ``modules`` is, installed or not."""
    rules = pam.configured(type_, *modules)
    return rules[0].location if rules else None


def interactive_users(passwd: Passwd, shadow: Shadow) -> list[str]:
    """Accounts that can log in with a password: a usable hash in /etc/shadow."""
    usable = {e.name for e in shadow.entries if e.usable}
    return [e.name for e in passwd.entries if e.name in usable]


def mode_problems(st: FileStat, max_mode: int, groups: tuple[str, ...]) -> list[str]:
    """What is wrong with a file against a maximum mode, a root owner and the allowed groups."""
    problems = []
    if st.mode & ~max_mode & 0o7777:
        problems.append(f"mode {st.octal} is wider than {max_mode:04o}")
    if st.owner != "root":
        problems.append(f"owner {st.owner} is not root")
    if st.group not in groups:
        problems.append(f"group {st.group} is not {' or '.join(groups)}")
    return problems

"""Helpers shared by the Linux checks (no checks live here)."""
from __future__ import annotations

from scanner.facts.linux import FileStat, Pam, PamRule, Passwd, Shadow, SshdConfig
from scanner.model import Finding, not_applicable

SSHD = "sshd"


def sshd_missing(sshd: SshdConfig) -> Finding | None:
    if sshd.installed:
        return None
    return not_applicable(SSHD, "OpenSSH server is not installed (sshd not found)")


def rule_text(rule: PamRule) -> str:
    args = " ".join(k if v == "" else f"{k}={v}" for k, v in rule.args.items())
    return f"{rule.file}:{rule.line}: {rule.type} {rule.control} {rule.module} {args}".rstrip()


def pam_setting(pam: Pam, type_: str, modules: tuple[str, ...], key: str,
                conf: dict[str, str] | None = None) -> tuple[str | None, str]:
    """A module option: a module argument wins over its .conf file. Returns (value, where it was found)."""
    for rule in pam.find(type_, *modules):
        if key in rule.args:
            return rule.args[key], rule_text(rule)
    if conf is not None and key in conf:
        return conf[key], f"{modules[0]} configuration file"
    return None, ""


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

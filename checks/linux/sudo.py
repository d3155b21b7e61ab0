"""sudo: privilege escalation asks for the user's password, runs in a pty, is logged, and its rules and files are
tight."""
from __future__ import annotations

import re
from typing import Any

from scanner.facts.linux import FileModes, Sudoers, SudoLine
from scanner.model import Finding, Location, failed, not_applicable, passed
from scanner.registry import check

_NO_AUTH = re.compile(r"(\bNOPASSWD\s*:)|(^Defaults\b.*!\s*authenticate\b)")


@check(id="linux.sudo.nopasswd", title="sudo always asks for a password", severity="high", area="access_control",
       criterion="No sudoers rule grants NOPASSWD and authentication is not turned off with !authenticate.",
       remediation="Remove NOPASSWD from the listed sudoers rules and '!authenticate' from Defaults (edit with "
                   "visudo); give automation a narrowly scoped rule for the exact commands it needs instead.")
def nopasswd(sudoers: Sudoers) -> Finding:
    if not sudoers.installed:
        return not_applicable("sudoers", "sudo is not installed (/etc/sudoers does not exist)")
    offending = [s for s in sudoers.lines if _NO_AUTH.search(s.text)]
    if offending:
        return failed("sudoers", f"{len(offending)} sudoers line(s) skip authentication",
                      location=offending[0].location, rules=[f"{s.file}:{s.line}: {s.text}" for s in offending])
    files = sorted({s.file for s in sudoers.lines})
    return passed("sudoers", "no sudoers rule skips authentication", location=Location("/etc/sudoers"),
                  files=files, rules=[])


# ---------------------------------------------------------------- issue 14: sudo's log, pty, files and rules

_DEFAULTS = re.compile(r"Defaults([:@!>][^ \t]+)?[ \t]+(.*)$")


def defaults(sudoers: Sudoers) -> list[tuple[SudoLine, str, str, str]]:
    """Every Defaults setting: (line, scope ('' for global), name, value); '!name' is kept with its '!'."""
    out = []
    for line in sudoers.lines:
        m = _DEFAULTS.match(line.text)
        if not m:
            continue
        for item in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", m.group(2)):
            name, _, value = item.strip().partition("=")
            out.append((line, m.group(1) or "", name.strip(), value.strip().strip('"')))
    return out


@check(id="linux.sudo.use_pty", title="sudo runs commands in their own terminal", severity="medium",
       area="access_control",
       criterion="sudoers sets 'Defaults use_pty' and no Defaults line turns it off (a command run without a pty can "
                 "keep running in the background after sudo ends and inject input into the user's terminal).",
       remediation="Add 'Defaults use_pty' to /etc/sudoers with visudo and remove any '!use_pty'.")
def use_pty(sudoers: Sudoers) -> Finding:
    if not sudoers.installed:
        return not_applicable("sudoers", "sudo is not installed (/etc/sudoers does not exist)")
    found = [(line, scope, name) for line, scope, name, _ in defaults(sudoers) if name in ("use_pty", "!use_pty")]
    off = [f"{x.file}:{x.line}: {x.text}" for x, _, name in found if name == "!use_pty"]
    on = [x for x, scope, name in found if name == "use_pty" and scope == ""]
    if off:
        return failed("sudoers", "use_pty is turned off: " + "; ".join(off), location=found[0][0].location, off=off)
    if not on:
        return failed("sudoers", "sudoers does not set 'Defaults use_pty'", location=Location("/etc/sudoers"),
                      off=[])
    return passed("sudoers", f"use_pty is set ({on[-1].file}:{on[-1].line})", location=on[-1].location, off=[])


@check(id="linux.sudo.logfile", title="sudo keeps its own log file", severity="medium", area="audit_logging",
       criterion="sudoers sets 'Defaults logfile=<absolute path>' for all users, so every sudo command is recorded "
                 "in a file of its own besides syslog.",
       remediation="Add 'Defaults logfile=\"/var/log/sudo.log\"' to /etc/sudoers with visudo and include the file "
                   "in log rotation and forwarding.")
def logfile(sudoers: Sudoers) -> Finding:
    if not sudoers.installed:
        return not_applicable("sudoers", "sudo is not installed (/etc/sudoers does not exist)")
    found = [(line, value) for line, scope, name, value in defaults(sudoers) if name == "logfile" and scope == ""]
    turned_off = [line for line, _, name, _ in defaults(sudoers) if name == "!logfile"]
    if found and found[-1][1].startswith("/") and not turned_off:
        line, value = found[-1]
        return passed("sudoers", f"sudo logs to {value}", location=line.location, logfile=value)
    where = turned_off[0].location if turned_off else (found[-1][0].location if found else Location("/etc/sudoers"))
    set_to = found[-1][1] if found else None
    why = " (turned off by !logfile)" if turned_off else f" (logfile={set_to} is not absolute)" if found else ""
    return failed("sudoers", "sudo has no log file of its own" + why, location=where, logfile=set_to)


@check(id="linux.sudo.file_modes", title="sudoers files are root's and not writable", severity="high",
       area="access_control",
       criterion="/etc/sudoers and every file in /etc/sudoers.d are owned by root with mode 0440 or stricter, and "
                 "/etc/sudoers.d is owned by root and not writable by group or others.",
       remediation="chown root:root and chmod 0440 the listed sudoers files, and chmod go-w /etc/sudoers.d.")
def file_modes(sudo_files: FileModes) -> list[Finding]:
    if sudo_files.files.get("/etc/sudoers") is None:
        return [not_applicable("sudoers", "sudo is not installed (/etc/sudoers does not exist)")]
    findings = []
    for path, st in sorted(sudo_files.files.items()):
        if st is None:
            continue
        is_dir = st.kind == "directory"
        limit = 0o755 if is_dir else 0o440
        problems = [f"mode {st.octal} is wider than {limit:04o}"] if st.mode & ~limit & 0o7777 else []
        problems += [f"owner {st.owner} is not root"] if st.uid != 0 else []
        observed: dict[str, Any] = {"mode": st.octal, "owner": st.owner, "group": st.group}
        status = failed if problems else passed
        findings.append(status(path, f"{path}: {'; '.join(problems)}" if problems else
                               f"{path} is {st.octal} {st.owner}:{st.group}", location=Location(path), **observed))
    return findings


_SPEC_SKIP = re.compile(r"(Defaults|User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\b|[#@]include")
_TAG = re.compile(r"^((?:[A-Z_]+:[ \t]*)*)(.*)$")


def command_list(text: str) -> list[tuple[tuple[str, ...], str]]:
    """(tags in force, command) of a user specification's commands; tags carry over to the next command."""
    _, _, rest = text.partition("=")
    out: list[tuple[tuple[str, ...], str]] = []
    tags: tuple[str, ...] = ()
    for part in re.split(r"[ \t]*,[ \t]*|[ \t]*:[ \t]*(?=[^ \t]+[ \t]*=)", rest):
        part = re.sub(r"^\([^)]*\)[ \t]*", "", part.strip())  # (runas)
        m = _TAG.match(part)
        if m and m.group(1):
            tags = tuple(t.strip() for t in m.group(1).split(":") if t.strip())
        command = (m.group(2) if m else part).strip()
        if command:
            out.append((tags, command))
    return out


_CMND_ALIAS = re.compile(r"(?:Cmnd_Alias|Cmd_Alias)[ \t]+(.*)$")
_AUTH_OFF = re.compile(r"Defaults\S*[ \t].*(?<![\w-])!authenticate\b")
_ALIAS_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def cmnd_aliases(lines: tuple[str, ...]) -> dict[str, list[str]]:
    """Command alias name -> its members, from every ``Cmnd_Alias A = x, y : B = z`` line."""
    out: dict[str, list[str]] = {}
    for text in lines:
        m = _CMND_ALIAS.match(text)
        if not m:
            continue
        for definition in re.split(r"[ \t]*:[ \t]*(?=[A-Z][A-Z0-9_]*[ \t]*=)", m.group(1)):
            name, _, members = definition.partition("=")
            out[name.strip()] = [c.strip() for c in members.split(",") if c.strip()]
    return out


def expand(command: str, aliases: dict[str, list[str]], depth: int = 0) -> list[str]:
    """A command as sudo reads it: an alias stands for its members (``!ALIAS`` negates each one). Sudo follows
    nested aliases to any depth; past 16 levels (or in a loop, which sudo refuses) the rule cannot be judged, so this
    raises ValueError and the runner reports an error instead of reading the alias as a harmless command."""
    negated, name = command.startswith("!"), command.lstrip("!").strip()
    if not _ALIAS_NAME.fullmatch(name) or name == "ALL" or name not in aliases:
        return [command]
    if depth > 16:
        raise ValueError(f"command alias {name} is nested more than 16 aliases deep or in a loop")
    out = []
    for member in aliases[name]:
        for cmd in expand(member, aliases, depth + 1):
            out.append(("!" + cmd.lstrip("!")) if negated != cmd.startswith("!") else cmd.lstrip("!"))
    return out


@check(id="linux.sudo.command_lists", title="No unrestricted passwordless sudo and no negated command lists",
       severity="high", area="access_control",
       criterion="No sudoers rule grants ALL commands with NOPASSWD, no rule lists a negated command ('ALL, "
                 "!/bin/su'): a deny list is easy to get round (a copy or a shell escape), so it gives no control; "
                 "command aliases count as the commands they stand for, and 'Defaults !authenticate' (for everyone "
                 "or some) switches the password off like NOPASSWD.",
       remediation="Replace the listed rules with explicit lists of the commands each user or service needs, "
                   "asking for a password for administrative use, and remove '!authenticate' defaults (visudo).")
def command_lists(sudoers: Sudoers) -> Finding:
    if not sudoers.installed:
        return not_applicable("sudoers", "sudo is not installed (/etc/sudoers does not exist)")
    aliases = cmnd_aliases(tuple(line.text for line in sudoers.lines))
    bad = []
    for line in sudoers.lines:
        if _AUTH_OFF.match(line.text):
            bad.append((line, "authentication off"))
            continue
        if _SPEC_SKIP.match(line.text) or "=" not in line.text:
            continue
        commands = [(tags, cmd) for tags, each in command_list(line.text) for cmd in expand(each, aliases)]
        if any("NOPASSWD" in tags and cmd == "ALL" for tags, cmd in commands):
            bad.append((line, "NOPASSWD: ALL"))
        if any(cmd.startswith("!") for _, cmd in commands):
            bad.append((line, "negated command"))
    if bad:
        rules = [f"{x.file}:{x.line}: {x.text} ({why})" for x, why in bad]
        return failed("sudoers", f"{len(bad)} sudoers rule(s) are unrestricted or use a deny list",
                      location=bad[0][0].location, rules=rules)
    return passed("sudoers", "no NOPASSWD: ALL, no negated command list, no '!authenticate'",
                  location=Location("/etc/sudoers"), rules=[])

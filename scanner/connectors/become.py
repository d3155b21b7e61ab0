"""Privilege escalation shared by the shell connectors (local, ssh): sudo, the password tried exactly once.

The password never appears in a command line or an environment: it is the first line the connector writes to
the command's stdin. The connector then waits. Once sudo has let the privileged wrapper run, the wrapper prints
``SUDO_READY`` and the connector sends ``SUDO_BEGIN`` and the script; the wrapper skips every line before
``SUDO_BEGIN``, so a password sudo did not ask for (NOPASSWD) is discarded, never run as a command. Without
``SUDO_READY`` sudo refused, and ``unwrap_sudo`` raises ``BecomeError`` with what sudo said.

A wrong password is **one** failed authentication, whatever ``passwd_tries`` says: sudo prints its prompt
(``SUDO_PROMPT``, on stderr) before every attempt; an unprivileged watcher on sudo's stderr ends the command's
process group with SIGKILL at the second prompt, while sudo waits for input that never comes and before PAM
records a second failure (pam_faillock, pam_tally). Nothing ever reads a script line as a password. A site whose
PAM prompt replaces sudo's (not the ``Password:`` of pam_unix and pam_sss) falls back to the command timeout.

The privileged wrapper runs the script as a child and, on SIGTERM or SIGHUP (relayed by sudo when the scan is
interrupted or times out), ends its whole process group: the scanner, not being root, cannot signal those
processes itself.
"""
from __future__ import annotations

import os
import shlex

from scanner.connectors import CommandResult, ConnectorError
from scanner.model import Target

SHELL = "sh -s"
SUDO_READY = b"__gxpscan_sudo_ready__\n"
SUDO_BEGIN = b"__gxpscan_sudo_begin__\n"
SUDO_PROMPT = "__gxpscan_sudo_prompt__"
REFUSED_ONCE = "sudo: the password was refused; gxpscan does not retry it (one failed attempt)"

_READY = SUDO_READY.decode().strip()
#: Root side: announce on stdout and stderr, skip to SUDO_BEGIN, run the script, end the group on TERM/HUP.
_PRIVILEGED = (
    f"echo {_READY}; echo {_READY} >&2; "
    f'while :; do IFS= read -r l || exit 97; [ "$l" = {SUDO_BEGIN.decode().strip()} ] && break; done; '
    # an asynchronous command's stdin is /dev/null unless redirected from a saved descriptor
    'trap "trap - TERM HUP; kill -TERM 0" TERM HUP; exec 5<&0; sh -s <&5 5<&- & exec 5<&-; wait "$!"'
)
#: Unprivileged side, reading sudo's stderr: pass it on; kill the group at sudo's second password prompt.
_WATCH = (
    'n=0; while IFS= read -r l || [ -n "$l" ]; do case "$l" in '
    f"{_READY}) exec cat;; "
    f'{SUDO_PROMPT}) n=$((n+1)); if [ "$n" -gt 1 ]; then echo "{REFUSED_ONCE}"; kill -KILL 0; fi;; '
    """*) printf '%s\\n' "$l";; esac; done"""
)


def _wrapped(sudo: str) -> str:
    """sudo's stdout goes straight out, its stderr through the watcher; the exit code is sudo's."""
    return "sh -c " + shlex.quote(
        "exec 3>&1; "
        f"rc=$( {{ {{ {sudo} sh -c {shlex.quote(_PRIVILEGED)} 2>&1 >&3 3>&- 4>&-; echo \"$?\" >&4; }} "
        f"| {{ {_WATCH}; }} >&2 3>&- 4>&-; }} 4>&1 ); "
        'exit "${rc:-125}"')


SUDO_WITH_PASSWORD = _wrapped(f"sudo -k -S -p '{SUDO_PROMPT}\n'")
SUDO_NO_PASSWORD = _wrapped("sudo -n")


class BecomeError(ConnectorError):
    """sudo refused to run the privileged batch."""


def secret(target: Target, option: str) -> str | None:
    """The value of the environment variable the option names, or None if the option is unset."""
    name = target.opt(option)
    if not name:
        return None
    value = os.environ.get(str(name))
    if value is None:
        raise ConnectorError(f"target {target.name}: environment variable {name} ({option}) is not set")
    return value


def sudo_command(target: Target, is_root: bool, where: object) -> tuple[str, bytes]:
    """The shell command line and the stdin prefix for a privileged batch (no secret in the command)."""
    if is_root:
        return SHELL, b""
    if target.opt("become") != "sudo":
        raise BecomeError(f"root is needed but {where} is not root and the target has no 'become: sudo'")
    password = secret(target, "become_password_env")
    if password is None:
        return SUDO_NO_PASSWORD, b""
    if "\n" in password or "\r" in password:
        raise BecomeError(f"target {target.name}: the sudo password contains a line break; it cannot be sent")
    return SUDO_WITH_PASSWORD, password.encode() + b"\n"


def unwrap_sudo(result: CommandResult, where: object) -> CommandResult:
    """Strip the ready marker, or raise BecomeError with what sudo said."""
    if result.stdout.startswith(SUDO_READY):
        return CommandResult(result.exit_code, result.stdout[len(SUDO_READY):], result.stderr,
                             result.timed_out, result.truncated)
    if result.timed_out or result.truncated:  # not sudo's answer: let the caller see what happened
        return result
    said = " ".join(result.stderr.decode("utf-8", "replace").split())[:300] or f"exit {result.exit_code}"
    raise BecomeError(f"sudo refused on {where}: {said}")

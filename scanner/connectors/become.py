"""Privilege escalation shared by the shell connectors (local, ssh): sudo with the password on stdin.

The password never appears in a command line. With a password, sudo reads the first stdin line itself
when it prompts; the wrapper then skips lines up to ``SUDO_BEGIN``, so a password sudo did not ask for
(NOPASSWD, cached credentials) is discarded, never run as a command. The wrapper prints ``SUDO_READY``
once sudo has let it run; its absence means sudo refused, and ``unwrap_sudo`` raises ``BecomeError``.
"""
from __future__ import annotations

import os

from scanner.connectors import CommandResult, ConnectorError
from scanner.model import Target

SHELL = "sh -s"
SUDO_READY = b"__gxpscan_sudo_ready__\n"
SUDO_BEGIN = "__gxpscan_sudo_begin__"
SUDO_WITH_PASSWORD = (
    "sudo -k -S -p '' sh -c 'while IFS= read -r l; do if [ \"$l\" = " + SUDO_BEGIN + " ]; then "
    "echo " + SUDO_READY.decode().strip() + "; exec sh -s; fi; done; exit 97'"
)
SUDO_NO_PASSWORD = "sudo -n sh -c 'echo " + SUDO_READY.decode().strip() + "; exec sh -s'"


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


def sudo_command(target: Target, is_root: bool, where: str) -> tuple[str, bytes]:
    """The shell command line and the stdin prefix for a privileged batch (no secret in the command)."""
    if is_root:
        return SHELL, b""
    if target.opt("become") != "sudo":
        raise BecomeError(f"root is needed but {where} is not root and the target has no 'become: sudo'")
    password = secret(target, "become_password_env")
    if password is None:
        return SUDO_NO_PASSWORD, b""
    return SUDO_WITH_PASSWORD, password.encode() + b"\n" + SUDO_BEGIN.encode() + b"\n"


def unwrap_sudo(result: CommandResult, where: str) -> CommandResult:
    """Strip the ready marker, or raise BecomeError with what sudo said."""
    if result.stdout.startswith(SUDO_READY):
        return CommandResult(result.exit_code, result.stdout[len(SUDO_READY):], result.stderr,
                             result.timed_out, result.truncated)
    if result.timed_out or result.truncated:  # not sudo's answer: let the caller see what happened
        return result
    said = " ".join(result.stderr.decode("utf-8", "replace").split())[:300] or f"exit {result.exit_code}"
    raise BecomeError(f"sudo refused on {where}: {said}")

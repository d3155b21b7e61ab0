"""Transports. One small class per transport, imported lazily from this table.

A connector is built from a Target, is used as a context manager, and never decides pass or fail.
Shell-like connectors (local, ssh) implement ``run``; API connectors (aws, ldap) expose
the client objects their collectors need.
"""
from __future__ import annotations

import importlib
import inspect
import os
import signal
import threading
import time
from typing import Any, Protocol

from scanner.model import Target
from scanner.value import frozen

#: connector key -> "module:Class". The key is the target's ``connection`` option, else its type.
CONNECTORS = {
    "local": "scanner.connectors.local:LocalConnector",
    "ssh": "scanner.connectors.ssh:SSHConnector",
    "aws": "scanner.connectors.aws:AWSConnector",
    "ldap": "scanner.connectors.ldap:LDAPConnector",
    "iac": "scanner.connectors.iac:IacConnector",
    "winrm": "scanner.connectors.winrm:WinRMConnector",
}
#: target type -> connector key, where they differ
TYPE_CONNECTORS = {"windows": "winrm"}


class ConnectorError(Exception):
    """The target could not be reached or refused us. The message must never contain a secret."""


@frozen
class CommandResult:
    exit_code: int | None  # None when the command timed out or the channel died
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    truncated: bool = False  # stdout hit the output bound and the rest was discarded


class ShellConnector(Protocol):
    def run(self, script: str, *, timeout: float, become: bool = False,
            limit: int = ...) -> CommandResult: ...

    @property
    def is_root(self) -> bool: ...

    def __enter__(self) -> ShellConnector: ...

    def __exit__(self, *exc: Any) -> None: ...


#: Seconds a process group gets between SIGTERM and SIGKILL (sudo needs a moment to relay the TERM to root).
TERMINATE_GRACE = 2.0


def terminate_group(pgid: int, grace: float = TERMINATE_GRACE, reap: Any = None) -> None:
    """End a process group: SIGTERM, up to ``grace`` seconds for it to empty, then SIGKILL.

    TERM first because a group started through sudo holds root processes this (unprivileged) scanner cannot
    signal: sudo relays the TERM to its command, whose wrapper ends its own group (``become``). ``reap`` is an
    optional ``Popen`` whose exit is collected meanwhile, so a dead leader does not look alive.
    """
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    until = time.monotonic() + grace
    while time.monotonic() < until:
        if reap is not None:
            reap.poll()
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:
            pass  # only processes we may not signal are left: sudo's relayed TERM is ending them
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class ProcessScope:
    """The process groups one scan started on this machine, so that an interrupted scan ends every one of them.

    Shell connectors register each process group they start and drop it when it has ended. ``end_all`` (the
    runner calls it when the scan is interrupted) refuses any new process and terminates the live groups.
    """

    def __init__(self, grace: float = TERMINATE_GRACE) -> None:
        self.grace = grace
        self.cancelled = threading.Event()
        self._lock = threading.Lock()
        self._groups: set[int] = set()

    def add(self, pgid: int) -> bool:
        """Track a group; False (the caller must end it) when the scan is already being ended."""
        with self._lock:
            if self.cancelled.is_set():
                return False
            self._groups.add(pgid)
            return True

    def discard(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)

    def live(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._groups)

    def end_all(self) -> None:
        with self._lock:
            self.cancelled.set()
            groups = sorted(self._groups)
        workers = [threading.Thread(target=terminate_group, args=(g, self.grace), daemon=True) for g in groups]
        for w in workers:
            w.start()
        for w in workers:
            w.join(self.grace + 5)


def connector_key(target: Target) -> str:
    return str(target.opt("connection") or TYPE_CONNECTORS.get(target.type.value, target.type.value))


def connector_class(key: str) -> type[Any]:
    try:
        module, _, cls = CONNECTORS[key].partition(":")
    except KeyError:
        raise ConnectorError(f"no connector for {key!r}; known: {', '.join(sorted(CONNECTORS))}") from None
    found: type[Any] = getattr(importlib.import_module(module), cls)
    return found


def open_connector(target: Target, scope: ProcessScope | None = None) -> Any:
    """Build (not yet enter) the connector for a target; shell connectors get the scan's process scope."""
    cls = connector_class(connector_key(target))
    if scope is not None and "scope" in inspect.signature(cls).parameters:
        return cls(target, scope=scope)
    return cls(target)

"""Transports. One small class per transport, imported lazily from this table.

A connector is built from a Target, is used as a context manager, and never decides pass or fail.
Shell-like connectors (local, ssh, winrm) implement ``run``; API connectors (aws, ldap) expose
the client objects their collectors need.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

from scanner.model import Target

#: connector key -> "module:Class". The key is the target's ``connection`` option, else its type.
CONNECTORS = {
    "local": "scanner.connectors.local:LocalConnector",
    "ssh": "scanner.connectors.ssh:SSHConnector",
    "winrm": "scanner.connectors.winrm:WinRMConnector",
    "aws": "scanner.connectors.aws:AWSConnector",
    "ldap": "scanner.connectors.ldap:LDAPConnector",
}


class ConnectorError(Exception):
    """The target could not be reached or refused us. The message must never contain a secret."""


@dataclass(frozen=True)
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


def connector_key(target: Target) -> str:
    return str(target.opt("connection") or target.type.value)


def connector_class(key: str) -> type:
    try:
        module, _, cls = CONNECTORS[key].partition(":")
    except KeyError:
        raise ConnectorError(f"no connector for {key!r}; known: {', '.join(sorted(CONNECTORS))}") from None
    return getattr(importlib.import_module(module), cls)


def open_connector(target: Target) -> Any:
    """Build (not yet enter) the connector for a target."""
    return connector_class(connector_key(target))(target)

"""SSH transport (paramiko): verified host keys, key/agent/password auth, jump hosts, sudo.

A shell script is sent on the stdin of ``sh -s`` over one exec channel; it never appears on a
command line. Privileged scripts run under ``sudo`` in one more channel, the sudo password (if any)
written to stdin first and the script only once sudo has let the command run (``scanner.connectors.become``:
a wrong password is one failed attempt). Every read is bounded in bytes and in time, and ends when the scan
is interrupted (the scan's ``ProcessScope``).

Secrets (key passphrase, login password, sudo password) are read from the environment variables the
inventory names, only when needed, and never put into a message, a log line or an argument list.
"""
from __future__ import annotations

import base64
import fcntl
import getpass
import hashlib
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from scanner.connectors import CommandResult, ConnectorError, ProcessScope
from scanner.connectors.become import (  # noqa: F401
    SHELL,
    SUDO_BEGIN,
    SUDO_READY,
    BecomeError,
    secret,
    sudo_command,
    unwrap_sudo,
)
from scanner.model import Target

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 8 * 1024 * 1024  # stdout bytes kept per command
STDERR_LIMIT = 64 * 1024
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_HOST_TIMEOUT = 600.0
CHUNK = 64 * 1024


#: OpenSSH key names -> the algorithms that negotiate them.
KEY_ALGORITHMS = {
    "ssh-rsa": ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
}


@dataclass(frozen=True)
class Endpoint:
    """One SSH server to reach, after ssh_config and inventory options are merged."""

    alias: str  # the name the inventory or ProxyJump used
    host: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()

    @property
    def known_hosts_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style SHA256 fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_jump(spec: str) -> list[tuple[str | None, str, int | None]]:
    """``[user@]host[:port][,...]`` -> [(user, host, port)]. ``none`` means no jump."""
    hops: list[tuple[str | None, str, int | None]] = []
    if not spec or spec.strip().lower() == "none":
        return hops
    for part in spec.split(","):
        part = part.strip()
        if part.startswith("ssh://"):
            part = part[len("ssh://"):]
        user, _, hostport = part.rpartition("@")
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else None
        elif hostport.count(":") == 1:
            host, _, p = hostport.partition(":")
            port = int(p)
        if not host:
            raise ConnectorError(f"bad jump host {part!r}: expected [user@]host[:port]")
        hops.append((user or None, host, port))
    return hops


def _ssh_config(target: Target) -> paramiko.SSHConfig | None:
    explicit = target.opt("ssh_config")
    path = Path(explicit).expanduser() if explicit else Path.home() / ".ssh" / "config"
    if not path.is_file():
        if explicit:
            raise ConnectorError(f"ssh_config file {path} not found")
        return None
    return paramiko.SSHConfig.from_path(str(path))


def _endpoint(config: paramiko.SSHConfig | None, alias: str, user: str | None, port: int | None,
              identity: tuple[str, ...] = ()) -> Endpoint:
    found: dict[str, Any] = dict(config.lookup(alias)) if config else {}
    return Endpoint(
        alias=alias,
        host=str(found.get("hostname") or alias),
        port=int(port or found.get("port") or 22),
        user=str(user or found.get("user") or getpass.getuser()),
        identity_files=identity or tuple(found.get("identityfile") or ()),
    )


def resolve(target: Target) -> tuple[Endpoint, tuple[Endpoint, ...]]:
    """The destination and its jump hosts, inventory options over ssh_config."""
    config = _ssh_config(target)
    alias = target.opt("host")
    if not alias:
        raise ConnectorError(f"target {target.name}: connection ssh needs a host")
    key_file = target.opt("key_file")
    dest = _endpoint(config, str(alias), target.opt("user"), target.opt("port"),
                     (str(key_file),) if key_file else ())
    jump_spec = target.opt("proxy_jump")
    if not jump_spec and config:
        jump_spec = config.lookup(str(alias)).get("proxyjump")
    jumps = tuple(_endpoint(config, host, user, port) for user, host, port in parse_jump(jump_spec or ""))
    return dest, jumps


class SSHConnector:
    """Shell connector over SSH. Build with a Target, use as a context manager."""

    def __init__(self, target: Target, scope: ProcessScope | None = None):
        self.target = target
        self.scope = scope or ProcessScope()
        self.channels_opened = 0
        self._transports: list[paramiko.Transport] = []
        self._deadline = 0.0
        self._dest: Endpoint | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> SSHConnector:
        self._deadline = time.monotonic() + float(self.target.opt("host_timeout") or DEFAULT_HOST_TIMEOUT)
        dest, jumps = resolve(self.target)
        self._dest = dest
        chain = [*jumps, dest]
        try:
            sock: Any = None
            for hop, after in zip(jumps, chain[1:], strict=True):  # each jump forwards to the next hop
                sock = self._forward(self._open(hop, sock), hop, after)
            self._open(dest, sock)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for transport in reversed(self._transports):
            transport.close()
        self._transports.clear()

    @property
    def is_root(self) -> bool:
        dest = self._dest or resolve(self.target)[0]
        return dest.user == "root"

    # ---- connecting ------------------------------------------------------------------------
    def _connect_timeout(self) -> float:
        wanted = float(self.target.opt("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)
        return max(0.1, min(wanted, self._deadline - time.monotonic()))

    def _forward(self, transport: paramiko.Transport, hop: Endpoint, to: Endpoint) -> paramiko.Channel:
        try:
            return transport.open_channel("direct-tcpip", (to.host, to.port), ("127.0.0.1", 0),
                                          timeout=self._connect_timeout())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectorError(f"jump host {hop} could not reach {to.host}:{to.port}: {_why(exc)}") from None

    def _open(self, ep: Endpoint, sock: Any) -> paramiko.Transport:
        timeout = self._connect_timeout()
        if sock is None:
            try:
                sock = socket.create_connection((ep.host, ep.port), timeout=timeout)
            except TimeoutError:
                raise ConnectorError(f"cannot connect to {ep.host}:{ep.port}: timed out after {timeout:g}s") from None
            except OSError as exc:
                raise ConnectorError(f"cannot connect to {ep.host}:{ep.port}: {exc.strerror or exc}") from None
            _no_delay(sock)
        transport = paramiko.Transport(sock)
        self._transports.append(transport)
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = timeout
        known = self._known_hosts()
        self._prefer_known_key_types(transport, known, ep)
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            reason = _why(exc)
            raise ConnectorError(f"SSH handshake with {ep.host}:{ep.port} failed: {reason}") from None
        self._verify_host_key(transport.get_remote_server_key(), known, ep)
        self._authenticate(transport, ep)
        return transport

    # ---- host keys -------------------------------------------------------------------------
    def _known_hosts_path(self) -> Path:
        explicit = self.target.opt("known_hosts")
        return Path(explicit).expanduser() if explicit else Path.home() / ".ssh" / "known_hosts"

    def _known_hosts(self) -> paramiko.HostKeys:
        keys = paramiko.HostKeys()
        path = self._known_hosts_path()
        if path.is_file():
            try:
                keys.load(str(path))
            except (OSError, paramiko.SSHException) as exc:
                raise ConnectorError(f"cannot read known_hosts file {path}: {exc}") from None
        return keys

    @staticmethod
    def _prefer_known_key_types(transport: paramiko.Transport, known: paramiko.HostKeys, ep: Endpoint) -> None:
        """Ask for a host key type we already know, so a known host is not mistaken for a changed one."""
        entry = known.lookup(ep.known_hosts_name)
        if not entry:
            return
        options = transport.get_security_options()
        known_algs = [alg for name in entry.keys() for alg in KEY_ALGORITHMS.get(name, (name,))]
        first = [a for a in options.key_types if a in known_algs]
        options.key_types = first + [a for a in options.key_types if a not in first]

    def _verify_host_key(self, key: paramiko.PKey, known: paramiko.HostKeys, ep: Endpoint) -> None:
        path = self._known_hosts_path()
        entry = known.lookup(ep.known_hosts_name)
        presented = f"{key.get_name()} {fingerprint(key)}"
        if entry:
            expected = entry.get(key.get_name())
            if expected is not None and expected == key:
                return
            listed = ", ".join(f"{k.get_name()} {fingerprint(k)}" for k in entry.values())
            raise ConnectorError(
                f"HOST KEY CHANGED for {ep.known_hosts_name}: known_hosts {path} has {listed}, "
                f"the host presented {presented}; no command was sent")
        if not self.target.opt("trust_on_first_use"):
            raise ConnectorError(
                f"unknown host key for {ep.known_hosts_name}: the host presented {presented}, "
                f"known_hosts {path} has no key for it (known: none); verify the fingerprint and add it, "
                f"or set trust_on_first_use; no command was sent")
        self._record_host_key(path, ep, key)
        log.warning("trust on first use: recorded %s key %s for %s in %s",
                    key.get_name(), fingerprint(key), ep.known_hosts_name, path)

    @staticmethod
    def _record_host_key(path: Path, ep: Endpoint, key: paramiko.PKey) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="ascii") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                fh.write(f"{ep.known_hosts_name} {key.get_name()} {key.get_base64()}\n")
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # ---- authentication --------------------------------------------------------------------
    def _load_key(self, path: str) -> paramiko.PKey:
        full = Path(path).expanduser()
        passphrase = secret(self.target, "passphrase_env")
        try:
            return paramiko.PKey.from_path(str(full), passphrase.encode() if passphrase is not None else None)
        except FileNotFoundError:
            raise ConnectorError(f"key file {full} not found") from None
        except (paramiko.SSHException, ValueError, TypeError, OSError) as exc:
            if passphrase is None and isinstance(exc, (paramiko.PasswordRequiredException, TypeError)):
                reason = "the key is encrypted and no passphrase_env is set"
            else:
                reason = "wrong passphrase or unreadable key" if passphrase else type(exc).__name__
            raise ConnectorError(f"cannot load key file {full}: {reason}") from None

    def _identity_files(self, ep: Endpoint) -> tuple[str, ...]:
        if ep.identity_files:
            return ep.identity_files
        key_file = self.target.opt("key_file")
        if key_file:
            return (str(key_file),)
        if self.target.opt("use_agent") or self.target.opt("password_env"):
            return ()
        defaults = ("id_ed25519", "id_ecdsa", "id_rsa")
        return tuple(str(p) for p in (Path.home() / ".ssh" / n for n in defaults) if p.is_file())

    def _authenticate(self, transport: paramiko.Transport, ep: Endpoint) -> None:
        tried: list[str] = []
        for path in self._identity_files(ep):
            tried.append(f"key file {path}")
            if self._try(transport, ep, self._load_key(path)):
                return
        if self.target.opt("use_agent"):
            agent = paramiko.Agent()
            try:
                keys = agent.get_keys()
                tried.append(f"ssh-agent ({len(keys)} keys)")
                for key in keys:
                    if self._try(transport, ep, key):
                        return
            finally:
                agent.close()
        password = secret(self.target, "password_env")
        if password is not None:
            tried.append(f"password from ${self.target.opt('password_env')}")
            try:
                transport.auth_password(ep.user, password)
                return
            except paramiko.AuthenticationException:
                pass
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectorError(f"authentication to {ep} broke off: {_why(exc)}") from None
        raise ConnectorError(f"authentication failed for {ep} (tried: {', '.join(tried) or 'nothing configured'})")

    @staticmethod
    def _try(transport: paramiko.Transport, ep: Endpoint, key: paramiko.PKey) -> bool:
        try:
            transport.auth_publickey(ep.user, key)
            return bool(transport.is_authenticated())
        except paramiko.AuthenticationException:
            return False
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectorError(f"authentication to {ep} broke off: {_why(exc)}") from None

    # ---- running ---------------------------------------------------------------------------
    def run(self, script: str, *, timeout: float, become: bool = False, limit: int = DEFAULT_LIMIT) -> CommandResult:
        if not self._transports:
            raise ConnectorError(f"not connected to {self.target.name}")
        if not self._transports[-1].is_active():  # it was up: the server or the network ended it since
            raise ConnectorError(f"the connection to {self.target.name} was lost before this command "
                                 "(closed by the server or the network)")
        if self.scope.cancelled.is_set():
            raise ConnectorError("the scan was interrupted; nothing more is started")
        command, prefix = sudo_command(self.target, self.is_root, self._dest) if become else (SHELL, b"")
        deadline = min(time.monotonic() + timeout, self._deadline)
        if deadline <= time.monotonic():
            return CommandResult(None, b"", b"host timeout exceeded before the command was sent", timed_out=True)
        transport = self._transports[-1]
        try:
            chan = transport.open_session(timeout=max(0.1, deadline - time.monotonic()))
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectorError(f"cannot open a channel on {self._dest}: {_why(exc)}") from None
        self.channels_opened += 1
        cancelled = self.scope.cancelled
        body = script.encode("utf-8", "surrogateescape")
        try:
            chan.exec_command(command)
            chan.settimeout(max(0.1, deadline - time.monotonic()))
            if command == SHELL:
                chan.sendall(body)
                chan.shutdown_write()
                result = _read(chan, deadline, limit, cancelled)
            else:  # the password alone; the script only once sudo has let the command run
                chan.sendall(prefix)
                out, err = _read_until_ready(chan, deadline, cancelled)
                if out.startswith(SUDO_READY):
                    chan.sendall(SUDO_BEGIN + body)
                chan.shutdown_write()
                result = _read(chan, deadline, limit, cancelled, out, err)
        except TimeoutError:
            result = CommandResult(None, b"", b"timed out sending the script", timed_out=True)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectorError(f"command channel on {self._dest} failed: {_why(exc)}") from None
        finally:
            _close(chan)
        return result if command == SHELL else unwrap_sudo(result, self._dest)


def _close(chan: paramiko.Channel) -> None:
    """Close a command's channel. On a connection the server has dropped, paramiko's close raises (a bare EOFError
    when it sends the close message): that is not the command's outcome, which is already read (or failed with its
    own error), so it is not allowed to take the outcome's place; the next command sees the connection is gone."""
    try:
        chan.close()
    except (paramiko.SSHException, EOFError, OSError):
        pass


def _no_delay(sock: socket.socket) -> None:
    """TCP_NODELAY, as OpenSSH's client sets it: paramiko writes whole packets, and a script's last packet and its
    EOF would otherwise wait for the host's delayed ACK of the packet before (40 ms on Linux) in every run."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _why(exc: BaseException) -> str:
    """paramiko raises a bare EOFError when the server drops the connection."""
    return str(exc) or ("the server closed the connection" if isinstance(exc, EOFError) else type(exc).__name__)


def _read_until_ready(chan: paramiko.Channel, deadline: float,
                      cancelled: threading.Event) -> tuple[bytes, bytes]:
    """Read until stdout holds as many bytes as SUDO_READY, or the command ended, or time ran out."""
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as sel:
        sel.register(chan, selectors.EVENT_READ)
        while len(out) < len(SUDO_READY) and not cancelled.is_set():
            while chan.recv_stderr_ready():
                err += chan.recv_stderr(CHUNK)[: max(0, STDERR_LIMIT - len(err))]
            if chan.recv_ready():
                out += chan.recv(len(SUDO_READY) - len(out))
                continue
            if chan.closed or chan.eof_received:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sel.select(min(left, 0.5))
    return bytes(out), bytes(err)


def _read(chan: paramiko.Channel, deadline: float, limit: int, cancelled: threading.Event | None = None,
          out0: bytes = b"", err0: bytes = b"") -> CommandResult:
    """Drain stdout and stderr until the command ends, the deadline passes or stdout passes the limit."""
    out, err = bytearray(out0), bytearray(err0)
    with selectors.DefaultSelector() as sel:
        sel.register(chan, selectors.EVENT_READ)
        while True:
            if not _drain(chan, out, err, limit):
                return CommandResult(None, bytes(out), bytes(err), truncated=True)
            if chan.closed or (chan.eof_received and not chan.recv_ready() and not chan.recv_stderr_ready()):
                break
            if cancelled is not None and cancelled.is_set():
                raise ConnectorError("the scan was interrupted")
            left = deadline - time.monotonic()
            if left <= 0:
                return CommandResult(None, bytes(out), bytes(err), timed_out=True)
            sel.select(min(left, 0.5))
    left = deadline - time.monotonic()
    ended = chan.status_event.wait(max(0.0, left)) and chan.exit_status >= 0
    if not _drain(chan, out, err, limit):  # what arrived with the exit status (stderr may trail stdout's EOF)
        return CommandResult(None, bytes(out), bytes(err), truncated=True)
    if ended:
        return CommandResult(chan.exit_status, bytes(out), bytes(err))
    return CommandResult(None, bytes(out), bytes(err), timed_out=left <= 0)


def _drain(chan: paramiko.Channel, out: bytearray, err: bytearray, limit: int) -> bool:
    """Move what the channel holds into ``out`` and ``err`` (stderr bounded); False once stdout passed ``limit``."""
    while chan.recv_stderr_ready():
        data = chan.recv_stderr(CHUNK)
        err += data[: max(0, STDERR_LIMIT - len(err))]
    while chan.recv_ready():
        data = chan.recv(CHUNK)
        room = limit - len(out)
        out += data[:room]
        if len(data) > room:
            return False
    return True

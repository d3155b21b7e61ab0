"""SSH exchanges for challenge tests: algorithm negotiation, `none` authentication, logons, host keys, root commands.

Algorithm negotiation is done by hand, so that any algorithm name can be offered, including ones no client library
implements any more (arcfour, blowfish-cbc): the probe sends its banner, reads the server's KEXINIT, and sends its own
KEXINIT offering only the algorithm under test in its category (the server's own lists in the others), followed by
one message of an unassigned key-exchange number (49). A server that finds no common algorithm closes the
connection (OpenSSH: "no matching ... found"); a server that agreed starts the key exchange and answers the stray
message with SSH_MSG_UNIMPLEMENTED. Both are on the wire; anything else is undetermined. No key exchange is
completed and no credential is sent.

Every other exchange goes through paramiko with the host key verified against known_hosts by the scan's own code
(:class:`scanner.connectors.ssh.SSHConnector`), never trusting a first key. Reads are bounded in bytes and time.
"""
from __future__ import annotations

import enum
import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

from scanner.challenge import Probe
from scanner.connectors import CommandResult, ConnectorError
from scanner.model import Target

if TYPE_CHECKING:
    import paramiko

    from scanner.connectors.ssh import Endpoint

CLIENT_BANNER = b"SSH-2.0-gxpscan_challenge\r\n"
MAX_BANNER = 8192  # bytes of pre-banner text and banner a server may send
MAX_PACKET = 35000  # RFC 4253 6.1: the largest packet an implementation must accept
STRAY_MESSAGE = 49  # in the key-exchange range (30-49), used by no key-exchange method
MSG_DISCONNECT, MSG_IGNORE, MSG_UNIMPLEMENTED, MSG_DEBUG, MSG_KEXINIT = 1, 2, 3, 4, 20
#: Pseudo-algorithms a server lists in its KEXINIT to announce extensions; a client never echoes them.
MARKERS = ("ext-info-", "kex-strict-")
AEAD = ("chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
DEFAULT_TIMEOUT = 10.0


class Category(str, enum.Enum):
    """An algorithm negotiated in KEXINIT."""

    KEX = "key exchange"
    HOST_KEY = "host key algorithm"
    CIPHER = "cipher"
    MAC = "MAC"


#: Algorithm names a policy pattern (``*-cbc``) expands to: the SSH names of the IANA registry and OpenSSH's own.
KNOWN: MappingProxyType[Category, tuple[str, ...]] = MappingProxyType({
    Category.KEX: ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group14-sha256",
                   "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
                   "diffie-hellman-group-exchange-sha1", "diffie-hellman-group-exchange-sha256",
                   "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521", "curve25519-sha256",
                   "curve25519-sha256@libssh.org", "sntrup761x25519-sha512@openssh.com",
                   "gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==", "gss-group14-sha1-toWM5Slw5Ew8Mqkay+al2g==",
                   "gss-gex-sha1-toWM5Slw5Ew8Mqkay+al2g=="),
    Category.HOST_KEY: ("ssh-dss", "ssh-dss-cert-v01@openssh.com", "ssh-dss-cert-v00@openssh.com",
                        "ssh-rsa-cert-v00@openssh.com", "ssh-rsa", "rsa-sha2-256", "rsa-sha2-512", "ssh-ed25519",
                        "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                        "ssh-rsa-cert-v01@openssh.com", "ssh-ed25519-cert-v01@openssh.com"),
    Category.CIPHER: ("3des-cbc", "des-cbc", "blowfish-cbc", "cast128-cbc", "idea-cbc", "twofish-cbc",
                      "twofish128-cbc", "twofish256-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc",
                      "rijndael-cbc@lysator.liu.se", "arcfour", "arcfour128", "arcfour256", "aes128-ctr",
                      "aes192-ctr", "aes256-ctr", *AEAD),
    Category.MAC: ("hmac-md5", "hmac-md5-96", "hmac-sha1", "hmac-sha1-96", "hmac-ripemd160",
                   "hmac-ripemd160@openssh.com", "umac-64@openssh.com", "umac-128@openssh.com", "hmac-sha2-256",
                   "hmac-sha2-512", "hmac-md5-etm@openssh.com", "hmac-md5-96-etm@openssh.com",
                   "hmac-sha1-etm@openssh.com", "hmac-sha1-96-etm@openssh.com", "hmac-ripemd160-etm@openssh.com",
                   "umac-64-etm@openssh.com", "umac-128-etm@openssh.com", "hmac-sha2-256-etm@openssh.com",
                   "hmac-sha2-512-etm@openssh.com"),
})


class Negotiation(str, enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNDETERMINED = "undetermined"


@dataclass(frozen=True)
class Kexinit:
    """The ten name-lists of a KEXINIT, in wire order."""

    lists: tuple[tuple[str, ...], ...]

    @property
    def kex(self) -> tuple[str, ...]:
        return tuple(a for a in self.lists[0] if not a.startswith(MARKERS))

    @property
    def host_keys(self) -> tuple[str, ...]:
        return self.lists[1]

    @property
    def ciphers(self) -> tuple[str, ...]:
        return self.lists[2]

    @property
    def macs(self) -> tuple[str, ...]:
        return self.lists[4]

    @property
    def compression(self) -> tuple[str, ...]:
        return self.lists[6]

    def summary(self) -> str:
        return (f"kex: {','.join(self.kex)}\nhost keys: {','.join(self.host_keys)}\nciphers: {','.join(self.ciphers)}"
                f"\nmacs: {','.join(self.macs)}")


def printable(raw: bytes) -> str:
    """A server's text for a message: decoded, control characters replaced."""
    return "".join(c if c.isprintable() else "?" for c in raw.decode("utf-8", "replace"))


# ---- connection parameters --------------------------------------------------------------------------------------

def timeout_of(target: Target) -> float:
    return float(target.opt("connect_timeout") or DEFAULT_TIMEOUT)


def destination(target: Target) -> Endpoint:
    """The host to challenge (inventory options over ssh_config); jump hosts are not supported by challenges."""
    from scanner.connectors.ssh import resolve

    dest, jumps = resolve(target)
    if jumps:
        raise ConnectorError(f"target {target.name}: challenges do not go through jump hosts (proxy_jump)")
    return dest


def _connect(target: Target) -> socket.socket:
    dest = destination(target)
    try:
        return socket.create_connection((dest.host, dest.port), timeout=timeout_of(target))
    except OSError as exc:
        raise ConnectorError(f"cannot connect to {dest.host}:{dest.port}: {exc.strerror or exc}") from None


# ---- hand-made negotiation --------------------------------------------------------------------------------------

def _name_list(names: tuple[str, ...]) -> bytes:
    raw = ",".join(names).encode("ascii")
    return struct.pack(">I", len(raw)) + raw


def _packet(payload: bytes) -> bytes:
    """An unencrypted binary packet (RFC 4253 6): at least 4 bytes of padding, a multiple of 8 in all."""
    padding = 8 - (len(payload) + 5) % 8
    padding += 8 if padding < 4 else 0
    return struct.pack(">IB", len(payload) + padding + 1, padding) + payload + os.urandom(padding)


def kexinit_payload(lists: tuple[tuple[str, ...], ...]) -> bytes:
    return (bytes([MSG_KEXINIT]) + os.urandom(16) + b"".join(_name_list(names) for names in lists)
            + b"\x00" + struct.pack(">I", 0))


def parse_kexinit(payload: bytes) -> Kexinit:
    if not payload or payload[0] != MSG_KEXINIT:
        raise ValueError(f"expected KEXINIT (20), got message {payload[:1].hex() or 'nothing'}")
    at, lists = 17, []
    for _ in range(10):
        if at + 4 > len(payload):
            raise ValueError("KEXINIT is truncated")
        (size,) = struct.unpack_from(">I", payload, at)
        raw = payload[at + 4:at + 4 + size]
        if len(raw) != size:
            raise ValueError("KEXINIT name-list is truncated")
        lists.append(tuple(n for n in raw.decode("ascii", "replace").split(",") if n))
        at += 4 + size
    return Kexinit(tuple(lists))


class _Wire:
    """Bounded reads from a socket with one deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline, self.buf, self.received = sock, deadline, b"", bytearray()

    def _fill(self) -> bool:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if len(self.received) < MAX_BANNER:
            self.received += data[:MAX_BANNER - len(self.received)]
        self.buf += data
        return bool(data)

    def banner(self) -> bytes:
        """The server's identification line (lines before it are skipped, all within MAX_BANNER bytes)."""
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if line.startswith(b"SSH-"):
                    return line.rstrip(b"\r")
            if len(self.buf) > MAX_BANNER or len(self.received) >= MAX_BANNER:
                raise ValueError("no SSH banner within the first 8 KiB")
            if not self._fill():
                raise EOFError("the server closed the connection before its banner")

    def packet(self) -> bytes | None:
        """The next payload, or None when the server closed the connection."""
        while len(self.buf) < 5:
            if not self._fill():
                return None
        length, padding = struct.unpack_from(">IB", self.buf)
        if not 5 <= length <= MAX_PACKET or padding >= length:
            raise ValueError(f"packet length {length} is not a plain SSH packet")
        while len(self.buf) < 4 + length:
            if not self._fill():
                return None
        payload, self.buf = self.buf[5:4 + length - padding], self.buf[4 + length:]
        return payload


def _offer(server: Kexinit, category: Category | None, algorithm: str) -> tuple[tuple[str, ...], ...]:
    """Our KEXINIT lists: only ``algorithm`` in its category, the server's own lists elsewhere (a MAC is offered with
    non-AEAD ciphers only, since an AEAD cipher makes the server skip MAC negotiation). No category: the server's
    own lists everywhere (the control)."""
    kex, keys, ciphers, macs = server.kex, server.host_keys, server.ciphers, server.macs
    if category is Category.KEX:
        kex = (algorithm,)
    elif category is Category.HOST_KEY:
        keys = (algorithm,)
    elif category is Category.CIPHER:
        ciphers = (algorithm,)
    elif category is Category.MAC:
        macs = (algorithm,)
        ciphers = tuple(c for c in ciphers if c not in AEAD and "gcm" not in c) or ("aes128-ctr",)
    comp = server.compression or ("none",)
    return (kex, keys, ciphers, ciphers, macs, macs, comp, comp, (), ())


def negotiate(target: Target, category: Category | None, algorithm: str = "") -> tuple[Negotiation, str, bytes, bytes]:
    """Offer only ``algorithm`` in ``category`` (None: the server's own lists, the control). Returns the outcome, a
    description, what was sent and what came back (banner and packets, bounded)."""
    deadline = time.monotonic() + timeout_of(target)
    sent = bytearray(CLIENT_BANNER)
    with _connect(target) as sock:
        wire = _Wire(sock, deadline)
        try:
            sock.sendall(CLIENT_BANNER)
            banner = wire.banner()
            first = wire.packet()
            if first is None:
                return Negotiation.UNDETERMINED, "the server closed the connection before its KEXINIT", bytes(
                    sent), bytes(wire.received)
            server = parse_kexinit(first)
            lists = _offer(server, category, algorithm)
            ours = _packet(kexinit_payload(lists)) + _packet(bytes([STRAY_MESSAGE]))
            sent += ours
            sock.sendall(ours)
            outcome, why = _answer(wire)
        except TimeoutError:
            outcome, why = Negotiation.UNDETERMINED, "no answer within the connect timeout"
        except (ValueError, EOFError, OSError) as exc:
            outcome, why = Negotiation.UNDETERMINED, f"{type(exc).__name__}: {exc}"
        else:
            why = f"{why} (server {printable(banner[:200])})"
    return outcome, why, bytes(sent), bytes(wire.received)


def _answer(wire: _Wire) -> tuple[Negotiation, str]:
    while True:
        payload = wire.packet()
        if payload is None:
            return Negotiation.REFUSED, "the server closed the connection after our KEXINIT: no common algorithm"
        kind = payload[0] if payload else -1
        if kind == MSG_UNIMPLEMENTED:
            return Negotiation.ACCEPTED, "the server agreed and began the key exchange"
        if kind == MSG_DISCONNECT:
            (size,) = struct.unpack_from(">I", payload, 5) if len(payload) >= 9 else (0,)
            return Negotiation.REFUSED, f"the server disconnected: {printable(payload[9:9 + min(size, 512)])}"
        if kind not in (MSG_IGNORE, MSG_DEBUG):
            return Negotiation.UNDETERMINED, f"unexpected message {kind} after our KEXINIT"


def offer_only(target: Target, category: Category | None, algorithm: str = "", *,
               expect: Negotiation = Negotiation.REFUSED) -> Callable[[], Probe]:
    """A probe: offer only ``algorithm``; ``ok`` when the server's answer is ``expect``."""

    def probe() -> Probe:
        outcome, why, sent, received = negotiate(target, category, algorithm)
        ok = None if outcome is Negotiation.UNDETERMINED else outcome is expect
        return Probe(ok, f"{outcome.value}: {why}", sent=sent, received=received)

    return probe


# ---- verified sessions (paramiko) -------------------------------------------------------------------------------

def _strict(target: Target) -> Target:
    """The target without trust on first use: a challenge never records a host key."""
    return replace(target, options=MappingProxyType({k: v for k, v in target.options.items()
                                                     if k != "trust_on_first_use"}))


@contextmanager
def verified_transport(target: Target) -> Iterator[tuple[paramiko.Transport, Endpoint]]:
    """A transport whose host key the scan's own code verified against known_hosts; not authenticated."""
    import paramiko

    from scanner.connectors.ssh import SSHConnector, _why

    strict = _strict(target)
    connector, dest, timeout = SSHConnector(strict), destination(strict), timeout_of(strict)
    transport = paramiko.Transport(_connect(strict))
    try:
        transport.banner_timeout = transport.handshake_timeout = transport.auth_timeout = timeout
        known = connector._known_hosts()
        connector._prefer_known_key_types(transport, known, dest)
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise ConnectorError(f"SSH handshake with {dest.host}:{dest.port} failed: {_why(exc)}") from None
        connector._verify_host_key(transport.get_remote_server_key(), known, dest)
        yield transport, dest
    finally:
        transport.close()


def verify_host_key(target: Target) -> Probe:
    """The handshake's host key against known_hosts, as the scan checks it (ok: it matches)."""
    from scanner.connectors.ssh import fingerprint

    try:
        with verified_transport(target) as (transport, _):
            key = transport.get_remote_server_key()
            return Probe(True, f"the host presented {key.get_name()} {fingerprint(key)}, as known_hosts lists",
                         received=f"{key.get_name()} {key.get_base64()}")
    except ConnectorError as exc:
        text = str(exc)
        determined = "HOST KEY CHANGED" in text or "unknown host key" in text
        return Probe(False if determined else None, text)


def auth_methods(target: Target, refused: frozenset[str]) -> Probe:
    """`none` authentication as the scan's user: the methods the server offers (ok: none of ``refused`` is among
    them and `none` itself was not accepted)."""
    import paramiko

    with verified_transport(target) as (transport, dest):
        sent = f"userauth-request none for {dest.user}"
        try:
            transport.auth_none(dest.user)
        except paramiko.BadAuthenticationType as exc:
            methods = tuple(exc.allowed_types)
            offered = ",".join(methods)
            bad = sorted(refused & set(methods))
            return Probe(not bad, f"offered: {offered}" + (f" (includes {', '.join(bad)})" if bad else ""),
                         sent=sent, received=offered)
        except paramiko.AuthenticationException as exc:
            return Probe(None, f"no method list: {exc}", sent=sent, received=str(exc))
        return Probe(False, "the server accepted `none` authentication: a logon without any credential",
                     sent=sent, received="success")


class Logon(str, enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


def key_logon(target: Target, user: str, key_path: str) -> Logon:
    """Public-key authentication as ``user`` with the key file (its passphrase from the target's passphrase_env);
    no channel is opened."""
    import paramiko

    from scanner.connectors.ssh import SSHConnector

    key = SSHConnector(target)._load_key(key_path)
    with verified_transport(target) as (transport, _):
        try:
            transport.auth_publickey(user, key)
        except paramiko.AuthenticationException:
            return Logon.REFUSED
        return Logon.ACCEPTED if transport.is_authenticated() else Logon.REFUSED


#: What a session logon runs: it prints the audit session id the logon got (pam_loginuid sets it; 4294967295: none).
SESSION_COMMAND = "cat /proc/self/sessionid"
SESSION_OUTPUT = 1024  # bytes of its output kept (the shell may print a notice first)


def password_logon(target: Target, user: str, password: str, *, session: bool = False) -> Logon:
    """Password authentication as ``user`` (one attempt on one connection). ``session``: once logged on, run
    :data:`SESSION_COMMAND` on a terminal, so the server writes its login records (wtmp)."""
    return password_session(target, user, password, session=session)[0]


def password_session(target: Target, user: str, password: str, *, session: bool = True) -> tuple[Logon, bytes]:
    """:func:`password_logon`, with what the session command printed (at most SESSION_OUTPUT bytes; hostile: the
    account's own shell runs it)."""
    import paramiko

    with verified_transport(target) as (transport, _):
        try:
            transport.auth_password(user, password)
        except paramiko.AuthenticationException:
            return Logon.REFUSED, b""
        if not transport.is_authenticated():
            return Logon.REFUSED, b""
        out = b""
        if session:
            chan = transport.open_session(timeout=timeout_of(target))
            try:
                chan.settimeout(timeout_of(target))
                chan.get_pty()
                chan.exec_command(SESSION_COMMAND)
                while len(out) < SESSION_OUTPUT:
                    data = chan.recv(SESSION_OUTPUT - len(out))
                    if not data:
                        break
                    out += data  # until its end (EOF) or the bound: never waits on more than that
            finally:
                chan.close()
        return Logon.ACCEPTED, out


def run(target: Target, script: str, *, become: bool, limit: int = 1 << 20) -> CommandResult:
    """One script on the scan's own connection (its account, its sudo), output bounded."""
    from scanner.connectors.ssh import SSHConnector

    with SSHConnector(target) as conn:
        return conn.run(script, timeout=timeout_of(target) * 3, become=become, limit=limit)

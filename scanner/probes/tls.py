"""TLS probes for challenge tests: which protocol versions and cipher suites an endpoint accepts, and its certificate.

Each probe makes one connection and returns a :class:`scanner.challenge.Probe` whose ``ok`` says whether the
expected (secure) result was seen. Two ways to ask a server for a version or a suite:

- a real handshake with Python's ``ssl`` restricted to one version (minimum = maximum, ``@SECLEVEL=0`` ciphers), used
  for TLS 1.0 and 1.1 while the local OpenSSL can still produce them (OpenSSL 3.0 can at security level 0);
- a hand-built ClientHello over a raw socket, reading the ServerHello or the alert, used for SSL 3.0 (OpenSSL 3
  has no SSL 3.0 code at all) and for the weak cipher classes (RC4, 3DES and EXPORT suites are not in OpenSSL 3's
  default provider, so only a hand-built ClientHello can offer them). The connection is closed after the
  ServerHello: nothing is encrypted, no key is exchanged.

A refusal is an alert, a ServerHello for another version or suite, or the server closing the connection after the
ClientHello; a connection that cannot be opened or an answer that is not TLS is undetermined (``ok=None``).
"""
from __future__ import annotations

import enum
import ipaddress
import os
import socket
import ssl
import struct
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from scanner.challenge import Probe
from scanner.model import Platform, Target
from scanner.probes import read_exact
from scanner.value import frozen

DEFAULT_CONNECT_TIMEOUT = 10.0
RECORD_LIMIT = 16384 + 2048  # the largest TLS record a server may send (ciphertext expansion included)
HOST_LIMIT = 253


class Version(str, enum.Enum):
    SSL3 = "SSLv3"
    TLS1_0 = "TLSv1.0"
    TLS1_1 = "TLSv1.1"
    TLS1_2 = "TLSv1.2"

    def __str__(self) -> str:
        return self.value

    @property
    def wire(self) -> int:
        return {"SSLv3": 0x0300, "TLSv1.0": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303}[self.value]


#: Cipher suites (IANA code points) per weak class; a suite in two classes is listed in both.
WEAK_SUITES: dict[str, tuple[int, ...]] = {
    "RC4": (0x0004, 0x0005, 0xC007, 0xC011, 0xC016, 0x0018, 0x0003, 0x0017, 0x0020, 0x0024),
    "3DES": (0x000A, 0x0010, 0x0013, 0x0016, 0x001B, 0xC003, 0xC008, 0xC00D, 0xC012, 0xC017, 0x001F, 0x0023),
    "NULL": (0x0001, 0x0002, 0x003B, 0xC001, 0xC006, 0xC00B, 0xC010, 0xC015, 0x002C, 0x002D, 0x002E),
    "EXPORT": (0x0003, 0x0006, 0x0008, 0x000B, 0x000E, 0x0011, 0x0014, 0x0017, 0x0019, 0x0026, 0x0027, 0x0028,
               0x0029, 0x002A, 0x002B),
    "anonymous": (0x0018, 0x0019, 0x001A, 0x001B, 0x0034, 0x003A, 0x006C, 0x006D, 0x00A6, 0x00A7, 0x0046, 0x0089,
                  0xC015, 0xC016, 0xC017, 0xC018, 0xC019),
}
#: Suites offered in a version probe's hand-built ClientHello: what an SSL 3.0 server could pick.
CLASSIC_SUITES = (0x002F, 0x0035, 0x000A, 0x0005, 0x0004, 0x0033, 0x0039, 0x0016, 0x0009)
SCSV_RENEGOTIATION = 0x00FF
ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure",
          47: "illegal_parameter", 50: "decode_error", 70: "protocol_version", 71: "insufficient_security",
          80: "internal_error", 86: "inappropriate_fallback", 112: "unrecognized_name"}


@frozen
class TlsEndpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> TlsEndpoint:
    """``host:port`` or ``[v6]:port``; ValueError for anything else (an inventory value is hostile)."""
    value = str(text).strip()
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
    else:
        host, sep, port = value.rpartition(":")
    if not sep or not host or len(host) > HOST_LIMIT or not port.isdigit() or not 0 < int(port) < 65536 \
            or any(c.isspace() or c in "/@[]" or not c.isprintable() for c in host):
        raise ValueError(f"not a host:port endpoint: {value[:80]!r}")
    return TlsEndpoint(host, int(port))


def endpoints_of(target: Target) -> tuple[list[TlsEndpoint], list[str]]:
    """The target's ``tls_endpoints`` plus those its connection implies (an LDAP target's ldaps URL, a Windows
    target's WinRM HTTPS listener), without duplicates; and the problems with entries that are not endpoints."""
    found: list[TlsEndpoint] = []
    problems: list[str] = []
    raw = target.opt("tls_endpoints") or ()
    for item in [raw] if isinstance(raw, str) else raw:
        try:
            found.append(parse_endpoint(str(item)))
        except ValueError as exc:
            problems.append(str(exc))
    implied = _implied(target)
    if implied is not None:
        found.append(implied)
    return list(dict.fromkeys(found)), problems


def _implied(target: Target) -> TlsEndpoint | None:
    from scanner.connectors import ConnectorError

    try:
        if target.type is Platform.LDAP and target.opt("url"):
            from scanner.connectors.ldap import Settings

            settings = Settings.of(target)
            return TlsEndpoint(settings.host, settings.port) if settings.use_ssl else None
        if target.type is Platform.WINDOWS and target.opt("host"):
            from scanner.connectors.winrm import endpoint

            ep = endpoint(target.name, target.options)
            return TlsEndpoint(ep.host, ep.port) if ep.scheme == "https" else None
    except (ConnectorError, ValueError):
        return None  # the scan itself reports a connection option that does not work
    return None


def timeout_of(target: Target) -> float:
    return float(target.opt("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)


# ---- hand-built ClientHello ------------------------------------------------------------------

def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def client_hello(version: Version, suites: Iterable[int], host: str) -> bytes:
    """One TLS record with a ClientHello for ``version`` offering exactly ``suites`` (plus the renegotiation
    SCSV), with the extensions a TLS 1.0-1.2 server needs for ECDHE suites (none for SSL 3.0)."""
    ciphers = b"".join(struct.pack("!H", s) for s in [*suites, SCSV_RENEGOTIATION])
    body = struct.pack("!H", version.wire) + os.urandom(32) + b"\x00" + struct.pack("!H", len(ciphers)) + ciphers
    body += b"\x01\x00"  # compression: null only
    if version is not Version.SSL3:
        extensions = b""
        if not _is_ip(host):
            name = host.encode("idna")
            entry = b"\x00" + struct.pack("!H", len(name)) + name
            extensions += _ext(0, struct.pack("!H", len(entry)) + entry)
        groups = struct.pack("!HHHH", 0x001D, 0x0017, 0x0018, 0x0019)
        extensions += _ext(10, struct.pack("!H", len(groups)) + groups)
        extensions += _ext(11, b"\x01\x00")
        if version is Version.TLS1_2:
            algs = struct.pack("!" + "H" * 10, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0804, 0x0805,
                               0x0201, 0x0203)
            extensions += _ext(13, struct.pack("!H", len(algs)) + algs)
        extensions += _ext(0xFF01, b"\x00")
        body += struct.pack("!H", len(extensions)) + extensions
    handshake = b"\x01" + struct.pack("!I", len(body))[1:] + body
    record_version = Version.SSL3.wire if version is Version.SSL3 else Version.TLS1_0.wire
    return b"\x16" + struct.pack("!HH", record_version, len(handshake)) + handshake


@frozen
class Hello:
    """What the server answered a ClientHello: a ServerHello (version, suite), an alert, or a closed connection."""

    version: int | None = None
    suite: int | None = None
    alert: str | None = None
    closed: bool = False
    garbled: str = ""  # not TLS: what was wrong

    @property
    def refused(self) -> bool:
        return self.alert is not None or self.closed


def parse_answer(record: bytes) -> Hello:
    """The first record a server sent after a ClientHello (header and body)."""
    if not record:
        return Hello(closed=True)
    if len(record) < 5:
        return Hello(garbled=f"a {len(record)}-byte answer")
    kind, _, length = struct.unpack("!BHH", record[:5])
    body = record[5:5 + length]
    if kind == 0x15 and len(body) >= 2:
        return Hello(alert=ALERTS.get(body[1], f"alert {body[1]}"))
    if kind == 0x16 and len(body) >= 39 and body[0] == 2:
        version = struct.unpack("!H", body[4:6])[0]
        sid = body[38]
        if len(body) >= 39 + sid + 2:
            return Hello(version=version, suite=struct.unpack("!H", body[39 + sid:41 + sid])[0])
    return Hello(garbled=f"record type {kind} that is not a ServerHello or an alert")


def exchange_hello(endpoint: TlsEndpoint, hello: bytes, timeout: float) -> tuple[Hello, bytes]:
    """Send one ClientHello, read the server's first record (bounded), close. Connection errors raise OSError."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock:
        sock.sendall(hello)
        try:
            header = read_exact(sock, 5)
            length = struct.unpack("!H", header[3:5])[0] if len(header) == 5 else 0
            record = header + read_exact(sock, min(length, RECORD_LIMIT))
        except ConnectionResetError:
            return Hello(closed=True), b""
    return parse_answer(record), record


def _name(code: int) -> str:
    names = {v.wire: v.value for v in Version}
    return names.get(code, f"0x{code:04x}")


# ---- probes ----------------------------------------------------------------------------------

def _python_can(version: Version) -> bool:
    flag = {Version.TLS1_0: "HAS_TLSv1", Version.TLS1_1: "HAS_TLSv1_1", Version.TLS1_2: "HAS_TLSv1_2"}.get(version)
    return bool(flag and getattr(ssl, flag, False))


def _python_version(version: Version) -> ssl.TLSVersion:
    return {Version.TLS1_0: ssl.TLSVersion.TLSv1, Version.TLS1_1: ssl.TLSVersion.TLSv1_1,
            Version.TLS1_2: ssl.TLSVersion.TLSv1_2}[version]


def version_probe(endpoint: TlsEndpoint, version: Version, timeout: float) -> Probe:
    """Offer only ``version``: ok when the server refuses it."""
    if _python_can(version):
        try:
            return _handshake_version(endpoint, version, timeout)
        except _LocalCannot:
            pass  # this OpenSSL cannot produce the version after all: the hand-built ClientHello can
    hello = client_hello(version, CLASSIC_SUITES, endpoint.host)
    answer, record = exchange_hello(endpoint, hello, timeout)
    how = "hand-built ClientHello"
    if answer.garbled:
        return Probe(None, f"{how}: the server answered {answer.garbled}", hello, record)
    if answer.refused:
        return Probe(True, f"{how}: refused ({answer.alert or 'connection closed'})", hello, record)
    if answer.version == version.wire:
        return Probe(False, f"{how}: accepted, ServerHello {version} with suite 0x{answer.suite:04x}", hello, record)
    return Probe(True, f"{how}: refused, the server answered {_name(answer.version or 0)}", hello, record)


class _LocalCannot(Exception):
    """The local TLS library cannot offer this version."""


def _handshake_version(endpoint: TlsEndpoint, version: Version, timeout: float) -> Probe:
    import warnings

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # this probe asks about the protocol; the certificate has its own
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            context.minimum_version = context.maximum_version = _python_version(version)
            context.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as exc:
            raise _LocalCannot(str(exc)) from None
    how = f"Python ssl handshake ({ssl.OPENSSL_VERSION}) limited to {version}"
    sent = f"TLS handshake offering only {version}"
    with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock:
        try:
            with context.wrap_socket(sock, server_hostname=None if _is_ip(endpoint.host) else endpoint.host) as tls:
                got, cipher = tls.version(), (tls.cipher() or ("?",))[0]
        except ssl.SSLError as exc:
            reason = str(exc.reason or exc)
            if reason in ("NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE"):
                raise _LocalCannot(reason) from None
            if "ALERT" in reason or reason == "UNSUPPORTED_PROTOCOL":
                return Probe(True, f"{how}: refused ({reason})", sent, reason)
            return Probe(None, f"{how}: the answer was not understood ({reason})", sent, reason)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            return Probe(True, f"{how}: refused (connection closed)", sent, "")
    return Probe(False, f"{how}: accepted, {got} with {cipher}", sent, f"{got} {cipher}")


def suite_class_probe(endpoint: TlsEndpoint, weak_class: str, timeout: float) -> Probe:
    """Offer only the suites of one weak class (TLS 1.2 ClientHello): ok when the server refuses all of them."""
    suites = WEAK_SUITES[weak_class]
    hello = client_hello(Version.TLS1_2, suites, endpoint.host)
    answer, record = exchange_hello(endpoint, hello, timeout)
    if answer.garbled:
        return Probe(None, f"the server answered {answer.garbled}", hello, record)
    if answer.refused:
        return Probe(True, f"refused ({answer.alert or 'connection closed'})", hello, record)
    if answer.suite in suites:
        return Probe(False, f"accepted: ServerHello {_name(answer.version or 0)} with suite 0x{answer.suite:04x}",
                     hello, record)
    return Probe(None, f"the server chose suite 0x{answer.suite or 0:04x}, which was not offered", hello, record)


def _leaf(endpoint: TlsEndpoint, timeout: float) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # read what is presented; the chain probe verifies it
    with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock, \
            context.wrap_socket(sock, server_hostname=None if _is_ip(endpoint.host) else endpoint.host) as tls:
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server presented no certificate")
    return der


def chain_probe(endpoint: TlsEndpoint, ca_file: str | None, timeout: float) -> Probe:
    """A verifying handshake (against ``ca_file``, else the system store), host name not checked here."""
    from scanner.connectors.ldap import tls_context

    context = tls_context(ca_file)
    context.check_hostname = False
    trust = f"ca_file {ca_file}" if ca_file else "the system trust store"
    sent = f"verifying TLS handshake against {trust}"
    with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock:
        try:
            with context.wrap_socket(sock, server_hostname=None if _is_ip(endpoint.host) else endpoint.host):
                pass
        except ssl.SSLCertVerificationError as exc:
            why = str(exc.verify_message or exc.reason or exc)
            return Probe(False, f"not trusted against {trust}: {why}", sent, why)
    return Probe(True, f"the chain verifies against {trust}", sent, "verified")


def names_of(der: bytes) -> tuple[list[str], list[str]]:
    """The DNS names and IP addresses of a certificate's subjectAltName (no SAN: none; the CN is not used)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return ([str(n) for n in san.get_values_for_type(x509.DNSName)],
            [str(a) for a in san.get_values_for_type(x509.IPAddress)])


def hostname_matches(host: str, dns: Iterable[str], ips: Iterable[str]) -> bool:
    """RFC 6125 matching: an IP address against the IP SANs; a name against the DNS SANs, a ``*`` only as the
    whole left-most label and never matching an IP address or a bare top-level name."""
    if _is_ip(host):
        wanted = ipaddress.ip_address(host)
        return any(ipaddress.ip_address(a) == wanted for a in ips)
    name = host.rstrip(".").lower()
    for pattern in (d.rstrip(".").lower() for d in dns):
        if pattern == name:
            return True
        first, _, rest = pattern.partition(".")
        if first == "*" and rest.count(".") >= 1 and name.partition(".")[2] == rest and name.partition(".")[0]:
            return True
    return False


def hostname_probe(endpoint: TlsEndpoint, timeout: float) -> Probe:
    der = _leaf(endpoint, timeout)
    from scanner.connectors.winrm import printable

    dns, ips = names_of(der)
    listed = printable(", ".join([*dns, *ips]) or "no subjectAltName")  # names from the server: escaped, bounded
    if hostname_matches(endpoint.host, dns, ips):
        return Probe(True, f"{endpoint.host} is among the certificate's names ({listed})", "handshake", listed)
    return Probe(False, f"{endpoint.host} is not among the certificate's names ({listed})", "handshake", listed)


def expiry_probe(endpoint: TlsEndpoint, days: int, timeout: float,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> Probe:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(_leaf(endpoint, timeout))
    not_after = cert.not_valid_after_utc if hasattr(cert, "not_valid_after_utc") else \
        cert.not_valid_after.replace(tzinfo=timezone.utc)
    left = (not_after - now()).total_seconds() / 86400
    when = not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    if left < 0:
        return Probe(False, f"expired on {when}", "handshake", when)
    verdict = left > days
    return Probe(verdict, f"valid until {when} ({left:.1f} days left; policy: more than {days})", "handshake", when)

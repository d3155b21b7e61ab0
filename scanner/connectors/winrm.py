"""WinRM transport (pywinrm): verified TLS before any credential, NTLM/Kerberos/CredSSP, one shell per host.

HTTPS (5986) is the default. Before pywinrm sends anything, the connector makes its own TLS handshake and checks
the server certificate against ``ca_file`` (else the system store) and the host name, or against the SHA-256
``cert_fingerprint`` pin; a certificate that does not pass is refused with its subject and fingerprint, and no
credential has left this machine. pywinrm's HTTP session is then given the same trust (a transport adapter with
the same SSL context, or urllib3's fingerprint assertion for a pin), so every later connection is held to it.

Plain HTTP (5985) needs ``allow_plaintext: true`` and an authentication that seals every message (NTLM, Kerberos,
CredSSP; pywinrm is told to encrypt always and refuses if it cannot). Basic authentication over HTTP is refused.

A script runs as ONE WinRS Command: PowerShell started with a short fixed bootstrap (``-EncodedCommand``) that reads
the whole of stdin as UTF-8 and runs it as one script block. The script itself is streamed over WS-Man Send in
chunks (the last flagged End), so its length is not bound by the command line, and it is compiled whole (``-Command
-`` would run stdin line by line, where a multi-line block needs a blank line to end). The shell is opened with code
page 65001. Output is raw bytes, bounded by ``limit``; the command is bounded by its timeout and the host's.

A command that ended (state Done, all of its output read) is not signalled at once: [MS-WSMV] asks for the
terminate Signal, which acknowledges the end of the output, before a NEW command of the shell, and the shell's
Delete releases everything of the shell. So the Signal of a finished command is sent only if another command
follows in the same shell, and a host with one command costs one round trip less. A command cut short (timed out,
output over its bound, an error while sending) is signalled at once.

The password is read from the environment variable ``password_env`` names, only when connecting, and never put
into a message, a log line or an argument list.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import importlib.util
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from xml.etree.ElementTree import ParseError

from scanner.connectors import CommandResult, ConnectorError, ProcessScope
from scanner.connectors.become import secret
from scanner.model import Target
from scanner.value import frozen

DEFAULT_LIMIT = 8 * 1024 * 1024  # stdout bytes kept per command
STDERR_LIMIT = 64 * 1024
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_OPERATION_TIMEOUT = 20  # WS-Man OperationTimeout of one Receive (whole seconds)
DEFAULT_HOST_TIMEOUT = 600.0
CLEANUP_TIMEOUT = 5.0  # at most, to end a command or the shell (at least 1 s, even after the host timeout)
SEND_CHUNK = 64 * 1024  # stdin bytes per Send (base64 in a 150 KiB envelope)
UTF8_CODEPAGE = 65001
MESSAGE_LIMIT = 300  # characters of a server's fault text put into an error message
AUTHS = ("ntlm", "kerberos", "credssp", "basic")
SEALING_AUTHS = ("ntlm", "kerberos", "credssp")

#: Reads all of stdin as UTF-8 and runs it as one script block (PowerShell 2.0 and later).
BOOTSTRAP = ("$r = New-Object System.IO.StreamReader([Console]::OpenStandardInput(), "
             "(New-Object System.Text.UTF8Encoding $false)); "
             "$s = $r.ReadToEnd(); & ([ScriptBlock]::Create($s))")
POWERSHELL = "powershell.exe"


def powershell_arguments() -> tuple[str, ...]:
    encoded = base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode("ascii")
    return ("-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-EncodedCommand", encoded)


_KEYTAB_LOCK = threading.Lock()
T = TypeVar("T")


@frozen
class Endpoint:
    """One WinRM listener and how to talk to it, checked before anything is sent."""

    host: str
    port: int
    scheme: str  # "https" or "http"
    path: str
    auth: str
    user: str | None
    ca_file: str | None
    pin: str | None  # lower-case hex SHA-256 of the DER certificate

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def protection(self) -> str:
        return f"https+{self.auth}" if self.scheme == "https" else f"http+{self.auth}-sealed"


def _pin(value: str | None) -> str | None:
    if not value:
        return None
    text = value.lower().removeprefix("sha256:").replace(":", "")
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise WinRMConfigError("cert_fingerprint",
                               "cert_fingerprint must be the certificate SHA-256: 64 hex digits (colons allowed)")
    return text


class WinRMConfigError(ConnectorError):
    """A target option combination that is refused; ``key`` names the option (for the inventory's fault path)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def endpoint(name: str, options: Mapping[str, Any]) -> Endpoint:
    """The listener of a windows target, or WinRMConfigError for a combination that would expose a credential.

    The inventory loader runs this too, so a refused combination stops the scan before any connection."""
    def opt(key: str) -> str | None:
        value = options.get(key)
        return None if value is None or value == "" else str(value)

    if not opt("host"):
        raise WinRMConfigError("host", f"target {name}: a windows target needs a host")
    scheme, auth = opt("scheme") or "https", opt("auth") or "ntlm"
    if auth not in AUTHS:
        raise WinRMConfigError("auth", f"target {name}: auth {auth!r} is not one of {', '.join(AUTHS)}")
    if scheme not in ("https", "http"):
        raise WinRMConfigError("scheme", f"target {name}: scheme must be https or http")
    if scheme == "http" and options.get("allow_plaintext") is not True:
        raise WinRMConfigError("scheme", f"target {name}: WinRM over plain HTTP is refused without "
                                         "allow_plaintext: true (and then only with message encryption)")
    if scheme == "http" and auth not in SEALING_AUTHS:
        raise WinRMConfigError("auth", f"target {name}: Basic authentication over plain HTTP is refused: it sends "
                                       "the password readable and the messages unencrypted; use https")
    for key in ("ca_file", "cert_fingerprint"):
        if scheme == "http" and opt(key):
            raise WinRMConfigError(key, f"target {name}: {key} applies to https only")
    if opt("ca_file") and opt("cert_fingerprint"):
        raise WinRMConfigError("cert_fingerprint", f"target {name}: give ca_file or cert_fingerprint, not both")
    if auth != "kerberos":
        for key in ("user", "password_env"):
            if not opt(key):
                raise WinRMConfigError(key, f"target {name}: auth {auth} needs user and password_env")
    default_port = 5986 if scheme == "https" else 5985
    return Endpoint(host=str(opt("host")), port=int(options.get("port") or default_port), scheme=scheme,
                    path=opt("path") or "/wsman", auth=auth, user=opt("user"), ca_file=opt("ca_file"),
                    pin=_pin(opt("cert_fingerprint")))


def printable(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """Text from a server made safe for one line of a terminal or a log: controls escaped, length bounded."""
    out = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else "?" for c in text)
    return out if len(out) <= limit else out[:limit] + "..."


def describe_certificate(der: bytes) -> str:
    """Subject and SHA-256 fingerprint of a DER certificate, for a refusal message."""
    fingerprint = hashlib.sha256(der).hexdigest()
    try:
        from cryptography import x509

        subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:
        subject = "(unparseable certificate)"
    return f"subject {printable(subject)!s}, SHA-256 {fingerprint}"


def _ssl_context(ep: Endpoint) -> ssl.SSLContext:
    """The trust of an endpoint: its pin, its ``ca_file`` or the system store.

    One context per trust is shared by every host that has it (an SSLContext serves many connections): reading a
    CA file costs about 1 ms, the system store about 50 ms, per host. A context is reused only while its files
    are the same (device, inode, size and modification time of ``ca_file``, or of the store OpenSSL reads), so a
    replaced CA file is read again; a file that cannot be read is refused as before."""
    if ep.pin:
        return _shared_context(("pin",), None)
    if ep.ca_file:
        seen = _file_identity(ep.ca_file)
        return _shared_context(("ca_file", ep.ca_file, seen), ep.ca_file) if seen else _new_context(ep.ca_file)
    paths = ssl.get_default_verify_paths()
    return _shared_context(("system", paths.cafile, _file_identity(paths.cafile), paths.capath,
                            _file_identity(paths.capath)), None)


def _file_identity(path: str | None) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path) if path else None
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) if st else None


@functools.lru_cache(maxsize=16)
def _shared_context(key: tuple[Any, ...], ca_file: str | None) -> ssl.SSLContext:
    """The context of one trust (``key``: what it was made of); made once while its files stay the same."""
    return _new_context(ca_file, pinned=key == ("pin",))


def _new_context(ca_file: str | None, pinned: bool = False) -> ssl.SSLContext:
    if pinned:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the pin is checked on the certificate itself
        return context
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConnectorError(f"cannot read ca_file {ca_file}: {getattr(exc, 'strerror', None) or exc}") from None


def _handshake(ep: Endpoint, context: ssl.SSLContext, timeout: float) -> ssl.SSLSocket:
    """A TLS connection to the listener, handshake done (the caller closes it).

    With TCP_NODELAY, as urllib3 makes its connections: the connection becomes the session's (``_hand_over``), and
    urllib3 writes a request's headers and body in two sends; with Nagle's algorithm on, the body waits for the
    server's delayed ACK of the headers (40 ms on Linux, up to 200 ms on Windows) in every WS-Man operation."""
    try:
        sock = socket.create_connection((ep.host, ep.port), timeout=timeout)
    except TimeoutError:
        raise ConnectorError(f"cannot connect to {ep.host}:{ep.port}: timed out after {timeout:g}s") from None
    except OSError as exc:
        raise ConnectorError(f"cannot connect to {ep.host}:{ep.port}: {exc.strerror or exc}") from None
    try:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return context.wrap_socket(sock, server_hostname=ep.host)
    except BaseException:
        sock.close()
        raise


def verify_server(ep: Endpoint, timeout: float, context: ssl.SSLContext | None = None) -> bytes:
    """Handshake with the listener and check its certificate before any credential is sent; ``context`` is the
    endpoint's (``_ssl_context``), made here when not given.

    Returns the certificate (DER); raises ConnectorError naming subject and fingerprint."""
    with checked_connection(ep, timeout, context or _ssl_context(ep)) as tls:
        return tls.getpeercert(binary_form=True) or b""


def checked_connection(ep: Endpoint, timeout: float, context: ssl.SSLContext) -> ssl.SSLSocket:
    """``verify_server``'s check, keeping the connection open: the connector hands it to pywinrm's session as its
    first connection (``_hand_over``), so a host costs one TCP connection and one handshake, not two."""
    try:
        tls = _handshake(ep, context, timeout)
    except ssl.SSLCertVerificationError as exc:
        presented = _presented(ep, timeout)
        trust = f"ca_file {ep.ca_file}" if ep.ca_file else "the system trust store"
        raise ConnectorError(
            f"TLS certificate of {ep.host}:{ep.port} not trusted ({printable(exc.verify_message or str(exc))}; "
            f"checked against {trust}): {presented}; set ca_file to the issuing CA or cert_fingerprint to pin it; "
            "no credential was sent") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConnectorError(f"TLS handshake with {ep.host}:{ep.port} failed: {printable(str(exc))}; "
                             "no credential was sent") from None
    der = tls.getpeercert(binary_form=True) or b""
    if ep.pin and hashlib.sha256(der).hexdigest() != ep.pin:
        tls.close()
        raise ConnectorError(f"TLS certificate of {ep.host}:{ep.port} does not match cert_fingerprint {ep.pin}: "
                             f"the host presented {describe_certificate(der)}; no credential was sent")
    return tls


def _hand_over(adapter: Any, url: str, tls: ssl.SSLSocket) -> None:
    """Make the checked connection the first one of the session's pool for ``url`` (urllib3 2: a connection whose
    socket is set is used as it is; a urllib3 that finds it unusable opens a new one, held to the same trust)."""
    pool = adapter.poolmanager.connection_from_url(url)
    pool.ConnectionCls = _held_connection(pool.ConnectionCls)
    conn = pool._get_conn()  # a new connection, not yet connected: it takes the pool's free place
    conn.sock = tls
    conn.is_verified = True  # by checked_connection, with the context every later connection of the pool has
    pool._put_conn(conn)


@functools.cache
def _held_connection(base: type) -> Any:
    """urllib3's HTTPS connection that does not take TLS 1.3 session tickets, which a server sends after the
    handshake and nobody has read yet, for the end of the connection (urllib3 would drop it and connect again)."""
    from urllib3.util.wait import wait_for_read

    class Held(base):  # type: ignore[misc]
        @property
        def is_connected(self) -> bool:
            sock = self.sock
            if sock is None:
                return False
            return not wait_for_read(sock, timeout=0.0) or _only_tls_records(sock)

    return Held


def _only_tls_records(sock: Any) -> bool:
    """Whether all a readable connection holds is TLS records of its own (session tickets): read without blocking,
    they leave nothing for the application. The end of the connection, or data the server sent unasked, is not."""
    if not isinstance(sock, ssl.SSLSocket):
        return False
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        sock.recv(1)
        return False  # b"" (closed) or data nobody asked for: not a connection to reuse
    except ssl.SSLWantReadError:
        return True
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def tls_server_end_point(der: bytes) -> bytes:
    """The channel binding of a certificate (RFC 5929 4.1): its hash by its own signature's hash algorithm,
    SHA-256 for MD5 and SHA-1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return b"tls-server-end-point:" + digest.finalize()


def _bind_kerberos(auth: Any, der: bytes) -> None:
    """pywinrm sends its Kerberos AP-REQ pre-emptively, before it has seen a certificate, so unbound to the TLS
    channel; bind it to the certificate checked before (Windows' Extended Protection for Authentication)."""
    try:
        import kerberos
    except ImportError:  # Windows: winkerberos, the same functions (what pywinrm imports there)
        import winkerberos as kerberos

    auth.cbt_struct = kerberos.channelBindings(application_data=tls_server_end_point(der))
    auth.cbt_binding_tried = True


def _presented(ep: Endpoint, timeout: float) -> str:
    """What the server presents, read in a second handshake that checks nothing (for the message only)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with _handshake(ep, context, timeout) as tls:
            return "the host presented " + describe_certificate(tls.getpeercert(binary_form=True) or b"")
    except (ssl.SSLError, OSError, ConnectorError):
        return "the certificate could not be read"


def _trusting_adapter(context: ssl.SSLContext, pin: str | None) -> Any:
    """A requests transport adapter that holds every connection to our SSL context (and pin), ignoring
    requests' own bundle, proxies from the environment and REQUESTS_CA_BUNDLE."""
    return _adapter_class()(context, pin)


@functools.cache
def _adapter_class() -> Any:
    """The adapter class of ``_trusting_adapter``, defined once per process (requests imported when first asked)."""
    from requests.adapters import HTTPAdapter

    class Adapter(HTTPAdapter):
        def __init__(self, context: ssl.SSLContext, pin: str | None) -> None:
            self.trust, self.pin = context, pin  # before HTTPAdapter's __init__ makes the pool manager
            super().__init__()

        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
            kwargs.update(ssl_context=self.trust, cert_reqs="CERT_NONE" if self.pin else "CERT_REQUIRED")
            if self.pin:
                kwargs["assert_fingerprint"] = self.pin
            super().init_poolmanager(connections, maxsize, block, **kwargs)

        def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
            return None  # the pool's context decides, never requests' default bundle

        def get_connection_with_tls_context(self, request: Any, verify: Any, proxies: Any = None,
                                            cert: Any = None) -> Any:
            return self.poolmanager.connection_from_url(request.url)

        def get_connection(self, url: str, proxies: Any = None) -> Any:
            return self.poolmanager.connection_from_url(url)

    return Adapter


def _use_keytab(path: str) -> None:
    """MIT Kerberos takes initial credentials from the client keytab KRB5_CLIENT_KTNAME names; it is one per
    process, so one run uses one client keytab."""
    with _KEYTAB_LOCK:
        current = os.environ.get("KRB5_CLIENT_KTNAME")
        if current and current != path:
            raise ConnectorError(f"keytab_file {path}: this run already uses the client keytab {current}; "
                                 "one client keytab per run")
        os.environ["KRB5_CLIENT_KTNAME"] = path


KEYTAB_LIMIT = 1024 * 1024  # bytes of a keytab or ticket cache read to name its principal
#: the minor status text, last in pykerberos' "...failed: ((major, code), (minor, code))"
_GSS_MINOR = re.compile(r"""\((?:'([^']{0,500})'|"([^"]{0,500})"), -?\d+\)\)\s*$""")


def _counted(data: bytes, at: int, size: int) -> tuple[bytes, int]:
    """A big-endian length-prefixed string of a keytab or ticket cache; ValueError past the end."""
    if at + size > len(data):
        raise ValueError("truncated")
    length = int.from_bytes(data[at:at + size], "big")
    if at + size + length > len(data):
        raise ValueError("truncated")
    return data[at + size:at + size + length], at + size + length


def _read_head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(KEYTAB_LIMIT)


def keytab_principal(path: str) -> str | None:
    """The principal of the first entry of an MIT keytab (format 0x0502), what MIT takes initial credentials for;
    None if the file cannot be read or is not a keytab."""
    try:
        data = _read_head(path)
        if data[:2] != b"\x05\x02" or len(data) < 8:
            return None
        at = 6  # the first record's length (4 bytes) is skipped: the fields are read in place
        count = int.from_bytes(data[at:at + 2], "big")
        realm, at = _counted(data, at + 2, 2)
        parts = []
        for _ in range(min(count, 16)):
            part, at = _counted(data, at, 2)
            parts.append(part)
        return printable(b"/".join(parts).decode("utf-8", "replace") + "@" + realm.decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None


def ccache_principal(name: str | None) -> str | None:
    """The default principal of a FILE ticket cache (formats 0x0503 and 0x0504), else None."""
    if not name or (":" in name and not name.startswith("FILE:")):
        return None  # KEYRING:, KCM:, DIR:, ... are not read here
    try:
        data = _read_head(name.removeprefix("FILE:"))
        if data[:2] not in (b"\x05\x03", b"\x05\x04"):
            return None
        at = 2
        if data[:2] == b"\x05\x04":
            _, at = _counted(data, at, 2)  # header tags
        if len(data) < at + 8:
            return None
        count = int.from_bytes(data[at + 4:at + 8], "big")
        realm, at = _counted(data, at + 8, 4)
        parts = []
        for _ in range(min(count, 16)):
            part, at = _counted(data, at, 4)
            parts.append(part)
        return printable(b"/".join(parts).decode("utf-8", "replace") + "@" + realm.decode("utf-8", "replace"))
    except (OSError, ValueError):
        return None


def kerberos_failure(ep: Endpoint, keytab: str | None, detail: str) -> ConnectorError:
    """A Kerberos exchange that failed on this side (no ticket, a key the KDC rejects, no KDC): named by the
    principal it was for and where that came from, with the GSS-API reason."""
    cache = os.environ.get("KRB5CCNAME")
    if ep.user:
        who = ep.user
    elif keytab:
        who = f"{keytab_principal(keytab) or 'the first principal'} of keytab_file {printable(keytab)}"
    else:
        where = printable(cache or "(default)")
        who = f"{ccache_principal(cache) or 'the default principal'} of the ticket cache {where}"
    match = _GSS_MINOR.search(detail)
    reason = printable((match.group(1) or match.group(2)) if match else detail)
    hint = ""
    if any(text in reason for text in ("No Kerberos credentials available", "No credentials cache found",
                                       "Can't find client principal")):
        hint = "; no ticket: run kinit for the scan account or set keytab_file"
    elif "Preauthentication failed" in reason:
        hint = "; the KDC rejected the key: wrong password, or a keytab older than the last password change"
    return ConnectorError(f"Kerberos authentication as {who} to {ep.url} failed: {reason}{hint}")


#: NTSTATUS / HRESULT a CredSSP acceptor answers for a wrong user or password
LOGON_DENIED = (0x8009030C, 0xC000006D)


def _auth_errors(auth: str) -> tuple[type[BaseException], ...]:
    """What the Kerberos or CredSSP package raises when the exchange fails on this side or the host refuses it."""
    try:
        if auth == "kerberos":
            from winrm.vendor.requests_kerberos.exceptions import KerberosExchangeError

            return (KerberosExchangeError,)
        if auth == "credssp":
            from requests_credssp.exceptions import AuthenticationException, NTStatusException

            return (AuthenticationException, NTStatusException)
    except ImportError:
        pass
    return ()


def _require_module(auth: str) -> None:
    needed = {"kerberos": (("kerberos", "winkerberos"), "pywinrm[kerberos]"),
              "credssp": (("requests_credssp",), "pywinrm[credssp]")}.get(auth)
    if needed and not any(importlib.util.find_spec(m) for m in needed[0]):
        raise ConnectorError(f"auth {auth} needs {needed[1]} installed (pip install 'gxpscan[winrm-{auth}]')")


class WinRMConnector:
    """Shell connector over WinRM. Build with a Target, use as a context manager."""

    def __init__(self, target: Target, scope: ProcessScope | None = None):
        self.target = target
        self.scope = scope or ProcessScope()
        self.endpoint = endpoint(target.name, target.options)
        self.fingerprint: str | None = None  # SHA-256 of the server certificate (https)
        self._certificate = b""  # the server certificate (DER) checked before anything was sent (https)
        self._context: ssl.SSLContext | None = None  # the trust of the first handshake, held by every connection
        self.commands_run = 0
        self._protocol: Any = None
        self._shell: str | None = None
        self._unacknowledged: str | None = None  # a finished command not yet signalled (the shell's Delete does it)
        self._handed: ssl.SSLSocket | None = None  # the checked connection, handed to pywinrm's session
        self._deadline = 0.0

    @property
    def protection(self) -> str:
        """How the messages were protected: https+ntlm, http+ntlm-sealed, https+kerberos, ..."""
        return self.endpoint.protection

    @property
    def is_root(self) -> bool:
        return False

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> WinRMConnector:
        self._deadline = time.monotonic() + float(self.target.opt("host_timeout") or DEFAULT_HOST_TIMEOUT)
        ep = self.endpoint
        _require_module(ep.auth)
        checked = None
        if ep.scheme == "https":
            self._context = _ssl_context(ep)  # the trust of the check and of every later connection
            checked = checked_connection(ep, self._connect_timeout(), self._context)
            self._certificate = checked.getpeercert(binary_form=True) or b""
            self.fingerprint = hashlib.sha256(self._certificate).hexdigest()
        try:
            self._protocol = self._build_protocol(ep, checked)
            self._shell = self._call(self._deadline, self._protocol.open_shell, codepage=UTF8_CODEPAGE,
                                     noprofile=True)
        except TimeoutError:
            self.close()
            raise ConnectorError(f"{ep.url} did not answer while opening the shell: timed out (connect_timeout, "
                                 "operation_timeout or host_timeout)") from None
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        protocol, shell = self._protocol, self._shell
        if protocol is None:
            return
        try:
            if shell is not None:
                self._call(self._cleanup_deadline(), protocol.close_shell, shell, close_session=False)
        except (ConnectorError, TimeoutError):
            pass  # the shell ends by itself on the server (its idle timeout)
        finally:
            self._protocol = self._shell = self._unacknowledged = None
            protocol.transport.close_session()

    def _cleanup_deadline(self) -> float:
        """Ending a command or the shell gets what is left of the host's time, at least a second, at most 5."""
        now = time.monotonic()
        return now + min(CLEANUP_TIMEOUT, max(1.0, self._deadline - now))

    def _connect_timeout(self) -> float:
        wanted = float(self.target.opt("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)
        return max(0.1, min(wanted, self._deadline - time.monotonic()))

    def _build_protocol(self, ep: Endpoint, checked: ssl.SSLSocket | None = None) -> Any:
        """pywinrm's protocol with our trust; ``checked``, the connection the certificate was checked on, becomes
        its session's first connection (closed here if it cannot)."""
        try:
            return self._protocol_for(ep, checked)
        finally:
            if checked is not None and self._handed is not checked:
                checked.close()

    def _protocol_for(self, ep: Endpoint, checked: ssl.SSLSocket | None) -> Any:
        from winrm.exceptions import WinRMError
        from winrm.protocol import Protocol

        password = secret(self.target, "password_env")
        keytab = self.target.opt("keytab_file")
        if ep.auth == "kerberos" and keytab:
            if not os.path.isfile(str(keytab)):
                raise ConnectorError(f"keytab_file {keytab} not found")
            _use_keytab(str(keytab))
        operation = int(self.target.opt("operation_timeout") or DEFAULT_OPERATION_TIMEOUT)
        try:
            options: dict[str, Any] = {"transport": ep.auth, "ca_trust_path": ep.ca_file}
            protocol = Protocol(
                ep.url, username=ep.user, password=password if ep.auth != "kerberos" else None,
                server_cert_validation="validate", **options,
                read_timeout_sec=operation + 10, operation_timeout_sec=operation,
                message_encryption="always" if ep.scheme == "http" else "auto", proxy=None)
        except WinRMError as exc:
            raise ConnectorError(f"WinRM setup for {ep.url} failed: {printable(str(exc))}") from None
        if ep.scheme == "https":  # before build_session could send anything
            session = protocol.transport.build_session()
            session.trust_env = False
            adapter = _trusting_adapter(self._context or _ssl_context(ep), ep.pin)
            session.mount("https://", adapter)
            if checked is not None:
                _hand_over(adapter, ep.url, checked)
                self._handed = checked
            if ep.auth == "kerberos":
                _bind_kerberos(session.auth, self._certificate)
        else:
            self._protocol = protocol
            self._call(self._deadline, protocol.transport.build_session)  # authenticates and sets up sealing
        return protocol

    def _principal(self) -> str:
        """Who this connection authenticates as, for a message: the user, else the Kerberos principal."""
        ep, keytab = self.endpoint, self.target.opt("keytab_file")
        if ep.user or ep.auth != "kerberos":
            return str(ep.user)
        found = keytab_principal(str(keytab)) if keytab else ccache_principal(os.environ.get("KRB5CCNAME"))
        return found or "the Kerberos principal"

    def _rejected(self) -> ConnectorError:
        ep = self.endpoint
        return ConnectorError(f"authentication failed for {self._principal()} at {ep.url} ({ep.auth}): the server "
                              "rejected the credentials")

    def _auth_failure(self, exc: BaseException) -> ConnectorError:
        ep = self.endpoint
        if ep.auth == "kerberos":
            keytab = self.target.opt("keytab_file")
            return kerberos_failure(ep, str(keytab) if keytab else None, str(exc))
        status = getattr(exc, "status", None)
        if status in LOGON_DENIED:
            return self._rejected()
        reason = f"NTSTATUS 0x{status:08x}" if isinstance(status, int) else printable(str(exc))
        return ConnectorError(f"CredSSP authentication as {ep.user} to {ep.url} failed: {reason}")

    # ---- one WS-Man operation, bounded -----------------------------------------------------
    def _call(self, deadline: float, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one pywinrm operation with the time left; pywinrm's and requests' errors become ConnectorError
        (TimeoutError when the time ran out), without a secret and without the server's raw text unescaped."""
        import requests
        import winrm.exceptions as wx

        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no time left")
        ep = self.endpoint
        transport = self._protocol.transport if self._protocol is not None else None
        if transport is not None:
            connect = float(self.target.opt("connect_timeout") or DEFAULT_CONNECT_TIMEOUT)
            read = float(self._protocol.operation_timeout_sec) + 10
            transport.read_timeout_sec = (min(connect, left), min(read, left))
        try:
            return operation(*args, **kwargs)
        except _auth_errors(ep.auth) as exc:
            raise self._auth_failure(exc) from None
        except wx.InvalidCredentialsError:
            raise self._rejected() from None
        except wx.WinRMOperationTimeoutError:
            raise
        except wx.WSManFaultError as exc:
            raise ConnectorError(f"{ep.url} answered a WS-Management fault: {printable(exc.reason or '')} "
                                 f"(code {exc.wsman_fault_code})") from None
        except wx.WinRMTransportError as exc:
            raise ConnectorError(f"{ep.url} answered HTTP {exc.code}") from None
        except wx.WinRMError as exc:
            raise ConnectorError(f"WinRM with {ep.url} failed: {printable(str(exc))}") from None
        except requests.exceptions.Timeout:
            raise TimeoutError(f"no answer from {ep.url}") from None
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(f"TLS with {ep.url} failed: {printable(str(exc))}") from None
        except (requests.exceptions.RequestException, OSError) as exc:
            raise ConnectorError(f"WinRM connection to {ep.url} failed: {type(exc).__name__}: "
                                 f"{printable(str(exc))}") from None
        except (ParseError, StopIteration, ValueError, KeyError, AssertionError) as exc:  # pywinrm asserts RelatesTo
            raise ConnectorError(f"{ep.url} answered a message that is not WS-Management: "
                                 f"{type(exc).__name__}") from None

    # ---- running ---------------------------------------------------------------------------
    def run(self, script: str, *, timeout: float, become: bool = False, limit: int = DEFAULT_LIMIT) -> CommandResult:
        if become:
            raise ConnectorError("become is not supported on Windows targets: give the account the rights the "
                                 "facts need (gxpscan winrm-setup)")
        if self._protocol is None or self._shell is None:
            raise ConnectorError(f"not connected to {self.target.name}")
        if self.scope.cancelled.is_set():
            raise ConnectorError("the scan was interrupted; nothing more is started")
        deadline = min(time.monotonic() + timeout, self._deadline)
        if deadline <= time.monotonic():
            return CommandResult(None, b"", b"host timeout exceeded before the command was sent", timed_out=True)
        protocol, shell = self._protocol, self._shell
        if self._unacknowledged is not None:  # [MS-WSMV]: the end of its output is acknowledged before a new command
            self._terminate(self._unacknowledged)
        try:
            command = self._call(deadline, protocol.run_command, shell, POWERSHELL, powershell_arguments(),
                                 skip_cmd_shell=True)
        except TimeoutError:
            return CommandResult(None, b"", b"timed out starting the command", timed_out=True)
        self.commands_run += 1
        result: CommandResult | None = None
        try:
            data = script.encode("utf-8", "surrogateescape")
            chunks = [data[i:i + SEND_CHUNK] for i in range(0, len(data), SEND_CHUNK)] or [b""]
            for n, chunk in enumerate(chunks, 1):
                self._call(deadline, protocol.send_command_input, shell, command, chunk, end=n == len(chunks))
            result = self._receive(protocol, shell, command, deadline, limit)
            return result
        except TimeoutError:
            return CommandResult(None, b"", b"timed out sending the script", timed_out=True)
        finally:
            if result is not None and result.exit_code is not None and not result.truncated:
                self._unacknowledged = command  # ended, all output read: the next command or the Delete acknowledges
            else:
                self._terminate(command)

    def _terminate(self, command: str) -> None:
        """The terminate Signal of a command: ends it if it still runs, acknowledges its output if it ended."""
        self._unacknowledged = None
        try:
            self._call(self._cleanup_deadline(), self._protocol.cleanup_command, self._shell, command)
        except (ConnectorError, TimeoutError):
            pass

    def _receive(self, protocol: Any, shell: str, command: str, deadline: float, limit: int) -> CommandResult:
        import winrm.exceptions as wx

        out, err = bytearray(), bytearray()
        while True:
            if self.scope.cancelled.is_set():
                raise ConnectorError("the scan was interrupted")
            try:
                stdout, stderr, code, done = self._call(deadline, protocol.get_command_output_raw, shell, command)
            except wx.WinRMOperationTimeoutError:
                continue  # no output within OperationTimeout: ask again while time is left
            except TimeoutError:
                return CommandResult(None, bytes(out), bytes(err), timed_out=True)
            err += stderr[: max(0, STDERR_LIMIT - len(err))]
            room = limit - len(out)
            out += stdout[:room]
            if len(stdout) > room:
                return CommandResult(None, bytes(out), bytes(err), truncated=True)
            if done:
                return CommandResult(int(code), bytes(out), bytes(err))



#: Well-known SIDs of the built-in groups: the same on a German or Japanese Windows, whose group names differ.
REMOTE_MANAGEMENT_USERS = "S-1-5-32-580"
ADMINISTRATORS = "S-1-5-32-544"
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9._-]{1,20}")


def setup_guide(account: str, admin_facts: Mapping[str, str]) -> str:
    """The PowerShell a Windows administrator runs once for a least-privilege scan account and an HTTPS listener.

    ``admin_facts`` maps the facts that need local Administrators to their descriptions."""
    if not ACCOUNT_NAME.fullmatch(account):
        raise ValueError("the account name must be 1 to 20 letters, digits, '.', '_' or '-'")
    needs = "".join(f"#   {name}: {text}\n" for name, text in sorted(admin_facts.items())) or "#   (none)\n"
    return f"""\
# gxpscan: least-privilege WinRM setup for one Windows host. Review it, then run it once in an elevated
# PowerShell on the host. Groups are named by SID, so it works on any display language.

# 1. The scan account. For a domain account, create it in Active Directory instead and use CORP\\{account}.
$password = Read-Host -AsSecureString "Password for {account}"
New-LocalUser -Name "{account}" -Password $password -AccountNeverExpires `
    -Description "gxpscan read-only compliance scans"

# 2. Remote shell access without administrator rights: Remote Management Users ({REMOTE_MANAGEMENT_USERS}).
Add-LocalGroupMember -SID "{REMOTE_MANAGEMENT_USERS}" -Member "{account}"

# 3. These facts need membership of local Administrators ({ADMINISTRATORS}); without it each is reported
#    as an error "needs local Administrators", never as a pass:
{needs}#    Grant it only if your change control accepts it (a local account's remote token is filtered by UAC;
#    a domain account is not):
#    Add-LocalGroupMember -SID "{ADMINISTRATORS}" -Member "{account}"

# 4. An HTTPS listener (5986) with a certificate. Prefer one issued by your CA (then give gxpscan ca_file);
#    a self-signed one is pinned by its SHA-256 (cert_fingerprint). Refuse Basic and unencrypted messages.
$cert = New-SelfSignedCertificate -DnsName ([System.Net.Dns]::GetHostEntry('').HostName) `
    -CertStoreLocation Cert:\\LocalMachine\\My
New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS -Address * -CertificateThumbPrint $cert.Thumbprint -Force
New-NetFirewallRule -DisplayName "WinRM HTTPS (gxpscan)" -Direction Inbound -Protocol TCP -LocalPort 5986 -Action Allow
Set-Item WSMan:\\localhost\\Service\\Auth\\Basic -Value $false
Set-Item WSMan:\\localhost\\Service\\AllowUnencrypted -Value $false
# the value for cert_fingerprint:
[BitConverter]::ToString([Security.Cryptography.SHA256]::Create().ComputeHash($cert.RawData)).Replace('-', '')

# 5. In the gxpscan inventory (the password stays in the environment variable, never in the file):
#   - name: lims-app-01
#     type: windows
#     host: lims-app-01.corp.example
#     user: CORP\\{account}            # or {account}@corp.example, or a local {account}
#     password_env: GXPSCAN_WINRM_PASSWORD
#     ca_file: /etc/gxpscan/corp-ca.pem   # or cert_fingerprint: <the SHA-256 above>
"""

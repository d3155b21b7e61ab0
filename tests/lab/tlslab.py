"""TLS servers and certificates for the TLS challenge tests.

- :class:`TlsServer`: a real TLS server (Python ``ssl``, the local OpenSSL 3.0) in a thread, with a chosen protocol
  range and cipher string. OpenSSL 3.0 can still serve TLS 1.0/1.1, NULL and anonymous suites at ``@SECLEVEL=0``;
  it cannot serve SSL 3.0, RC4, 3DES or EXPORT suites (not built into its default provider).
- :class:`HelloResponder`: for what OpenSSL can no longer serve, a responder written by the tests that reads a
  ClientHello and answers a ServerHello (for the versions and suites it is told to accept) or an alert, then
  closes: enough for a probe that reads only the ServerHello. It is a substitute, not a TLS implementation.
- :func:`make_pki`: a CA and certificates made with ``cryptography`` (good, expired, expiring soon, wrong host,
  self-signed), EC P-256 keys.
"""
from __future__ import annotations

import socket
import ssl
import struct
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Cert:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path
    good: Cert
    expired: Cert
    expiring: Cert  # valid for 5 more days
    wrong_host: Cert
    self_signed: Cert


def _write(directory: Path, name: str, cert: Any, key: Any) -> Cert:
    from cryptography.hazmat.primitives import serialization

    c, k = directory / f"{name}.pem", directory / f"{name}.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    k.chmod(0o600)
    return Cert(c, k)


def _build(subject: str, issuer_name: str, key: Any, signer: Any, *, ca: bool, start: datetime, end: datetime,
           dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> Any:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(end)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               # key identifiers: Python 3.13's default context verifies strictly (VERIFY_X509_STRICT)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                              critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False),
                                        critical=True)
    else:
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = (builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(signer, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _build("gxpscan TLS test CA", "gxpscan TLS test CA", ca_key, ca_key, ca=True,
                     start=now - timedelta(days=400), end=now + timedelta(days=400))
    ca = _write(directory, "ca", ca_cert, ca_key)
    local = ("localhost",), ("127.0.0.1",)

    def leaf(name: str, start: datetime, end: datetime, names: tuple[tuple[str, ...], tuple[str, ...]] = local,
             self_signed: bool = False) -> Cert:
        key = ec.generate_private_key(ec.SECP256R1())
        issuer = name if self_signed else "gxpscan TLS test CA"
        cert = _build(name, issuer, key, key if self_signed else ca_key, ca=False, start=start, end=end,
                      dns=names[0], ips=names[1])
        return _write(directory, name, cert, key)

    year = timedelta(days=365)
    return Pki(ca=ca.cert, good=leaf("good", now - timedelta(days=1), now + year),
               expired=leaf("expired", now - year, now - timedelta(days=2)),
               expiring=leaf("expiring", now - timedelta(days=1), now + timedelta(days=5)),
               wrong_host=leaf("wrong-host", now - timedelta(days=1), now + year,
                               (("other.example",), ("192.0.2.7",))),
               self_signed=leaf("self-signed", now - timedelta(days=1), now + year, self_signed=True))


def issue(directory: Path, name: str, *, dns: tuple[str, ...] = (), ips: tuple[str, ...] = ()) -> Cert:
    """A self-signed certificate with exactly these subjectAltNames (written as given, not validated)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build(name, name, key, key, ca=False, start=now - timedelta(days=1), end=now + timedelta(days=90),
                  dns=dns, ips=ips)
    return _write(directory, name, cert, key)


class _Listener:
    """A loopback listener answering each connection in its own thread until stopped."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.connections = 0

    @property
    def port(self) -> int:
        return self._port

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._guarded, args=(conn,), daemon=True).start()

    def _guarded(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            self.serve(conn)
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            conn.close()

    def serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


class TlsServer(_Listener):
    """A real TLS server: ``versions`` (minimum, maximum) and an OpenSSL cipher string."""

    def __init__(self, cert: Cert, *, minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2,
                 maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED, ciphers: str | None = None) -> None:
        import warnings

        super().__init__()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.context.minimum_version, self.context.maximum_version = minimum, maximum
        if ciphers:
            self.context.set_ciphers(ciphers)
        self.context.load_cert_chain(str(cert.cert), str(cert.key))

    def serve(self, conn: socket.socket) -> None:
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(1)  # until the client closes


class HelloResponder(_Listener):
    """Answers a ClientHello with a ServerHello when its version is in ``versions`` and it offers a suite in
    ``suites`` (the first one offered), else with a fatal alert; never completes a handshake."""

    def __init__(self, versions: set[int], suites: set[int]) -> None:
        super().__init__()
        self.versions, self.suites = versions, suites

    def serve(self, conn: socket.socket) -> None:
        header = conn.recv(5, socket.MSG_WAITALL)
        body = conn.recv(struct.unpack("!H", header[3:5])[0], socket.MSG_WAITALL)
        version = struct.unpack("!H", body[4:6])[0]
        sid = body[38]
        at = 39 + sid
        length = struct.unpack("!H", body[at:at + 2])[0]
        offered = [struct.unpack("!H", body[i:i + 2])[0] for i in range(at + 2, at + 2 + length, 2)]
        chosen = next((s for s in offered if s in self.suites), None)
        if version not in self.versions:
            conn.sendall(b"\x15\x03\x01\x00\x02\x02\x46")  # fatal protocol_version
        elif chosen is None:
            conn.sendall(b"\x15" + struct.pack("!H", version) + b"\x00\x02\x02\x28")  # fatal handshake_failure
        else:
            hello = struct.pack("!H", version) + bytes(32) + b"\x00" + struct.pack("!H", chosen) + b"\x00"
            message = b"\x02" + struct.pack("!I", len(hello))[1:] + hello
            conn.sendall(b"\x16" + struct.pack("!HH", version, len(message)) + message)


class NotTls(_Listener):
    """Answers anything with an HTTP error line: a service that is not TLS."""

    def serve(self, conn: socket.socket) -> None:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

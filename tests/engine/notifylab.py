"""Real servers for the notification tests, started on 127.0.0.1 with ephemeral ports: a test CA and its server
certificate, a small SMTP server (EHLO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA) written on sockets, and an
HTTP(S) receiver that keeps every request."""
from __future__ import annotations

import base64
import datetime
import http.server
import ipaddress
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class LabCA:
    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx


def make_ca(directory: Path) -> LabCA:
    """A CA and a certificate for 127.0.0.1 and localhost signed by it (valid for a day)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gxpscan test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    out = LabCA(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    out.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return out


# --- SMTP --------------------------------------------------------------------------------------------------------

@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes
    tls: bool
    auth: tuple[str, str] | None  # (user, password) as the server saw them


@dataclass
class SMTPServer:
    """``with SMTPServer(ca, user=..., password=...) as smtp:`` listens on ``smtp.port``. ``offer_starttls=False``
    plays a server without STARTTLS; ``reject_auth`` fails every login (535)."""

    ca: LabCA | None
    user: str = ""
    password: str = ""
    offer_starttls: bool = True
    reject_auth: bool = False
    mails: list[Mail] = field(default_factory=list)
    transcript: list[bytes] = field(default_factory=list)  # every line the client sent, in clear or in TLS
    port: int = 0

    def __enter__(self) -> SMTPServer:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            try:
                self._session(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def _session(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        io = conn.makefile("rwb")
        tls, auth, sender = False, None, ""
        rcpts: list[str] = []

        def say(line: str) -> None:
            io.write(line.encode() + b"\r\n")
            io.flush()

        def read() -> bytes:
            line = io.readline(65536)
            self.transcript.append(line)
            return line.rstrip(b"\r\n")

        say("220 gxpscan-test ESMTP")
        while True:
            line = read()
            verb = line.split(b" ", 1)[0].upper()
            arg = line[len(verb) + 1:].decode()
            if verb in (b"EHLO", b"HELO"):
                caps = ["250-gxpscan-test"]
                if self.offer_starttls and not tls:
                    caps.append("250-STARTTLS")
                if tls or not self.offer_starttls:
                    caps.append("250-AUTH PLAIN LOGIN")
                say("\r\n".join([*caps, "250 8BITMIME"]))
            elif verb == b"STARTTLS" and self.offer_starttls and self.ca is not None:
                say("220 go ahead")
                conn = self.ca.server_context().wrap_socket(conn, server_side=True)
                io = conn.makefile("rwb")
                tls = True
            elif verb == b"AUTH":
                parts = arg.split()
                if parts[0].upper() == "PLAIN":
                    if len(parts) > 1:
                        blob = parts[1]
                    else:
                        say("334 ")
                        blob = read().decode()
                    _, user, password = base64.b64decode(blob).decode().split("\0")
                else:
                    say("334 VXNlcm5hbWU6")
                    user = base64.b64decode(read()).decode()
                    say("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(read()).decode()
                if self.reject_auth or (user, password) != (self.user, self.password):
                    say("535 5.7.8 authentication failed")
                else:
                    auth = (user, password)
                    say("235 ok")
            elif verb == b"MAIL":
                if self.user and auth is None:
                    say("530 authentication required")
                    continue
                sender, rcpts = arg.split(":", 1)[1].strip("<> "), []
                say("250 ok")
            elif verb == b"RCPT":
                rcpts.append(arg.split(":", 1)[1].strip("<> "))
                say("250 ok")
            elif verb == b"DATA":
                say("354 end with .")
                body = []
                while True:
                    chunk = io.readline(1 << 20)
                    if chunk in (b".\r\n", b""):
                        break
                    body.append(chunk)
                self.mails.append(Mail(sender, rcpts, b"".join(body), tls, auth))
                say("250 queued")
            elif verb == b"QUIT":
                say("221 bye")
                return
            elif verb == b"RSET" or verb == b"NOOP":
                say("250 ok")
            elif not line:
                return
            else:
                say("502 not implemented")


# --- HTTP(S) -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


class HTTPReceiver:
    """``with HTTPReceiver(ca=...) as rx:`` a threaded receiver on ``rx.url``; answers ``status`` to POSTs."""

    def __init__(self, ca: LabCA | None = None, status: int = 200):
        self.ca, self.status = ca, status
        self.requests: list[Request] = []

    def __enter__(self) -> HTTPReceiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                length = int(self.headers.get("Content-Length", "0"))
                receiver.requests.append(Request(self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(receiver.status)
                if 300 <= receiver.status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        if self.ca is not None:
            self.server.socket = self.ca.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if self.ca else 'http'}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

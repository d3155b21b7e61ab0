"""One port that speaks HTTPS and plain HTTP in front of an HTTP server, as S3's endpoints do.

moto's server speaks one scheme per port; the S3 plain-HTTP challenge needs the same endpoint over both. The front
peeks at each connection's first byte: a TLS handshake (0x16) is terminated with a certificate made here for
127.0.0.1 (its own CA, written to ``ca_path`` for botocore's ``AWS_CA_BUNDLE``), anything else is passed on as is.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import select
import socket
import ssl
import threading
from dataclasses import dataclass

TLS_HANDSHAKE = 0x16


def _self_signed(directory: str) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gxpscan lab s3 front")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(directory, "front.pem"), os.path.join(directory, "front.key")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class DualFront:
    backend: tuple[str, int]
    directory: str
    port: int = 0
    ca_path: str = ""
    _sock: socket.socket | None = None

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> DualFront:
        self.ca_path, key_path = _self_signed(self.directory)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(self.ca_path, key_path)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _accept(self) -> None:
        while self._sock is not None:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            first = conn.recv(1, socket.MSG_PEEK)
            client: socket.socket = self._context.wrap_socket(conn, server_side=True) if (
                first and first[0] == TLS_HANDSHAKE) else conn
            with socket.create_connection(self.backend, timeout=10) as upstream:
                _relay(client, upstream)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    """Copy both ways in one thread (an SSL socket must not be read and written from two threads) until either
    side closes."""
    while True:
        readable: list[socket.socket]
        if isinstance(client, ssl.SSLSocket) and client.pending():
            readable = [client]
        else:
            readable, _, _ = select.select([client, upstream], [], [], 10)
        if not readable:
            return
        for src in readable:
            data = src.recv(65536)
            if not data:
                return
            (upstream if src is client else client).sendall(data)

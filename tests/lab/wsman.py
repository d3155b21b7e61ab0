"""A WS-Management responder for the WinRM connector's tests: real HTTP(S), real NTLM, the WinRS shell operations.

No WS-Management server runs on Linux, so the tests bring their own: a standard-library HTTP/1.1 server that
speaks the shell operations pywinrm sends (Create, Command, Send, Receive, Signal, Delete; [MS-WSMV] 3.1.4),
authenticates NTLM as a real acceptor (pyspnego, the users in an ``NTLM_USER_FILE`` credential file) and, over
plain HTTP, unseals and seals every message the way Windows does (``multipart/encrypted``,
``application/HTTP-SPNEGO-session-encrypted``; [MS-WSMV] 2.2.9.1.1). Over HTTPS it serves a certificate made by
the tests' CA and checks the client's channel binding (tls-server-end-point).

The script the client streams on stdin (Send, possibly in many chunks, the last with ``End="true"``) is decoded
and handed to ``reply(script) -> stdout bytes``; the next Receive returns that output with exit code 0. Fault modes
(``Fault``) make the server hang, flood, throw a SOAP fault, or answer slowly (operation-timeout faults first).
Every Authorization header is logged (``auth_headers``) and every operation counted (``ops["Command"]``) and
logged in order (``operations``).
"""
from __future__ import annotations

import base64
import enum
import http.server
import os
import re
import ssl
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import spnego

from tests.lab.slapdlab import CA, ServerCert

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "Create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "Delete",
    f"{SHELL_URI}/Command": "Command",
    f"{SHELL_URI}/Send": "Send",
    f"{SHELL_URI}/Receive": "Receive",
    f"{SHELL_URI}/Signal": "Signal",
}
ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
#: What Windows also accepts for Kerberos (the client's choice is echoed in the answer).
ENCRYPTED_KERBEROS = "application/HTTP-Kerberos-session-encrypted"
NTLM_SIGNATURE = b"NTLMSSP\x00"
ENCRYPTED_CREDSSP = "application/HTTP-CredSSP-session-encrypted"
SEALINGS = (ENCRYPTED, ENCRYPTED_KERBEROS, ENCRYPTED_CREDSSP)
BOUNDARY = b"--Encrypted Boundary"
#: The WS-Man fault code Windows returns when a Receive waited OperationTimeout without output.
OPERATION_TIMEOUT_CODE = 2150858793
FLOOD_CHUNK = 256 * 1024
RECEIVED_LIMIT = 16 * 1024 * 1024
OPERATIONS_LIMIT = 10_000


class Fault(enum.Enum):
    NONE = "none"
    HANG = "hang"  # once the shell is open, Receive, Signal and Delete never answer (until the responder stops)
    FLOOD = "flood"  # Receive answers stdout chunks forever, the command never ends
    THROW = "throw"  # Command answers a SOAP fault (access denied)
    SLOW = "slow"  # Receive answers operation-timeout faults for ``delay`` seconds, then the output
    HANG_CREATE = "hang-create"  # authenticates, then never answers the Create of a shell


_USER_FILE_LOCK = threading.Lock()
_USERS: dict[str, str] = {}


def _register_users(users: dict[str, str], directory: Path) -> None:
    """pyspnego's acceptor reads its users from the file named by NTLM_USER_FILE (one per process), so every
    responder of the process adds its users to one shared file. A user cannot have two passwords."""
    with _USER_FILE_LOCK:
        for user, password in users.items():
            if _USERS.get(user.lower(), password) != password:
                raise ValueError(f"user {user} already has another password in this process")
            _USERS[user.lower()] = password
        path = Path(os.environ.get("NTLM_USER_FILE") or directory / "ntlm-users")
        lines = []
        for user, password in sorted(_USERS.items()):
            domain, _, name = user.rpartition("\\")
            lines.append(f"{domain}:{name}:{password}\n")
        path.write_text("".join(lines))
        os.environ["NTLM_USER_FILE"] = str(path)


def _envelope(body: str, header: str = "") -> bytes:
    return (f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" xmlns:rsp="{NS["rsp"]}" '
            f'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer">'
            f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>").encode()


def _fault(code: int, reason: str) -> bytes:
    return _envelope(
        '<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code>'
        f'<s:Reason><s:Text xml:lang="en-US">{reason}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{code}">'
        f"<f:Message>{reason}</f:Message></f:WSManFault></s:Detail></s:Fault>")


class _Command:
    def __init__(self, command_line: str) -> None:
        self.command_line = command_line
        self.stdin = bytearray()
        self.sent = False  # a Send arrived: the command reads stdin until End
        self.ended = False
        self.started = time.monotonic()
        self.done = False


class WSManResponder:
    """Start with ``with WSManResponder(reply, tls=..., users=...) as r:``; the client talks to ``r.url``."""

    def __init__(self, reply: Callable[[str], bytes], *, tls: bool, users: dict[str, str],
                 directory: Path, ca: CA | None = None, cert: ServerCert | None = None,
                 fault: Fault = Fault.NONE, delay: float = 0.0, basic: bool = False,
                 host: str = "127.0.0.1", port: int = 0, kerberos: tuple[str, frozenset[str]] | None = None,
                 credssp: bool = False) -> None:
        if tls and (ca is None or cert is None):
            raise ValueError("a TLS responder needs the CA and its server certificate")
        self.reply, self.tls, self.users, self.fault, self.delay = reply, tls, dict(users), fault, delay
        self.basic = basic
        #: (host name of the SPN HTTP/<host>, principals allowed in): a Kerberos acceptor with the service key
        #: from the keytab KRB5_KTNAME names; None: Kerberos tokens are refused
        self.kerberos = kerberos
        #: CredSSP (offered in the first challenge): TLS inside the HTTP exchange, NTLM inside that (the users),
        #: then the client delegates its credential; pyspnego's acceptor
        self.credssp = credssp
        self.delegated: list[str] = []  # DOMAIN\user of each credential a CredSSP client delegated (no password)
        self.authenticated_as: list[str] = []  # the client principal of every completed authentication
        self.cert = cert
        self.auth_headers: list[str] = []
        self.received = bytearray()  # every request body as it arrived on the wire (bounded)
        self.ops: Counter[str] = Counter()
        self.operations: list[str] = []  # every operation in the order it arrived (bounded)
        self.scripts: list[str] = []
        self.command_lines: list[str] = []
        self.shells: set[str] = set()
        self.deleted: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        _register_users(users, directory)
        context = None
        if tls and cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert.cert), str(cert.key))
            self._cert_der = ssl.PEM_cert_to_DER_cert(cert.cert.read_text())
        self._server = _Server((host, port), _handler(self), context)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/wsman"

    def start(self) -> WSManResponder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WSManResponder:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def channel_bindings(self) -> spnego.channel_bindings.GssChannelBindings | None:
        """tls-server-end-point (RFC 5929) of our certificate: what an NTLM client over HTTPS binds to."""
        if not self.tls:
            return None
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        cert = x509.load_der_x509_certificate(self._cert_der)
        algorithm = cert.signature_hash_algorithm
        if algorithm is None or algorithm.name in ("md5", "sha1"):
            algorithm = hashes.SHA256()
        digest = hashes.Hash(algorithm)
        digest.update(self._cert_der)
        return spnego.channel_bindings.GssChannelBindings(
            application_data=b"tls-server-end-point:" + digest.finalize())

    # ---- the shell operations --------------------------------------------------------------
    def operate(self, message: bytes, commands: dict[str, _Command]) -> tuple[int, bytes]:
        root = ET.fromstring(message)
        action = root.findtext("s:Header/a:Action", "", NS).strip()
        message_id = root.findtext("s:Header/a:MessageID", "", NS).strip()
        op = ACTIONS.get(action, action)
        with self.lock:
            self.ops[op] += 1
            if len(self.operations) < OPERATIONS_LIMIT:
                self.operations.append(op)
        relates = f"<a:RelatesTo>{message_id}</a:RelatesTo>"
        body = root.find("s:Body", NS)
        if op == "Create" and self.fault is Fault.HANG_CREATE:
            self.stopping.wait()
            return 500, _fault(1, "stopping")
        if op == "Create":
            shell = str(uuid.uuid4()).upper()
            with self.lock:
                self.shells.add(shell)
            return 200, _envelope(
                '<x:ResourceCreated><a:Address>x</a:Address><a:ReferenceParameters><w:SelectorSet>'
                f'<w:Selector Name="ShellId">{shell}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
                "</x:ResourceCreated>", relates)
        if op == "Command":
            if self.fault is Fault.THROW:
                return 500, _fault(5, "Access is denied.")
            line = root.find(".//rsp:CommandLine", NS)
            text = " ".join(filter(None, [line.findtext("rsp:Command", "", NS) if line is not None else "",
                                          line.findtext("rsp:Arguments", "", NS) if line is not None else ""]))
            command_id = str(uuid.uuid4()).upper()
            commands[command_id] = _Command(text)
            with self.lock:
                self.command_lines.append(text)
            return 200, _envelope(f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId>"
                                  "</rsp:CommandResponse>", relates)
        if op == "Send":
            stream = body.find(".//rsp:Stream", NS) if body is not None else None
            cmd = commands.get(stream.get("CommandId", "") if stream is not None else "")
            if cmd is None or stream is None:
                return 500, _fault(87, "unknown command")
            cmd.sent = True
            cmd.stdin += base64.b64decode(stream.text or "")
            cmd.ended = stream.get("End", "false").lower() == "true"
            return 200, _envelope("<rsp:SendResponse/>", relates)
        if op == "Receive":
            stream = body.find(".//rsp:DesiredStream", NS) if body is not None else None
            command_id = stream.get("CommandId", "") if stream is not None else ""
            cmd = commands.get(command_id)
            if cmd is None:
                return 500, _fault(87, "unknown command")
            return self._receive(command_id, cmd, relates)
        if op in ("Signal", "Delete"):
            if self.fault is Fault.HANG:
                self.stopping.wait()
                return 500, _fault(1, "stopping")
            if op == "Delete":
                with self.lock:
                    self.deleted.append(root.findtext(".//w:Selector", "", NS))
            return 200, _envelope(f"<rsp:{op}Response/>", relates)
        return 500, _fault(1, f"unsupported action {action}")

    def _receive(self, command_id: str, cmd: _Command, relates: str) -> tuple[int, bytes]:
        def stream(data: bytes, done: bool) -> bytes:
            out = f'<rsp:Stream Name="stdout" CommandId="{command_id}">{base64.b64encode(data).decode()}</rsp:Stream>'
            state = "Done" if done else "Running"
            code = "<rsp:ExitCode>0</rsp:ExitCode>" if done else ""
            return _envelope(f"<rsp:ReceiveResponse>{out}<rsp:CommandState CommandId=\"{command_id}\" "
                             f'State="{SHELL_URI}/CommandState/{state}">{code}</rsp:CommandState>'
                             "</rsp:ReceiveResponse>", relates)

        if self.fault is Fault.HANG:
            self.stopping.wait()
            return 500, _fault(1, "stopping")
        if self.fault is Fault.FLOOD:
            return 200, stream(b"F" * FLOOD_CHUNK, False)
        if self.fault is Fault.SLOW and time.monotonic() - cmd.started < self.delay:
            time.sleep(min(0.2, self.delay))
            return 500, _fault(OPERATION_TIMEOUT_CODE, "The WS-Management service cannot complete the operation "
                                                       "within the time specified in OperationTimeout.")
        if cmd.sent and not cmd.ended:
            return 500, _fault(OPERATION_TIMEOUT_CODE, "stdin not ended")
        if cmd.done:
            return 200, stream(b"", True)
        cmd.done = True
        script = decode_stdin(bytes(cmd.stdin))
        with self.lock:
            self.scripts.append(script)
        return 200, stream(self.reply(script), True)


class _Server(http.server.ThreadingHTTPServer):
    """One thread per connection; the TLS handshake happens in that thread, not in the accepting one."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[http.server.BaseHTTPRequestHandler],
                 context: ssl.SSLContext | None) -> None:
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            if self.context is not None:
                request = self.context.wrap_socket(request, server_side=True)
            super().finish_request(request, client_address)
        except (ssl.SSLError, OSError):
            pass  # a client that refused our certificate, or went away
        finally:
            request.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def decode_stdin(data: bytes) -> str:
    """The shell was opened with code page 65001: the script arrives as UTF-8."""
    return data.decode("utf-8", "replace")


def _handler(responder: WSManResponder) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # NTLM authenticates the connection: keep it alive
        # headers and body go out as two writes: without TCP_NODELAY the body waits for the client's delayed ACK
        # (~40 ms per operation), a stall of this test server that no Windows host has
        disable_nagle_algorithm = True

        def setup(self) -> None:
            super().setup()
            self.context: Any = None  # the NTLM or Kerberos acceptor of this connection
            self.authenticated = False
            self.mutual: str | None = None  # a WWW-Authenticate value owed to the client with the next answer
            self.scheme = "Negotiate"  # of the exchange in progress on this connection
            self.sealing = ENCRYPTED  # the encrypted content type the client used (answers use the same)
            self.commands: dict[str, _Command] = {}

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            if self.mutual is not None and status != 401:
                self.send_header("WWW-Authenticate", self.mutual)
                self.mutual = None
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _challenge(self, token: bytes | None = None) -> None:
            value = self.scheme + (f" {base64.b64encode(token).decode()}" if token else "")
            if token is None and responder.credssp:
                value = "Negotiate, CredSSP"
            schemes = {"WWW-Authenticate": value}
            if responder.basic and token is None:
                schemes = {"WWW-Authenticate": 'Basic realm="WSMAN"'}
            self._send(401, b"", schemes)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with responder.lock:
                responder.received += body[: max(0, RECEIVED_LIMIT - len(responder.received))]
            header = self.headers.get("Authorization")
            if header is not None:
                with responder.lock:
                    responder.auth_headers.append(header)
                if not self._authenticate(header):
                    return
            elif not self.authenticated:
                self._challenge()
                return
            message = body
            content_type = self.headers.get("Content-Type") or ""
            if "multipart/encrypted" in content_type or "multipart/x-multi-encrypted" in content_type:
                self.sealing = next((p for p in SEALINGS if f'protocol="{p}"' in content_type), ENCRYPTED)
                message = self._unseal(body)
            elif body and not responder.tls:  # Windows refuses unsealed messages over HTTP
                self._send(400, b"")
                return
            if not message:
                self._send(200, b"")
                return
            status, answer = responder.operate(message, self.commands)
            if responder.tls:
                self._send(status, answer, {"Content-Type": "application/soap+xml;charset=UTF-8"})
            else:
                self._send(status, self._seal(answer), {
                    "Content-Type": f'multipart/encrypted;protocol="{self.sealing}";boundary="Encrypted Boundary"'})

        def _authenticate(self, header: str) -> bool:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "basic":
                user, _, password = base64.b64decode(value).decode("utf-8", "replace").partition(":")
                self.authenticated = responder.basic and responder.users.get(user) == password
                if not self.authenticated:
                    self._send(401, b"")
                return self.authenticated
            if scheme.lower() not in ("negotiate", "ntlm", "credssp"):
                self._send(401, b"")
                return False
            token = base64.b64decode(value)
            allowed = {u.lower() for u in responder.users}
            if scheme.lower() == "credssp":
                if not responder.credssp:
                    self.context = None
                elif self.scheme != "CredSSP" or self.authenticated or self.context is None:
                    self.authenticated = False  # a new exchange: its first token is the TLS ClientHello
                    self.context = spnego.server(protocol="credssp")
                self.scheme = "CredSSP"
            elif token.startswith(NTLM_SIGNATURE) and token[8:12] == b"\x01\x00\x00\x00":
                # NTLM NEGOTIATE_MESSAGE: a new exchange on this connection
                self.authenticated, self.scheme = False, "Negotiate"
                self.context = spnego.server(protocol="ntlm", channel_bindings=responder.channel_bindings())
            elif not token.startswith(NTLM_SIGNATURE):  # a Kerberos AP-REQ (GSS-API framed): one leg
                self.authenticated, self.scheme = False, "Negotiate"
                self.context = None
                if responder.kerberos is not None:
                    host, principals = responder.kerberos
                    allowed = {p.lower() for p in principals}
                    self.context = spnego.server(protocol="kerberos", hostname=host, service="HTTP",
                                                 channel_bindings=responder.channel_bindings())
            if self.context is None:
                self._send(401, b"")
                return False
            try:
                out = self.context.step(token)
            except (spnego.exceptions.SpnegoError, AttributeError):
                # AttributeError: pyspnego 0.12 reading the flags of a Kerberos context that GSS-API refused to
                # establish (a channel binding that does not match) instead of raising the GSS-API error
                self.context = None
                self._send(401, b"")  # wrong password (or bindings): no further token
                return False
            if not self.context.complete:
                self._challenge(out)
                return False
            user = str(self.context.client_principal or "")
            self.authenticated = user.lower() in allowed
            if not self.authenticated:
                self._send(401, b"")
                return False
            if self.scheme == "CredSSP":
                credential = self.context.get_extra_info("client_credential")
                delegated = f"{credential.domain_name}\\{credential.username}"
                if delegated.lower() != user.lower():  # Windows logs the delegated user on: it must be the same
                    self.authenticated = False
                    self._send(401, b"")
                    return False
                with responder.lock:
                    responder.delegated.append(delegated)
            with responder.lock:
                responder.authenticated_as.append(user)
            if out:  # Kerberos mutual authentication: the AP-REP goes back with the answer to this request
                self.mutual = f"{self.scheme} " + base64.b64encode(out).decode()
            return True

        def _unseal(self, body: bytes) -> bytes:
            parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
            message = b""
            for header, payload in zip(parts[0::2], parts[1::2], strict=False):
                length = int(re.search(rb"Length=(\d+)", header).group(1))  # type: ignore[union-attr]
                payload = payload.removesuffix(BOUNDARY + b"--\r\n")
                data = payload.replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
                size = struct.unpack("<i", data[:4])[0]
                signature, sealed = data[4:4 + size], data[4 + size:]
                plain = self.context.unwrap_winrm(signature, sealed)  # NTLM, Kerberos or CredSSP: [MS-WSMV] 2.2.9.1
                if len(plain) != length:
                    raise ValueError("sealed message length does not match")
                message += plain
            return message

        def _seal(self, message: bytes) -> bytes:
            wrapped = self.context.wrap_winrm(message)
            signature, sealed = bytes(wrapped.header), bytes(wrapped.data)
            return (BOUNDARY + b"\r\n\tContent-Type: " + self.sealing.encode() + b"\r\n"
                    b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                    + str(len(message)).encode() + b"\r\n" + BOUNDARY + b"\r\n"
                    b"\tContent-Type: application/octet-stream\r\n" + struct.pack("<i", len(signature)) + signature
                    + sealed + BOUNDARY + b"--\r\n")

    return Handler


def echo_reply(script: str) -> bytes:
    """The trivial reply: how many characters of script arrived, and its first line."""
    first = script.split("\n", 1)[0]
    return f"received {len(script)} chars: {first}\n".encode()

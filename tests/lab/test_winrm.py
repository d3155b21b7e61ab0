"""The WinRM connector against the WS-Management responder (tests/lab/wsman.py): real pywinrm, real NTLM.

Nothing here runs Windows: the responder is the substitute (real HTTPS with a CA these tests make, real NTLM with
message encryption over HTTP, the WinRS shell operations pywinrm sends). The opt-in suite for a real Windows host is
tests/lab/test_winrm_real.py.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import os
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.connectors import ConnectorError
from scanner.connectors.winrm import BOOTSTRAP, SEND_CHUNK, WinRMConnector
from scanner.model import Platform, Target, freeze
from tests.lab.slapdlab import CA, ServerCert, issue_cert, make_ca
from tests.lab.wsman import Fault, WSManResponder, echo_reply

USER = "LAB\\gxpscan-svc"
PASSWORD = "Winrm-Planted-S3cret-41c9"  # planted: no output may contain it
PASSWORD_ENV = "GXPSCAN_TEST_WINRM_PASSWORD"


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca: CA
    cert: ServerCert  # issued by ca for localhost / 127.0.0.1
    rogue_ca: CA
    rogue: ServerCert  # the same names, issued by a CA nobody trusts


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("winrm-pki")
    ca, rogue_ca = make_ca(d / "ca"), make_ca(d / "rogue-ca", name="rogue CA")
    return Pki(d, ca, issue_cert(ca, d / "good", "win", ("localhost",), ("127.0.0.1",)),
               rogue_ca, issue_cert(rogue_ca, d / "rogue", "win-rogue", ("localhost",), ("127.0.0.1",)))


@pytest.fixture(autouse=True)
def password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def responder(pki: Pki, *, tls: bool = True, rogue: bool = False, reply: Any = echo_reply,
              **kwargs: Any) -> WSManResponder:
    return WSManResponder(reply, tls=tls, users={USER: PASSWORD}, directory=pki.directory, ca=pki.ca,
                          cert=pki.rogue if rogue else pki.cert, **kwargs)


def target(r: WSManResponder, **options: Any) -> Target:
    base: dict[str, Any] = {"host": r.host, "port": r.port, "user": USER, "password_env": PASSWORD_ENV}
    base["scheme"] = "https" if r.tls else "http"
    if not r.tls:
        base["allow_plaintext"] = True
    return Target(name="win-01", type=Platform.WINDOWS, options=freeze({**base, **options}), policy=freeze({}))


def der_sha256(cert: ServerCert) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(cert.cert.read_text())).hexdigest()


def script_of(size: int) -> str:
    """A script with non-ASCII text, longer than a command line (8191) and than one Send chunk."""
    line = "Write-Output 'Größe / サイズ'\n"
    return (line * (size // len(line.encode()) + 1))


@pytest.mark.parametrize(("tls", "protection"), [(True, "https+ntlm"), (False, "http+ntlm-sealed")])
def test_one_command_streams_the_whole_script_and_returns_raw_bytes(pki: Pki, tls: bool, protection: str) -> None:
    script = script_of(SEND_CHUNK * 2 + 100)
    answer = b"\xff\xfe not UTF-8 \x80\n" + "ä".encode("cp1252")
    with responder(pki, tls=tls, reply=lambda s: answer) as r:
        options = {"ca_file": str(pki.ca.cert)} if tls else {}
        with WinRMConnector(target(r, **options)) as conn:
            result = conn.run(script, timeout=30)
            assert conn.protection == protection
        assert (result.exit_code, result.stdout, result.truncated, result.timed_out) == (0, answer, False, False)
        assert r.scripts == [script]
        assert r.ops["Command"] == 1 and r.ops["Create"] == 1 and r.ops["Delete"] == 1
        assert r.ops["Send"] == 3  # 2 full chunks and the rest, the last flagged End
        line = r.command_lines[0].split()
        assert line[:7] == ["powershell.exe", "-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy",
                            "Bypass", "-EncodedCommand"]
        assert base64.b64decode(line[7]).decode("utf-16-le") == BOOTSTRAP
        assert all(h.startswith("Negotiate ") for h in r.auth_headers)
        marker = b"Write-Output"
        if tls:
            assert b"powershell.exe" in r.received  # TLS protects it; the responder sees the plain message
        else:
            assert marker not in r.received and b"powershell.exe" not in r.received  # sealed on the wire
            assert b"application/HTTP-SPNEGO-session-encrypted" in r.received


def test_a_finished_command_is_acknowledged_by_the_next_command_or_the_shells_delete(pki: Pki) -> None:
    """[MS-WSMV]: the terminate Signal acknowledges a command's output before a NEW command; the Delete of the shell
    releases the rest. One command per host: no Signal, one round trip less."""
    with responder(pki) as r:
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert))) as conn:
            assert conn.run("Write-Output 1", timeout=30).exit_code == 0
        assert r.operations == ["Create", "Command", "Send", "Receive", "Delete"]
    with responder(pki) as r:
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert))) as conn:
            first, second = conn.run("Write-Output 1", timeout=30), conn.run("Write-Output 2", timeout=30)
        assert (first.exit_code, second.exit_code) == (0, 0)
        assert r.operations == ["Create", "Command", "Send", "Receive", "Signal", "Command", "Send", "Receive",
                                "Delete"]


@pytest.mark.parametrize("trust", ["ca_file", "system store"])
def test_untrusted_certificate_is_refused_before_any_credential(pki: Pki, trust: str) -> None:
    with responder(pki, rogue=True) as r:
        options = {"ca_file": str(pki.ca.cert)} if trust == "ca_file" else {}
        with pytest.raises(ConnectorError) as info:
            WinRMConnector(target(r, **options)).__enter__()
        message = str(info.value)
        assert "not trusted" in message and "subject CN=localhost" in message
        assert f"SHA-256 {der_sha256(pki.rogue)}" in message and "no credential was sent" in message
        assert r.auth_headers == [] and sum(r.ops.values()) == 0 and r.received == b""


def test_pinned_certificate_is_accepted_and_a_mismatch_refused(pki: Pki) -> None:
    pin = der_sha256(pki.rogue)
    with responder(pki, rogue=True) as r:
        colons = ":".join(pin[i:i + 2] for i in range(0, 64, 2)).upper()
        with WinRMConnector(target(r, cert_fingerprint=colons)) as conn:
            assert conn.run("Get-Date", timeout=20).exit_code == 0
            assert conn.fingerprint == pin
        assert r.ops["Command"] == 1
    with responder(pki) as r:  # a different certificate than the pinned one
        with pytest.raises(ConnectorError) as info:
            WinRMConnector(target(r, cert_fingerprint=pin)).__enter__()
        assert f"does not match cert_fingerprint {pin}" in str(info.value)
        assert f"SHA-256 {der_sha256(pki.cert)}" in str(info.value)
        assert r.auth_headers == [] and r.received == b""


def test_wrong_password_is_an_authentication_error_without_the_password(pki: Pki,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "Not-The-Password-9")
    with responder(pki) as r:
        with pytest.raises(ConnectorError) as info:
            WinRMConnector(target(r, ca_file=str(pki.ca.cert))).__enter__()
    assert str(info.value) == (f"authentication failed for {USER} at {r.url} (ntlm): the server rejected the "
                               "credentials")
    assert len(r.auth_headers) == 2  # NEGOTIATE and one AUTHENTICATE: one failed attempt, no retry
    assert r.ops["Create"] == 0


@pytest.mark.parametrize(("options", "fault"), [
    ({"scheme": "http"}, "refused without allow_plaintext: true"),
    ({"scheme": "http", "allow_plaintext": True, "auth": "basic"}, "Basic authentication over plain HTTP is refused"),
])
def test_plaintext_is_refused_before_connecting(pki: Pki, options: dict[str, Any], fault: str) -> None:
    with responder(pki, tls=False, basic=True) as r:
        t = Target(name="win-01", type=Platform.WINDOWS, policy=freeze({}), options=freeze(
            {"host": r.host, "port": r.port, "user": USER, "password_env": PASSWORD_ENV, **options}))
        with pytest.raises(ConnectorError, match=fault):
            with WinRMConnector(t):
                pass
        assert r.received == b"" and r.auth_headers == []


def test_a_hanging_host_times_out_and_the_others_go_on(pki: Pki) -> None:
    with responder(pki, fault=Fault.HANG) as hung, responder(pki) as good:
        def one(r: WSManResponder) -> tuple[Any, float]:
            start = time.monotonic()
            with WinRMConnector(target(r, ca_file=str(pki.ca.cert), operation_timeout=1, host_timeout=3)) as conn:
                result = conn.run("Get-Date", timeout=60)
            return result, time.monotonic() - start  # ending the command and the shell included

        with ThreadPoolExecutor(2) as pool:
            (slow, slow_s), (fast, _) = pool.map(one, [hung, good])
        assert hung.ops["Signal"] == 1 and hung.ops["Delete"] == 1  # tried, each cut at 1 s past the host timeout
    assert (slow.exit_code, slow.timed_out) == (None, True) and 3 <= slow_s < 9
    assert (fast.exit_code, fast.stdout) == (0, b"received 8 chars: Get-Date\n")


def test_host_timeout_bounds_every_command(pki: Pki) -> None:
    with responder(pki, fault=Fault.HANG) as r:
        start = time.monotonic()
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert), host_timeout=2, operation_timeout=1)) as conn:
            first = conn.run("Get-Date", timeout=60)
            second = conn.run("Get-Date", timeout=60)
    assert first.timed_out and second.timed_out and second.stderr.startswith(b"host timeout exceeded")
    assert time.monotonic() - start < 12


def test_a_host_that_never_opens_the_shell_is_a_connector_error_within_the_host_timeout(pki: Pki) -> None:
    with responder(pki, fault=Fault.HANG_CREATE) as r:
        start = time.monotonic()
        with pytest.raises(ConnectorError, match="did not answer while opening the shell: timed out"):
            WinRMConnector(target(r, ca_file=str(pki.ca.cert), host_timeout=2)).__enter__()
        assert time.monotonic() - start < 8 and r.ops["Create"] == 1


def test_an_output_flood_is_cut_at_the_limit(pki: Pki) -> None:
    with responder(pki, fault=Fault.FLOOD) as r:
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert))) as conn:
            result = conn.run("Get-Date", timeout=30, limit=1_000_000)
        assert (result.truncated, len(result.stdout), result.exit_code) == (True, 1_000_000, None)
        assert r.ops["Receive"] == 4 and r.ops["Signal"] == 1  # stopped reading, told the host to end it


def test_slow_output_is_waited_for_across_operation_timeouts(pki: Pki) -> None:
    with responder(pki, fault=Fault.SLOW, delay=1.5) as r:
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert), operation_timeout=1)) as conn:
            result = conn.run("Get-Date", timeout=30)
        assert result.exit_code == 0 and result.stdout.startswith(b"received") and r.ops["Receive"] > 2


def test_a_soap_fault_is_a_connector_error_with_the_reason_escaped(pki: Pki) -> None:
    with responder(pki, fault=Fault.THROW) as r:
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert))) as conn:
            with pytest.raises(ConnectorError, match=r"WS-Management fault: Access is denied\. \(code 5\)"):
                conn.run("Get-Date", timeout=30)


def test_become_is_refused(pki: Pki) -> None:
    with responder(pki) as r:
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert))) as conn:
            with pytest.raises(ConnectorError, match="become is not supported on Windows"):
                conn.run("Get-Date", timeout=10, become=True)
        assert r.ops["Command"] == 0


def test_the_planted_password_reaches_no_output(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for fault in (Fault.NONE, Fault.THROW, Fault.HANG):
        with responder(pki, fault=fault) as r:
            try:
                with WinRMConnector(target(r, ca_file=str(pki.ca.cert), operation_timeout=1)) as conn:
                    result = conn.run("Get-Date", timeout=2)
                    seen += [result.stdout.decode("latin-1"), result.stderr.decode("latin-1"), repr(result)]
            except ConnectorError as exc:
                seen += [str(exc), repr(exc)]
            seen += r.command_lines + r.scripts + [r.received.decode("latin-1")]
    seen.append(caplog.text)
    seen.append(Path("/proc/self/cmdline").read_bytes().decode("latin-1"))
    blob = "\n".join(seen)
    assert "Get-Date" in blob and PASSWORD not in blob
    assert PASSWORD.encode("utf-16-le").decode("latin-1") not in blob  # NTLM carries no password, in no encoding



@pytest.mark.parametrize("trust", ["pin", "ca_file"])
def test_every_later_connection_is_held_to_the_same_trust(pki: Pki, trust: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """pywinrm's session gets an adapter with the checked trust: a certificate swapped after the first handshake
    is refused, whatever requests' own bundle or REQUESTS_CA_BUNDLE would say."""
    import requests

    from scanner.connectors.winrm import _ssl_context, _trusting_adapter, endpoint

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.ca.cert))  # would trust the responder's certificate
    with responder(pki) as r:
        options = {"cert_fingerprint": der_sha256(pki.rogue)} if trust == "pin" else {"ca_file": str(pki.rogue_ca.cert)}
        ep = endpoint("win-01", target(r, **options).options)
        session = requests.Session()
        session.mount("https://", _trusting_adapter(_ssl_context(ep), ep.pin))
        with pytest.raises(requests.exceptions.SSLError):
            session.post(r.url, data=b"", timeout=10)
        plain = requests.Session()  # the same request without the adapter goes through: the adapter refused it
        assert plain.post(r.url, data=b"", timeout=10).status_code == 401
        assert r.auth_headers == [] and r.ops["Create"] == 0


@pytest.mark.parametrize("trust", ["pin", "ca_file"])
def test_a_host_costs_one_tls_handshake_the_checked_connection_carries_the_session(
        pki: Pki, trust: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection the certificate was checked on is pywinrm's first: no second TCP connection and handshake
    per host (about 2 ms of this machine's CPU and two round trips)."""
    handshakes: list[ssl.SSLContext] = []
    real = ssl.SSLContext.wrap_socket

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("server_side"):  # the responder runs in this process
            handshakes.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", counted)
    with responder(pki) as r:
        options = {"cert_fingerprint": der_sha256(pki.cert)} if trust == "pin" else {"ca_file": str(pki.ca.cert)}
        with WinRMConnector(target(r, **options)) as conn:
            assert conn.run("Write-Output 1", timeout=30).exit_code == 0
            assert conn.fingerprint == der_sha256(pki.cert) and len(handshakes) == 1
        assert len(handshakes) == 1 and handshakes[0] is conn._context and r.ops["Command"] == 1


def test_the_checked_connection_sends_without_nagle_delay_as_urllib3_connections_do(
        pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection the certificate is checked on carries every operation of the host, and urllib3 writes a
    request's headers and body in two sends: it has TCP_NODELAY like the connections urllib3 makes itself (without
    it each operation's body waited for the server's delayed ACK: 40 ms here, up to 200 ms on Windows)."""
    import socket

    from urllib3.connection import HTTPConnection

    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in HTTPConnection.default_socket_options
    nodelay: list[int] = []
    real = ssl.SSLContext.wrap_socket

    def seen(self: ssl.SSLContext, sock: socket.socket, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("server_side"):  # the responder runs in this process
            nodelay.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return real(self, sock, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "wrap_socket", seen)
    with responder(pki) as r:
        with WinRMConnector(target(r, ca_file=str(pki.ca.cert))) as conn:
            assert conn.run("Write-Output 1", timeout=30).exit_code == 0
        assert len(nodelay) == 1 and nodelay[0] != 0
        assert r.ops["Create"] == r.ops["Command"] == r.ops["Delete"] == 1


@pytest.mark.parametrize(("server_sends", "reusable"), [(None, True), (b"x", False), (b"", False)])
def test_a_checked_connection_is_reused_with_only_its_session_tickets_unread(
        pki: Pki, server_sends: bytes | None, reusable: bool) -> None:
    """A TLS 1.3 server sends session tickets after the handshake: unread, they make the connection readable,
    which urllib3 takes for its end. Tickets alone keep it usable; data nobody asked for, or the end, do not."""
    import socket
    import threading

    from urllib3.util.wait import wait_for_read

    from scanner.connectors.winrm import _only_tls_records

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(pki.cert.cert, pki.cert.key)
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with server_context.wrap_socket(conn, server_side=True) as tls:
            if server_sends:
                tls.sendall(server_sends)
            if server_sends == b"":
                tls.shutdown(socket.SHUT_RDWR)  # the end of the connection
            done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client_context = ssl.create_default_context(cafile=str(pki.ca.cert))
        with client_context.wrap_socket(socket.create_connection(listener.getsockname(), timeout=10),
                                        server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.3"
            assert wait_for_read(tls, timeout=5)  # the tickets (and whatever the server sent) arrived
            time.sleep(0.2)
            assert _only_tls_records(tls) is reusable and tls.gettimeout() == 10
            if reusable:
                assert not wait_for_read(tls, timeout=0.0)  # nothing left to read: urllib3 keeps it
    finally:
        done.set()
        thread.join(10)
        listener.close()


def test_hosts_of_one_trust_share_one_ssl_context_until_its_ca_file_changes(pki: Pki, tmp_path: Path) -> None:
    """Reading the trust costs about 1 ms a host for a CA file, 50 ms for the system store: hosts with the same
    trust share one context; a CA file replaced during the run is read again (the old trust is not kept)."""
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(pki.ca.cert.read_bytes())
    with responder(pki) as r, responder(pki) as r2:
        contexts = []
        for options in ({"ca_file": str(ca_file)}, {"ca_file": str(ca_file)},
                        {"cert_fingerprint": der_sha256(pki.cert)}, {"cert_fingerprint": der_sha256(pki.cert)}):
            for one in (r, r2):
                with WinRMConnector(target(one, **options)) as conn:
                    assert conn.run("Write-Output 1", timeout=30).exit_code == 0
                    contexts.append(conn._context)
        assert len({id(c) for c in contexts[:4]}) == 1 and len({id(c) for c in contexts[4:]}) == 1
        assert contexts[0] is not contexts[4]
        ca_file.write_bytes(pki.rogue_ca.cert.read_bytes())  # the same path now trusts only the rogue CA
        stat = ca_file.stat()
        os.utime(ca_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        headers = len(r.auth_headers)
        with pytest.raises(ConnectorError, match="not trusted"):
            WinRMConnector(target(r, ca_file=str(ca_file))).__enter__()
        assert len(r.auth_headers) == headers and r.ops["Create"] == 4  # refused before any credential


@pytest.mark.parametrize("trust", ["pin", "ca_file"])
def test_one_ssl_context_per_host_checks_the_certificate_and_holds_every_later_connection(
        pki: Pki, trust: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import scanner.connectors.winrm as winrm_module

    made: list[ssl.SSLContext] = []
    real = winrm_module._ssl_context

    def counted(ep: Any) -> ssl.SSLContext:
        made.append(real(ep))
        return made[-1]

    monkeypatch.setattr(winrm_module, "_ssl_context", counted)
    with responder(pki) as r:
        options = {"cert_fingerprint": der_sha256(pki.cert)} if trust == "pin" else {"ca_file": str(pki.ca.cert)}
        with WinRMConnector(target(r, **options)) as conn:
            assert conn.run("Write-Output 1", timeout=30).exit_code == 0
            adapter = conn._protocol.transport.session.adapters["https://"]
            assert adapter.poolmanager.connection_pool_kw["ssl_context"] is made[0]
        assert len(made) == 1 and r.ops["Command"] == 1

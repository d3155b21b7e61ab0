"""The WinRM connector with CredSSP against the WS-Management responder (tests/lab/wsman.py).

The client is the real one (pywinrm with requests-credssp); the responder's acceptor is pyspnego's CredSSP server:
TLS inside the HTTP authentication headers, NTLM inside that TLS (checked against the responder's users), then
the client's delegated credential, which the responder checks names the same user. Over HTTP every message is
then sealed with that TLS channel (``application/HTTP-CredSSP-session-encrypted``, 16 KiB plaintext per part).
Nothing here runs Windows.
"""
from __future__ import annotations

import base64
import importlib.util
import logging
from typing import Any

import pytest

from scanner.connectors import ConnectorError
from scanner.connectors.winrm import WinRMConnector
from tests.conftest import lab_unavailable
from tests.lab.test_winrm import PASSWORD, PASSWORD_ENV, USER, Pki, pki, script_of, target  # noqa: F401 (fixtures)
from tests.lab.wsman import ENCRYPTED_CREDSSP, WSManResponder, echo_reply


@pytest.fixture(autouse=True)
def credssp_client(monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("requests_credssp") is None:
        lab_unavailable("requests-credssp is not installed (pip install -e '.[test]')")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    for key in ("KRB5_CONFIG", "KRB5CCNAME", "KRB5_CLIENT_KTNAME"):  # CredSSP's inner Negotiate: NTLM here
        monkeypatch.delenv(key, raising=False)


def responder(pki: Pki, *, tls: bool, **kwargs: Any) -> WSManResponder:  # noqa: F811
    return WSManResponder(echo_reply, tls=tls, users={USER: PASSWORD}, directory=pki.directory, ca=pki.ca,
                          cert=pki.cert, credssp=True, **kwargs)


def delegated_on_the_wire(r: WSManResponder) -> bytes:
    """Everything the client sent: bodies and the decoded authentication tokens."""
    tokens = [base64.b64decode(h.partition(" ")[2] or "") for h in r.auth_headers]
    return bytes(r.received) + b"".join(tokens)


@pytest.mark.parametrize(("tls", "protection"), [(True, "https+credssp"), (False, "http+credssp-sealed")])
def test_credssp_authenticates_delegates_and_seals(pki: Pki, tls: bool, protection: str) -> None:  # noqa: F811
    script = script_of(40_000)  # over HTTP: three 16 KiB sealed parts in one message
    with responder(pki, tls=tls) as r:
        options = {"ca_file": str(pki.ca.cert)} if tls else {}
        with WinRMConnector(target(r, auth="credssp", **options)) as conn:
            result = conn.run(script, timeout=30)
            assert conn.protection == protection
        assert (result.exit_code, result.stdout) == (0, f"received {len(script)} chars: {script.splitlines()[0]}\n"
                                                        .encode())
        assert r.scripts == [script] and r.ops["Command"] == 1
        assert r.authenticated_as == [USER] and r.delegated == [USER]
        assert r.auth_headers and all(h.startswith("CredSSP ") for h in r.auth_headers)
        wire = delegated_on_the_wire(r)
        assert PASSWORD.encode() not in wire and PASSWORD.encode("utf-16-le") not in wire  # inside TLS only
        if not tls:
            assert b"powershell.exe" not in r.received and b"<rsp:" not in r.received
            assert ENCRYPTED_CREDSSP.encode() in r.received
            assert b";Length=16384\r\n" in r.received  # a Send longer than 16 KiB went as several sealed parts


def test_a_wrong_password_is_an_authentication_error_without_the_password(
        pki: Pki, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)
    wrong = "Not-The-Password-CredSSP-3"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    with responder(pki, tls=True) as r:
        with pytest.raises(ConnectorError) as info:
            WinRMConnector(target(r, auth="credssp", ca_file=str(pki.ca.cert))).__enter__()
        assert r.ops["Create"] == 0 and r.delegated == [] and r.authenticated_as == []
    assert str(info.value) == (f"authentication failed for {USER} at {r.url} (credssp): the server rejected the "
                               "credentials")
    seen = "\n".join([str(info.value), repr(info.value), caplog.text])
    assert wrong not in seen and PASSWORD not in seen


def test_a_host_without_credssp_is_refused_clearly(pki: Pki) -> None:  # noqa: F811
    with WSManResponder(echo_reply, tls=True, users={USER: PASSWORD}, directory=pki.directory, ca=pki.ca,
                        cert=pki.cert) as r:
        with pytest.raises(ConnectorError, match="CredSSP") as info:
            WinRMConnector(target(r, auth="credssp", ca_file=str(pki.ca.cert))).__enter__()
        assert r.ops["Create"] == 0 and r.auth_headers == []
    assert PASSWORD not in str(info.value)

"""The WinRM connector with Kerberos against a real KDC: the Samba AD DC of tests/lab/krblab.py (realm KRBAD.TEST).

The client is the real one (pywinrm's Kerberos auth over pykerberos and MIT Kerberos); the WS-Management responder
(tests/lab/wsman.py) accepts the AP-REQ with the service key exported from the DC (``HTTP/localhost``), answers the
mutual-authentication AP-REP, checks the TLS channel binding over HTTPS and seals every message over HTTP. Tickets
come from ``kinit`` into a cache of the test's own (KRB5CCNAME) or from a client keytab (``keytab_file``); the
krb5.conf is the lab's (KRB5_CONFIG), never the machine's. Nothing here runs Windows.
"""
from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml

from scanner.cli import FORMAT_NAMES, main
from scanner.connectors import ConnectorError
from scanner.connectors.winrm import WinRMConnector, ccache_principal, keytab_principal
from scanner.model import Platform, Target, freeze
from scanner.store import read_record
from tests.conftest import lab_unavailable
from tests.fixtures.windows.replay import reply_for
from tests.lab import krblab, sambalab
from tests.lab.krblab import CLIENT_PASSWORD, SERVICE_PASSWORD, KrbLab
from tests.lab.slapdlab import CA, ServerCert, issue_cert, make_ca
from tests.lab.test_winrm_scan import windows_checks  # noqa: F401 (a fixture: the Windows pack's entry point)
from tests.lab.wsman import ENCRYPTED, WSManResponder, echo_reply

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def krb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KrbLab]:
    missing = [m for m in ("kerberos", "gssapi", "krb5") if importlib.util.find_spec(m) is None]
    if missing:  # the client (pywinrm[kerberos]) and the responder's acceptor (pyspnego[kerberos])
        lab_unavailable(f"Python Kerberos bindings missing: {', '.join(missing)} (pip install -e '.[test]')")
    reason = krblab.available()
    if reason:
        lab_unavailable(reason)
    lab = krblab.start(tmp_path_factory.mktemp("krb"))
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="module")
def tls(krb: KrbLab) -> tuple[CA, ServerCert]:
    ca = make_ca(krb.directory / "winrm-ca")
    return ca, issue_cert(ca, krb.directory / "winrm-cert", "win", (krblab.SERVICE_HOST,), ("127.0.0.1",))


@pytest.fixture()
def ccache(krb: KrbLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The lab's krb5.conf and service keytab, an empty ticket cache of this test's own, no client keytab yet."""
    path = tmp_path / "ccache"
    for key, value in krb.environment(path).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KRB5_CLIENT_KTNAME", raising=False)  # the connector sets it for keytab_file
    return path


def responder(krb: KrbLab, tls: tuple[CA, ServerCert], *, https: bool, reply: Any = echo_reply,
              principals: frozenset[str] | None = None) -> WSManResponder:
    allowed = frozenset({krb.client_principal}) if principals is None else principals
    return WSManResponder(reply, tls=https, users={}, directory=krb.directory, ca=tls[0], cert=tls[1],
                          kerberos=(krblab.SERVICE_HOST, allowed))


def options(r: WSManResponder, tls: tuple[CA, ServerCert], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"host": krblab.SERVICE_HOST, "port": r.port, "auth": "kerberos"}
    base.update({"scheme": "https", "ca_file": str(tls[0].cert)} if r.tls else {"scheme": "http",
                                                                                   "allow_plaintext": True})
    return {**base, **extra}


def url(r: WSManResponder) -> str:
    """The URL the connector uses: the responder's port under the name its SPN and certificate carry."""
    return f"{'https' if r.tls else 'http'}://{krblab.SERVICE_HOST}:{r.port}/wsman"


def target(r: WSManResponder, tls: tuple[CA, ServerCert], **extra: Any) -> Target:
    return Target(name="win-krb", type=Platform.WINDOWS, options=freeze(options(r, tls, **extra)),
                  policy=freeze({}))


@pytest.mark.parametrize("https", [True, False], ids=["https", "http-sealed"])
@pytest.mark.parametrize("source", ["kinit", "keytab_file"])
def test_a_ticket_or_a_keytab_authenticates_to_the_real_kdc(krb: KrbLab, tls: tuple[CA, ServerCert], ccache: Path,
                                                            https: bool, source: str) -> None:
    extra: dict[str, Any] = {}
    if source == "kinit":
        done = krb.kinit(ccache)
        assert done.returncode == 0, done.stderr
        assert ccache_principal(f"FILE:{ccache}") == krb.client_principal
    else:
        extra["keytab_file"] = str(krb.client_keytab)
        assert not ccache.exists()  # no ticket before: MIT gets one from the keytab
    with responder(krb, tls, https=https) as r:
        with WinRMConnector(target(r, tls, **extra)) as conn:
            result = conn.run("Get-Date\n'Größe'", timeout=30)
            assert conn.protection == ("https+kerberos" if https else "http+kerberos-sealed")
        assert (result.exit_code, result.stdout) == (0, b"received 16 chars: Get-Date\n")
        assert r.scripts == ["Get-Date\n'Größe'"]
        assert r.authenticated_as == [krb.client_principal]  # one AP-REQ, accepted with the DC's service key
        assert r.ops["Command"] == 1 and r.ops["Delete"] == 1
        assert len(r.auth_headers) == 1 and r.auth_headers[0].startswith("Negotiate YII")  # GSS-framed Kerberos
        if https:
            assert b"powershell.exe" in r.received  # TLS protects it; the responder sees the plain message
        else:
            assert b"powershell.exe" not in r.received and b"<rsp:" not in r.received  # sealed on the wire
            assert ENCRYPTED.encode() in r.received  # pywinrm's content type for Kerberos-sealed messages
    if source == "keytab_file":
        assert ccache_principal(f"FILE:{ccache}") == krb.client_principal  # the ticket MIT got from the keytab


def test_no_ticket_and_a_rejected_key_are_errors_naming_the_principal(krb: KrbLab, tls: tuple[CA, ServerCert],
                                                                      ccache: Path, tmp_path: Path) -> None:
    wrong = krb.wrong_keytab(tmp_path / "stale.keytab")
    assert keytab_principal(str(wrong)) == krb.client_principal
    with responder(krb, tls, https=True) as r:
        with pytest.raises(ConnectorError) as none:
            WinRMConnector(target(r, tls)).__enter__()
        with pytest.raises(ConnectorError) as rejected:
            WinRMConnector(target(r, tls, keytab_file=str(wrong))).__enter__()
        assert r.auth_headers == [] and sum(r.ops.values()) == 0  # nothing left this machine for the host
    assert str(none.value) == (
        f"Kerberos authentication as the default principal of the ticket cache FILE:{ccache} to {url(r)} failed: "
        f"No Kerberos credentials available (default cache: FILE:{ccache}); no ticket: run kinit for the scan "
        "account or set keytab_file")
    assert str(rejected.value) == (
        f"Kerberos authentication as {krb.client_principal} of keytab_file {wrong} to {url(r)} failed: "
        "Preauthentication failed; the KDC rejected the key: wrong password, or a keytab older than the last "
        "password change")


def test_a_wrong_password_gets_no_ticket_and_the_connector_names_the_principal(
        krb: KrbLab, tls: tuple[CA, ServerCert], ccache: Path) -> None:
    failed = krb.kinit(ccache, password="Not-The-Password-77")
    assert failed.returncode == 1 and "Password incorrect" in failed.stderr  # the real KDC said so
    with responder(krb, tls, https=False) as r:
        with pytest.raises(ConnectorError, match=rf"^Kerberos authentication as {krb.client_principal} to {url(r)} "
                                                 r"failed: .*; no ticket: run kinit for the scan account"):
            WinRMConnector(target(r, tls, user=krb.client_principal)).__enter__()
        assert r.auth_headers == []


def test_a_principal_the_host_does_not_admit_is_an_authentication_error(krb: KrbLab, tls: tuple[CA, ServerCert],
                                                                        ccache: Path) -> None:
    assert krb.kinit(ccache).returncode == 0
    with responder(krb, tls, https=True, principals=frozenset({"someone-else@KRBAD.TEST"})) as r:
        with pytest.raises(ConnectorError) as info:
            WinRMConnector(target(r, tls)).__enter__()
        assert r.ops["Create"] == 0 and r.authenticated_as == []
    assert str(info.value) == (f"authentication failed for {krb.client_principal} at {url(r)} (kerberos): the "
                               "server rejected the credentials")


def test_over_https_the_ticket_is_bound_to_the_tls_channel(krb: KrbLab, tls: tuple[CA, ServerCert], ccache: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The client binds its AP-REQ to the certificate it saw (tls-server-end-point); an acceptor expecting another
    channel (a man in the middle's) refuses it: the binding is really sent and really checked."""
    import spnego

    assert krb.kinit(ccache).returncode == 0
    with responder(krb, tls, https=True) as r:
        other = spnego.channel_bindings.GssChannelBindings(application_data=b"tls-server-end-point:" + bytes(32))
        monkeypatch.setattr(r, "channel_bindings", lambda: other)
        with pytest.raises(ConnectorError, match="the server rejected the credentials"):
            WinRMConnector(target(r, tls)).__enter__()
        assert r.auth_headers and r.authenticated_as == [] and r.ops["Create"] == 0


@pytest.mark.parametrize(("data", "expected"), [
    (b"", None), (b"\x05\x01", None), (b"\x05\x02\x00\x00\x00\x10\x00\x01\x00\x05AB", None),  # truncated
    (b"\x05\x02\x00\x00\x00\x10\x00\x02\x00\x04R.EX\x00\x04HTTP\x00\x02h\x1b", "HTTP/h\\x1b@R.EX"),  # escaped
])
def test_a_malformed_keytab_names_no_principal_and_raises_nothing(tmp_path: Path, data: bytes,
                                                                  expected: str | None) -> None:
    path = tmp_path / "k.keytab"
    path.write_bytes(data)
    assert keytab_principal(str(path)) == expected
    assert ccache_principal(f"FILE:{path}") is None and ccache_principal("KEYRING:persistent:0") is None


@pytest.mark.usefixtures("windows_checks")
def test_a_kerberos_scan_records_the_protection_and_no_secret_leaks(
        krb: KrbLab, tls: tuple[CA, ServerCert], ccache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    assert krb.kinit(ccache).returncode == 0
    caplog.set_level(logging.DEBUG)
    with ExitStack() as stack:
        hosts = {name: stack.enter_context(responder(krb, tls, https=https, reply=reply_for("hardened-2022")))
                 for name, https in (("win-https", True), ("win-http", False))}
        hosts["win-stale-keytab"] = stack.enter_context(responder(krb, tls, https=True))
        targets = [{"name": name, "type": "windows", **options(r, tls)} for name, r in hosts.items()]
        targets[2]["keytab_file"] = str(krb.wrong_keytab(tmp_path / "stale.keytab"))
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty-ccache'}")  # the stale keytab is all it has
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(yaml.safe_dump({"version": 1, "targets": targets[2:]}))
        out = tmp_path / "out"
        main(["--log-level", "DEBUG", "scan", "--inventory", str(inventory), "--output", str(out / "stale"),
              "--format", "json", "--verbose"])
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{ccache}")
        monkeypatch.delenv("KRB5_CLIENT_KTNAME", raising=False)
        inventory.write_text(yaml.safe_dump({"version": 1, "targets": targets[:2]}))
        formats = [a for f in FORMAT_NAMES for a in ("--format", f)]
        rc = main(["--log-level", "DEBUG", "scan", "--inventory", str(inventory), "--output", str(out / "ok"),
                   *formats, "--verbose"])
    assert rc in (0, 1)
    assert hosts["win-https"].ops["Command"] == 1 and hosts["win-http"].ops["Command"] == 1
    systems = read_record(next((out / "ok").rglob("record.jsonl")).parent).run.systems
    assert {n: systems[n]["protection"] for n in ("win-https", "win-http")} == {
        "win-https": "https+kerberos", "win-http": "http+kerberos-sealed"}
    stale = json.loads((out / "stale" / "report.json").read_text())["findings"]
    assert stale and {f["status"] for f in stale} == {"error"}
    assert all("Kerberos authentication as gxpscan-krb@KRBAD.TEST" in f["message"] for f in stale)

    captured = capsys.readouterr()
    outputs = {"stdout": captured.out, "stderr": captured.err, "logging": caplog.text,
               "argv": Path("/proc/self/cmdline").read_bytes().decode("latin-1")}
    outputs.update({str(p): p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file()})
    assert len(outputs) > 8
    planted = (CLIENT_PASSWORD, SERVICE_PASSWORD, sambalab.ADMIN_PASSWORD)
    assert [where for where, text in outputs.items() if any(p in text for p in planted)] == []

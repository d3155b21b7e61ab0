"""WinRM connector rules that need no server: which option combinations are refused (and where the inventory says
so), the protection recorded, escaping of server text, the setup guide. The connector against a responder:
tests/lab/test_winrm.py."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from scanner import cli
from scanner.collectors import FactSpec
from scanner.connectors import ConnectorError, connector_class, connector_key
from scanner.connectors.winrm import ADMINISTRATORS, REMOTE_MANAGEMENT_USERS, WinRMConnector, endpoint, printable
from scanner.inventory import InventoryError, load_inventory

CRED = {"user": "CORP\\gxpscan-svc", "password_env": "WINRM_PW"}


def inventory(**options: Any) -> dict[str, Any]:
    return {"version": 1, "targets": [
        {"name": "lin", "type": "linux", "connection": "local"},
        {"name": "qc-app-01", "type": "windows", "host": "qc-app-01.corp.example", **options}]}


@pytest.mark.parametrize(("options", "problem"), [
    ({"scheme": "http", **CRED}, "targets[1].scheme: target qc-app-01: WinRM over plain HTTP is refused without "
                                 "allow_plaintext: true (and then only with message encryption)"),
    ({"scheme": "http", "allow_plaintext": False, **CRED}, "targets[1].scheme: target qc-app-01: WinRM over plain "
     "HTTP is refused without allow_plaintext: true (and then only with message encryption)"),
    ({"scheme": "http", "allow_plaintext": True, "auth": "basic", **CRED},
     "targets[1].auth: target qc-app-01: Basic authentication over plain HTTP is refused: it sends the password "
     "readable and the messages unencrypted; use https"),
    ({"scheme": "http", "allow_plaintext": True, "ca_file": "ca.pem", **CRED},
     "targets[1].ca_file: target qc-app-01: ca_file applies to https only"),
    ({"ca_file": "ca.pem", "cert_fingerprint": "ab" * 32, **CRED},
     "targets[1].cert_fingerprint: target qc-app-01: give ca_file or cert_fingerprint, not both"),
    ({"user": "CORP\\gxpscan-svc"}, "targets[1].password_env: target qc-app-01: auth ntlm needs user and password_env"),
    ({"auth": "credssp", "password_env": "WINRM_PW"},
     "targets[1].user: target qc-app-01: auth credssp needs user and password_env"),
])
def test_refused_combinations_stop_the_inventory_with_their_path(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(inventory(**options))
    assert info.value.problems == [problem]


@pytest.mark.parametrize(("options", "problem"), [
    ({"cert_fingerprint": "ab" * 31, **CRED}, "targets[1].cert_fingerprint: 'abab"),
    ({"auth": "digest", **CRED}, "targets[1].auth: 'digest' is not one of"),
    ({"password": "x", **CRED}, "targets[1].password: literal secrets are not accepted"),
    ({"user": "a b", "password_env": "P"}, "targets[1].user: 'a b' does not match"),
])
def test_the_schema_names_malformed_windows_options(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(InventoryError) as info:
        load_inventory(inventory(**options))
    assert [p for p in info.value.problems if not p.startswith("targets[1]: Unevaluated")][0].startswith(problem)


@pytest.mark.parametrize(("options", "url", "protection"), [
    (CRED, "https://qc-app-01.corp.example:5986/wsman", "https+ntlm"),
    ({"auth": "kerberos", "keytab_file": "/etc/gxpscan.keytab"}, "https://qc-app-01.corp.example:5986/wsman",
     "https+kerberos"),
    ({"scheme": "http", "allow_plaintext": True, "port": 15985, **CRED}, "http://qc-app-01.corp.example:15985/wsman",
     "http+ntlm-sealed"),
    ({"auth": "basic", "cert_fingerprint": "SHA256:" + "AB:" * 31 + "AB", **CRED},
     "https://qc-app-01.corp.example:5986/wsman", "https+basic"),
])
def test_accepted_targets_load_and_record_their_protection(options: dict[str, Any], url: str,
                                                           protection: str) -> None:
    target = load_inventory(inventory(**options)).targets[1]
    assert connector_key(target) == "winrm" and connector_class("winrm") is WinRMConnector
    ep = endpoint(target.name, target.options)
    assert (ep.url, ep.protection, WinRMConnector(target).protection) == (url, protection, protection)
    if "cert_fingerprint" in options:
        assert ep.pin == "ab" * 32


def test_server_text_is_escaped_and_bounded() -> None:
    assert printable("Access denied\x1b]52;c;ZXZpbA==\x07\nnext") == "Access denied\\x1b]52;c;ZXZpbA==\\x07\\x0anext"
    assert printable("x" * 400) == "x" * 300 + "..."


def test_winrm_setup_prints_groups_by_sid_listener_and_the_facts_needing_administrators(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    facts = {"windows.audit_policy": FactSpec("windows.audit_policy", "advanced audit policy by GUID", True),
             "windows.accounts": FactSpec("windows.accounts", "local accounts", False),
             "linux.shadow": FactSpec("linux.shadow", "/etc/shadow", True)}
    monkeypatch.setattr("scanner.collectors.known_facts", lambda: facts)
    assert cli.main(["winrm-setup", "--account", "scan-svc"]) == 0
    out = capsys.readouterr().out
    assert f'Add-LocalGroupMember -SID "{REMOTE_MANAGEMENT_USERS}" -Member "scan-svc"' in out
    assert f'#    Add-LocalGroupMember -SID "{ADMINISTRATORS}" -Member "scan-svc"' in out  # advised, not done
    assert "#   windows.audit_policy: advanced audit policy by GUID\n" in out
    assert "windows.accounts" not in out and "linux.shadow" not in out
    assert "-Transport HTTPS" in out and "AllowUnencrypted -Value $false" in out and "Auth\\Basic -Value $false" in out


def test_winrm_setup_refuses_an_account_name_that_could_inject(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["winrm-setup", "--account", 'x"; Remove-Item C:\\ -Recurse']) == cli.EXIT_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and "account name must be" in captured.err


@pytest.mark.parametrize(("auth", "package"), [("kerberos", "pywinrm[kerberos]"), ("credssp", "pywinrm[credssp]")])
def test_an_optional_authentication_without_its_package_fails_closed_before_connecting(
        monkeypatch: pytest.MonkeyPatch, auth: str, package: str) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    options = {"auth": auth, "user": "CORP\\gxpscan-svc", "password_env": "WINRM_PW"}
    target = load_inventory(inventory(**options)).targets[1]
    with pytest.raises(ConnectorError, match=rf"auth {auth} needs {re.escape(package)} installed"):
        WinRMConnector(target).__enter__()


def test_one_client_keytab_per_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from scanner.connectors.winrm import _use_keytab

    monkeypatch.delenv("KRB5_CLIENT_KTNAME", raising=False)
    _use_keytab(str(tmp_path / "a.keytab"))
    _use_keytab(str(tmp_path / "a.keytab"))
    assert os.environ["KRB5_CLIENT_KTNAME"] == str(tmp_path / "a.keytab")
    with pytest.raises(ConnectorError, match="one client keytab per run"):
        _use_keytab(str(tmp_path / "b.keytab"))


def test_winrm_setup_lists_exactly_the_windows_facts_that_need_administrators(
        capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.collectors import known_facts

    admin = sorted(f.name for f in known_facts().values() if f.name.startswith("windows.") and f.needs_root)
    assert admin  # the Windows collector marks some facts as needing local Administrators
    assert cli.main(["winrm-setup"]) == 0
    listed = re.findall(r"^#   (windows\.[a-z_.]+): ", capsys.readouterr().out, re.M)
    assert listed == admin


def test_the_trusting_adapter_class_is_made_once_and_each_adapter_keeps_its_own_trust() -> None:
    """Every host's session mounts an adapter holding the target's trust: the class is defined once per process
    (not once per host), and each adapter's pool still gets its own context, and its pin or full verification."""
    import ssl

    from scanner.connectors.winrm import _trusting_adapter

    system, pinned = ssl.create_default_context(), ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    verified, pinning = _trusting_adapter(system, None), _trusting_adapter(pinned, "ab" * 32)
    assert type(verified) is type(pinning)
    kw, pin_kw = verified.poolmanager.connection_pool_kw, pinning.poolmanager.connection_pool_kw
    assert kw["ssl_context"] is system and kw["cert_reqs"] == "CERT_REQUIRED" and "assert_fingerprint" not in kw
    assert pin_kw["ssl_context"] is pinned and pin_kw["cert_reqs"] == "CERT_NONE"
    assert pin_kw["assert_fingerprint"] == "ab" * 32
    pool = verified.get_connection("https://127.0.0.1:5986/wsman")
    assert pool.conn_kw["ssl_context"] is system  # every connection of the pool is made with it
    assert verified.cert_verify(None, "https://127.0.0.1:5986/wsman", False, None) is None

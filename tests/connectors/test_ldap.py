# ruff: noqa: F811  (pytest fixtures are imported from tests/lab and used as parameters)
"""LDAPConnector against real slapd and Samba AD servers: verified TLS, bind, flavor, limits, clear errors."""
from __future__ import annotations

import os
import sys

import ldap3
import pytest

from scanner.connectors import ConnectorError
from scanner.connectors.ldap import LDAPConnector, LDAPQueryError
from tests.lab.slapdlab import ADMIN_PASSWORD, free_port

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("tls", [{"starttls": True}, {"ldaps": True}], ids=["starttls", "ldaps"])
def test_connects_over_verified_tls_and_reads_flavor_and_base(slapd_lab, tls):
    s = slapd_lab.servers["good"]
    url = {"url": s.ldaps_url, "starttls": False} if "ldaps" in tls else {"url": s.ldap_url, "starttls": True}
    with LDAPConnector(slapd_lab.target("good", **url)) as c:
        assert (c.flavor, c.flavor_source, c.base_dn) == ("openldap", "root DSE", "dc=good,dc=test")
        assert c.settings.tls_mode == ("ldaps" if "ldaps" in tls else "starttls")
        people = c.search("ou=people,dc=good,dc=test", "(objectClass=inetOrgPerson)", ["uid"])
    assert sorted(e.text("uid") for e in people) == ["alice", "bob"]
    assert all(set(e.attrs) == {"uid"} for e in people)  # only the attributes asked for


def test_ad_flavor_and_base_from_root_dse(samba_lab):
    with LDAPConnector(samba_lab.target("good")) as c:
        assert (c.flavor, c.base_dn) == ("ad", "DC=goodad,DC=test")


def test_flavor_and_base_dn_can_be_set_by_the_inventory(slapd_lab):
    with LDAPConnector(slapd_lab.target("good", flavor="ad", base_dn="ou=people,dc=good,dc=test")) as c:
        assert (c.flavor, c.flavor_source, c.base_dn) == ("ad", "inventory", "ou=people,dc=good,dc=test")


def test_paged_search_returns_every_entry(samba_lab, monkeypatch):
    monkeypatch.setattr("scanner.connectors.ldap.PAGE_SIZE", 2)
    with LDAPConnector(samba_lab.target("weak")) as c:
        paged = c.search(c.base_dn, "(&(objectCategory=person)(objectClass=user))", ["sAMAccountName"])
        whole = c.search(c.base_dn, "(&(objectCategory=person)(objectClass=user))", ["sAMAccountName"], paged=False)
    assert len(paged) == len(whole) > 10


def test_size_limit_hit_is_an_error_not_a_short_list(slapd_lab):
    # the weak instance limits anonymous searches to 2 entries and holds 7
    with LDAPConnector(slapd_lab.target("weak", bind_dn=None)) as c:
        with pytest.raises(LDAPQueryError, match="sizeLimitExceeded"):
            c.search(c.base_dn, "(objectClass=*)", ["1.1"])


def _error_case(slapd_lab, case: str):
    good = slapd_lab.servers["good"]
    if case == "wrong CA":
        return slapd_lab.target("good", ca_file=str(slapd_lab.wrong_ca.cert)), "certificate verify failed"
    if case == "wrong password":
        return slapd_lab.target("good", password_env="GXLAB_WRONG_PASSWORD"), "invalidCredentials"
    if case == "server down":
        return slapd_lab.target("good", url=f"ldap://127.0.0.1:{free_port()}"), "onnection refused"
    if case == "plaintext refused by gxpscan":
        return slapd_lab.target("weak", starttls=False), "refusing a simple bind without TLS"
    if case == "missing password variable":
        return slapd_lab.target("good", password_env="GXLAB_NOT_SET_ANYWHERE"), "GXLAB_NOT_SET_ANYWHERE"
    if case == "missing CA file":
        return slapd_lab.target("good", ca_file="/nonexistent/ca.pem"), "does not exist"
    if case == "gssapi without the package":
        if "gssapi" in sys.modules or __import__("importlib").util.find_spec("gssapi"):
            pytest.skip("the gssapi package is installed here")
        return slapd_lab.target("good", sasl="gssapi"), "needs the Python package 'gssapi'"
    if case == "plaintext bind refused by the server":
        return slapd_lab.target("good", url=good.ldap_url, starttls=False, allow_plaintext=True), \
            "confidentialityRequired"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["wrong CA", "wrong password", "server down", "plaintext refused by gxpscan",
                                  "missing password variable", "missing CA file", "gssapi without the package",
                                  "plaintext bind refused by the server"])
def test_failures_are_clear_errors_without_the_password(slapd_lab, monkeypatch, case):
    monkeypatch.setenv("GXLAB_WRONG_PASSWORD", "Planted-Wrong-Secret-51d")
    target, expected = _error_case(slapd_lab, case)
    with pytest.raises(ConnectorError) as info:
        with LDAPConnector(target):
            pass
    message = str(info.value)
    assert expected in message
    assert target.name in message
    for secret in (ADMIN_PASSWORD, "Planted-Wrong-Secret-51d"):
        assert secret not in message


def test_allow_plaintext_connects_and_says_so(slapd_lab):
    weak = slapd_lab.servers["weak"]
    with LDAPConnector(slapd_lab.target("weak", url=weak.ldap_url, starttls=False, allow_plaintext=True)) as c:
        assert c.settings.tls_mode == "none" and c.settings.allow_plaintext
        assert c.search_one(c.base_dn, ["dc"]).text("dc") == "weak"


def test_probes_bind_and_read_only(slapd_lab):
    with LDAPConnector(slapd_lab.target("weak")) as c:
        anon, plain = c.probe_anonymous(), c.probe_plaintext_bind()
    assert (anon.refused, anon.entries_visible) == (False, 2)
    assert (plain.refused, plain.result) == (False, "cleartext bind evaluated")
    assert "invalidCredentials" in plain.detail  # a wrong password was sent, never the real one
    with LDAPConnector(slapd_lab.target("good")) as c:
        anon, plain = c.probe_anonymous(), c.probe_plaintext_bind()
    assert (anon.refused, anon.result) == (True, "bind refused")
    assert (plain.refused, plain.result) == (True, "cleartext bind refused")


def test_connector_module_does_not_import_ldap3_at_import_time():
    import subprocess

    code = "import scanner.connectors.ldap, scanner.collectors.ldap, sys; print('ldap3' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.stdout.strip() == "False"
    assert ldap3  # imported here only for the test process itself


def test_a_server_that_never_answers_times_out_with_a_clear_error(slapd_lab):
    """A real TCP listener that accepts and stays silent: the bind must not hang past the target's timeout."""
    import socket
    import time

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        target = slapd_lab.target("good", url=f"ldap://127.0.0.1:{port}", starttls=False, allow_plaintext=True,
                                  timeout=1)
        start = time.monotonic()
        with pytest.raises(ConnectorError) as info:
            with LDAPConnector(target):
                pass
    assert time.monotonic() - start < 10
    assert "connection failed" in str(info.value) and ADMIN_PASSWORD not in str(info.value)

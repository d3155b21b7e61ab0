# ruff: noqa: F811  (pytest fixtures are imported from tests/lab and used as parameters)
"""LDAPConnector against real slapd and Samba AD servers: verified TLS, bind, flavor, limits, clear errors.

The certificate tests at the end use a small TLS server of their own (no lab server), so they also run where
the lab tests are deselected (``-m "not lab"``), on every supported Python.
"""
from __future__ import annotations

import importlib.util
import os
import socket
import ssl
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest

from scanner.connectors import ConnectorError
from scanner.connectors.ldap import LDAPConnector, LDAPQueryError
from scanner.model import Platform, Target
from tests.lab.slapdlab import ADMIN_PASSWORD, CA, ServerCert, free_port, issue_cert, make_ca

lab = pytest.mark.lab


@lab
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


@lab
def test_ad_flavor_and_base_from_root_dse(samba_lab):
    with LDAPConnector(samba_lab.target("good")) as c:
        assert (c.flavor, c.base_dn) == ("ad", "DC=goodad,DC=test")


@lab
def test_flavor_and_base_dn_can_be_set_by_the_inventory(slapd_lab):
    with LDAPConnector(slapd_lab.target("good", flavor="ad", base_dn="ou=people,dc=good,dc=test")) as c:
        assert (c.flavor, c.flavor_source, c.base_dn) == ("ad", "inventory", "ou=people,dc=good,dc=test")


@lab
def test_paged_search_returns_every_entry(samba_lab, monkeypatch):
    monkeypatch.setattr("scanner.connectors.ldap.PAGE_SIZE", 2)
    with LDAPConnector(samba_lab.target("weak")) as c:
        paged = c.search(c.base_dn, "(&(objectCategory=person)(objectClass=user))", ["sAMAccountName"])
        whole = c.search(c.base_dn, "(&(objectCategory=person)(objectClass=user))", ["sAMAccountName"], paged=False)
    assert len(paged) == len(whole) > 10


@lab
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
        return slapd_lab.target("good", sasl="gssapi"), "needs the Python package 'gssapi'"
    if case == "plaintext bind refused by the server":
        return slapd_lab.target("good", url=good.ldap_url, starttls=False, allow_plaintext=True), \
            "confidentialityRequired"
    raise AssertionError(case)


@lab
@lab
@pytest.mark.parametrize("case", ["wrong CA", "wrong password", "server down", "plaintext refused by gxpscan",
                                  "missing password variable", "missing CA file", "gssapi without the package",
                                  "plaintext bind refused by the server"])
def test_failures_are_clear_errors_without_the_password(slapd_lab, monkeypatch, case):
    monkeypatch.setenv("GXLAB_WRONG_PASSWORD", "Planted-Wrong-Secret-51d")
    if case == "gssapi without the package":  # the test extras install gssapi (WinRM Kerberos tests): hide it
        find_spec = importlib.util.find_spec
        monkeypatch.setattr("importlib.util.find_spec",
                            lambda name, *rest: None if name == "gssapi" else find_spec(name, *rest))
    target, expected = _error_case(slapd_lab, case)
    with pytest.raises(ConnectorError) as info:
        with LDAPConnector(target):
            pass
    message = str(info.value)
    assert expected in message
    assert target.name in message
    for secret in (ADMIN_PASSWORD, "Planted-Wrong-Secret-51d"):
        assert secret not in message


@lab
def test_allow_plaintext_connects_and_says_so(slapd_lab):
    weak = slapd_lab.servers["weak"]
    with LDAPConnector(slapd_lab.target("weak", url=weak.ldap_url, starttls=False, allow_plaintext=True)) as c:
        assert c.settings.tls_mode == "none" and c.settings.allow_plaintext
        assert c.search_one(c.base_dn, ["dc"]).text("dc") == "weak"


@lab
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


@lab
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


# -- certificate verification, by the standard library, on every supported Python ---------------------------
# A recording server presents a certificate issued for chosen names, over ldaps:// or after StartTLS, and
# keeps every byte the client sends. The client must accept exactly the names the standard library accepts
# (RFC 6125 as OpenSSL implements it for Python) and send nothing, above all no bind, to a server it refused.

BIND_PASSWORD = "Tls-Test-Bind-Secret-3c9"
STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"


@dataclass(frozen=True)
class Pki:
    ca: CA
    other_ca: CA
    root: Path

    def cert(self, name: str, dns: tuple[str, ...] = (), ips: tuple[str, ...] = (), *,
             other_ca: bool = False) -> ServerCert:
        return issue_cert(self.other_ca if other_ca else self.ca, self.root / name, name, dns, ips)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    return Pki(make_ca(root / "ca"), make_ca(root / "other-ca", "some other CA"), root)


def _read_message(sock: socket.socket) -> bytes:
    """One BER element (an LDAP message), or b"" when the peer closed first."""
    head = sock.recv(2)
    if len(head) < 2:
        return head
    length, extra = head[1], b""
    if length & 0x80:
        extra = sock.recv(length & 0x7F)
        length = int.from_bytes(extra, "big")
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            break
        body += chunk
    return head + extra + body


def _ber(tag: int, content: bytes) -> bytes:
    """One BER element with a definite length (short or long form)."""
    size = len(content)
    head = bytes([size]) if size < 0x80 else bytes([0x80 | ((size.bit_length() + 7) // 8)]) + size.to_bytes(
        (size.bit_length() + 7) // 8, "big")
    return bytes([tag]) + head + content


def _message_id_and_op(message: bytes) -> tuple[bytes, int]:
    """The encoded messageID element of an LDAP message (02 LL ID, as sent) and the tag of its operation.

    ldap3 numbers messages process-wide, so after other tests the ID no longer fits in one byte."""
    start = 2 + (message[1] & 0x7F if message[1] & 0x80 else 0)
    assert message[start] == 0x02, message
    end = start + 2 + message[start + 1]
    return message[start:end], message[end]


def _starttls_success(request: bytes) -> bytes:
    """The ExtendedResponse (success) to a StartTLS request."""
    message_id, op = _message_id_and_op(request)
    assert op == 0x77 and STARTTLS_OID in request, request
    response = b"\x0a\x01\x00\x04\x00\x04\x00" + _ber(0x8A, STARTTLS_OID)
    return _ber(0x30, message_id + _ber(0x78, response))


@dataclass
class Recorder:
    """What the TLS server saw: the cleartext before TLS, whether the handshake completed, the first message after."""

    before_tls: bytes = b""
    handshake: str = "not reached"
    after_tls: bytes = b""


def _serve_once(listener: socket.socket, cert: ServerCert, starttls: bool, seen: Recorder) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert), str(cert.key))
    conn, _ = listener.accept()
    conn.settimeout(10)
    with conn:
        if starttls:
            seen.before_tls = _read_message(conn)
            conn.sendall(_starttls_success(seen.before_tls))
        try:
            tls = context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            seen.handshake = f"{type(exc).__name__}: {exc}"
            return
        seen.handshake = "ok"
        try:
            seen.after_tls = _read_message(tls)  # then close: the client's bind fails, which is fine here
        except (ssl.SSLError, OSError):
            pass
        tls.close()


def _connect_through(cert: ServerCert, host: str, ca_file: Path, starttls: bool) -> tuple[Recorder, str]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        seen = Recorder()
        server = threading.Thread(target=_serve_once, args=(listener, cert, starttls, seen), daemon=True)
        server.start()
        url = f"ldap://{host}:{port}" if starttls else f"ldaps://{host}:{port}"
        target = Target(name="tls-under-test", type=Platform.LDAP, options={
            "url": url, "starttls": starttls, "ca_file": str(ca_file), "bind_dn": "cn=scan,dc=gx,dc=test",
            "password_env": "GXTEST_TLS_BIND_PASSWORD", "timeout": 5}, policy={})
        with pytest.raises(ConnectorError) as info:  # the recording server never answers the bind
            with LDAPConnector(target):
                pass
        server.join(15)
    assert not server.is_alive()
    return seen, str(info.value)


@pytest.fixture
def gx_test_resolves_to_loopback(monkeypatch):
    """Names under gx.test resolve to 127.0.0.1 for this test (only name resolution is replaced, not TLS)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and (host == "gx.test" or host.endswith(".gx.test")):
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setenv("GXTEST_TLS_BIND_PASSWORD", BIND_PASSWORD)


# (id, SANs on the certificate (DNS, IP), name in the URL, issued by the configured CA, refusal reason or None)
CERT_CASES = [
    ("ip-san", (), ("127.0.0.1",), "127.0.0.1", True, None),
    ("dns-san", ("localhost",), (), "localhost", True, None),
    ("dns-san-case-insensitive", ("LDAP.GX.test",), (), "ldap.gx.test", True, None),
    ("wildcard-left-label", ("*.gx.test",), (), "dc1.gx.test", True, None),
    ("dns-and-ip-sans-by-ip", ("localhost",), ("127.0.0.1",), "127.0.0.1", True, None),
    ("wildcard-covers-one-label-only", ("*.gx.test",), (), "a.dc1.gx.test", True, "Hostname mismatch"),
    ("wildcard-not-the-bare-domain", ("*.gx.test",), (), "gx.test", True, "Hostname mismatch"),
    ("partial-label-wildcard", ("dc*.gx.test",), (), "dc1.gx.test", True, "Hostname mismatch"),
    ("ip-written-as-dns-san", ("127.0.0.1",), (), "127.0.0.1", True, "IP address mismatch"),
    ("other-ip", (), ("127.0.0.2",), "127.0.0.1", True, "IP address mismatch"),
    ("other-name", ("ldap.gx.test",), (), "localhost", True, "Hostname mismatch"),
    ("dns-san-by-ip", ("localhost",), (), "127.0.0.1", True, "IP address mismatch"),
    ("untrusted-ca", ("localhost",), ("127.0.0.1",), "127.0.0.1", False, "unable to get local issuer certificate"),
]


@pytest.mark.parametrize("starttls", [False, True], ids=["ldaps", "starttls"])
@pytest.mark.parametrize("case, dns, ips, host, trusted_ca, refusal", CERT_CASES, ids=[c[0] for c in CERT_CASES])
def test_certificate_names_are_verified_by_the_standard_library_before_any_credential(
        pki, gx_test_resolves_to_loopback, case, dns, ips, host, trusted_ca, refusal, starttls):
    cert = pki.cert(case, dns, ips, other_ca=not trusted_ca)
    seen, message = _connect_through(cert, host, pki.ca.cert, starttls)
    assert BIND_PASSWORD not in message and BIND_PASSWORD.encode() not in seen.before_tls
    if starttls:
        assert STARTTLS_OID in seen.before_tls  # the only message sent in clear
    if refusal is None:
        assert seen.handshake == "ok"
        assert b"cn=scan,dc=gx,dc=test" in seen.after_tls  # the bind came after an accepted handshake
        assert "certificate verify failed" not in message
    else:
        assert seen.handshake != "ok" and seen.after_tls == b""  # nothing at all, so no bind and no password
        assert "tls-under-test" in message
        assert "TLS certificate refused before any credential was sent: certificate verify failed" in message
        assert refusal in message


def _referring_server(listener: socket.socket, cert: ServerCert, referral: str, requests: list[bytes]) -> None:
    """An LDAPS server that accepts any bind and answers every search with a referral to ``referral``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert.cert), str(cert.key))
    conn, _ = listener.accept()
    conn.settimeout(10)
    with context.wrap_socket(conn, server_side=True) as tls:
        while message := _read_message(tls):
            requests.append(message)
            message_id, op = _message_id_and_op(message)
            done = b"\x0a\x01\x00\x04\x00\x04\x00"  # success, no matched DN, no message
            if op == 0x60:  # BindRequest
                tls.sendall(_ber(0x30, message_id + _ber(0x61, done)))
            elif op == 0x63:  # SearchRequest: resultCode referral (10) with the URL
                refer = b"\x0a\x01\x0a\x04\x00\x04\x00" + _ber(0xA3, _ber(0x04, referral.encode()))
                tls.sendall(_ber(0x30, message_id + _ber(0x65, refer)))
            else:  # UnbindRequest or anything else: done
                return


def test_a_referral_is_an_error_and_never_followed_with_the_credentials(pki, gx_test_resolves_to_loopback):
    """A directory (or whoever controls its data) that refers the client elsewhere gets nothing: ldap3 would
    open a new connection to the referred host, without our certificate checks and, for an ldap:// referral,
    without TLS, and bind there with the target's password."""
    cert = pki.cert("referring", ips=("127.0.0.1",))
    with socket.socket() as listener, socket.socket() as elsewhere:
        for sock in (listener, elsewhere):
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
        elsewhere.settimeout(0.5)
        referral = f"ldap://127.0.0.1:{elsewhere.getsockname()[1]}/dc=elsewhere,dc=test"
        requests: list[bytes] = []
        server = threading.Thread(target=_referring_server, args=(listener, cert, referral, requests), daemon=True)
        server.start()
        target = Target(name="referring-dsa", type=Platform.LDAP, policy={}, options={
            "url": f"ldaps://127.0.0.1:{listener.getsockname()[1]}", "ca_file": str(pki.ca.cert),
            "bind_dn": "cn=scan,dc=gx,dc=test", "password_env": "GXTEST_TLS_BIND_PASSWORD", "timeout": 5})
        with pytest.raises(LDAPQueryError) as info:
            with LDAPConnector(target):
                pass
        try:
            followed, _ = elsewhere.accept()
            with followed:
                followed.settimeout(2)
                leaked = followed.recv(65536)
        except TimeoutError:
            leaked = None
        server.join(15)
    assert leaked is None, f"the referral was followed; the referred host received {leaked!r}"
    assert "referral (10)" in str(info.value) and BIND_PASSWORD not in str(info.value)
    assert [_message_id_and_op(m)[1] for m in requests][:2] == [0x60, 0x63]  # bind, then the root DSE search


# -- continuation references: part of the tree held elsewhere is an error, never a shorter answer ----------------
BRANCH_URI = "ldap://branch.example.test/ou=branch,ou=people,dc=good,dc=test"
REFERRAL_LDIF = f"""dn: ou=branch,ou=people,dc=good,dc=test
objectClass: referral
objectClass: extensibleObject
ou: branch
ref: {BRANCH_URI}
"""


@pytest.fixture(scope="module")
def referring_slapd(slapd_lab, tmp_path_factory):
    """The compliant slapd plus a referral object under ou=people: a subtree search gets a searchResRef."""
    from tests.lab import slapdlab

    root = tmp_path_factory.mktemp("slapd-referring")
    with slapdlab.good_with(slapd_lab.ca, root, "referring", REFERRAL_LDIF) as server:
        yield server


def _referring_target(slapd_lab, server) -> Target:
    from tests.lab.slapdlab import PASSWORD_ENV

    return Target("slapd-referring", Platform.LDAP, {
        "url": server.ldap_url, "starttls": True, "ca_file": str(slapd_lab.ca.cert), "bind_dn": server.admin_dn,
        "password_env": PASSWORD_ENV, "timeout": 10}, {})


@lab
@pytest.mark.parametrize("paged", [True, False], ids=["paged", "unpaged"])
def test_a_continuation_reference_fails_the_search_and_names_the_uri(slapd_lab, referring_slapd, paged):
    with LDAPConnector(_referring_target(slapd_lab, referring_slapd)) as c:
        assert c.search("ou=policies,dc=good,dc=test", "(objectClass=*)", ["1.1"], paged=paged)  # no reference
        with pytest.raises(LDAPQueryError) as info:
            c.search("dc=good,dc=test", "(objectClass=inetOrgPerson)", ["uid"], paged=paged)
        assert c.ignored_references == ()
    assert "continuation references to parts of the tree held elsewhere" in str(info.value)
    assert repr(f"{BRANCH_URI}??sub") in str(info.value)  # slapd adds the scope the referred search would use


@lab
def test_accounts_under_a_reference_make_the_account_checks_error_not_pass(slapd_lab, referring_slapd):
    """End to end: the hashing check saw every other account stored well and passed; now it cannot judge."""
    from scanner.registry import Registry
    from scanner.runner import scan_target

    specs = [s for s in Registry.load(["checks.ldap"]).select() if s.id == "ldap.password_hashing"]
    results = scan_target(_referring_target(slapd_lab, referring_slapd), specs, {}).results
    assert [r.status.value for r in results] == ["error"]
    assert BRANCH_URI in results[0].message


def _unentered(naming_contexts: tuple[str, ...]) -> LDAPConnector:
    """A connector whose root DSE names these contexts (no server: only the reference rules are exercised)."""
    from scanner.connectors.ldap import Entry

    c = LDAPConnector(Target("refs", Platform.LDAP, {"url": "ldaps://dc1.ex.test"}, {}))
    c.root_dse = Entry("", {"namingcontexts": [n.encode() for n in naming_contexts]})
    return c


AD_CONTEXTS = ("DC=ex,DC=test", "CN=Configuration,DC=ex,DC=test", "CN=Schema,CN=Configuration,DC=ex,DC=test",
               "DC=DomainDnsZones,DC=ex,DC=test", "DC=ForestDnsZones,DC=ex,DC=test")


# (id, search base, URIs of each reference, ignored or None when the search must fail)
REFERENCE_CASES = [
    ("ad-partitions", "DC=ex,DC=test",
     [["ldaps://ex.test/CN=Configuration,DC=ex,DC=test"], ["ldap://ex.test/DC=DomainDnsZones,DC=ex,DC=test"]],
     ("ldaps://ex.test/CN=Configuration,DC=ex,DC=test", "ldap://ex.test/DC=DomainDnsZones,DC=ex,DC=test")),
    ("case-spaces-and-escapes", "dc=ex,dc=test", [["LDAP://ex.test/dc=forestdnszones,%20DC=ex,DC=test??sub"]],
     ("LDAP://ex.test/dc=forestdnszones,%20DC=ex,DC=test??sub",)),
    ("another-server", "DC=ex,DC=test", [["ldap://branch.ex.test/OU=Branch,DC=ex,DC=test"]], None),
    ("child-domain", "DC=ex,DC=test", [["ldap://child.ex.test/DC=child,DC=ex,DC=test"]], None),
    ("the-context-searched", "OU=People,DC=ex,DC=test", [["ldap://ex.test/DC=ex,DC=test"]], None),
    ("one-alternative-elsewhere", "DC=ex,DC=test",
     [["ldap://ex.test/CN=Configuration,DC=ex,DC=test", "ldap://other.test/OU=X,DC=other,DC=test"]], None),
    ("no-uri", "DC=ex,DC=test", [[]], None),
    ("not-ldap", "DC=ex,DC=test", [["http://ex.test/CN=Configuration,DC=ex,DC=test"]], None),
    ("no-dn", "DC=ex,DC=test", [["ldap://ex.test"]], None),
]


@pytest.mark.parametrize("case, base, refs, ignored", REFERENCE_CASES, ids=[c[0] for c in REFERENCE_CASES])
def test_only_references_to_the_servers_other_naming_contexts_are_left_out(case, base, refs, ignored):
    c = _unentered(AD_CONTEXTS)
    responses = [{"type": "searchResRef", "uri": uris or None} for uris in refs]
    if ignored is not None:
        assert tuple(c._continuations(base, "(objectClass=user)", responses)) == ignored
        return
    with pytest.raises(LDAPQueryError) as info:
        c._continuations(base, "(objectClass=user)", responses)
    assert "not followed" in str(info.value) and base in str(info.value)
    assert all(repr(u) in str(info.value) for uris in refs for u in uris) or refs == [[]]


def test_a_flood_of_references_is_named_in_a_bounded_message():
    c = _unentered(AD_CONTEXTS)
    responses = [{"type": "searchResRef", "uri": [f"ldap://x{i}.test/OU={'a' * 500},DC=x"]} for i in range(1000)]
    with pytest.raises(LDAPQueryError) as info:
        c._continuations("DC=ex,DC=test", "(objectClass=*)", responses)
    assert "and 990 more" in str(info.value) and len(str(info.value)) < 3000


# -- the cleartext-bind probe: only a refused connection means "no cleartext listener" ------------------------
@pytest.fixture
def silent_port():
    """A port whose SYNs go unanswered: a listener with a full accept queue (the kernel then drops new SYNs)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler = socket.create_connection(("127.0.0.1", port), timeout=2)  # fills the queue, never accepted
        with filler:
            yield port


@pytest.fixture
def closed_port():
    return free_port()


def _probe_target(port: int, timeout: float = 1) -> Target:
    return Target("probe-under-test", Platform.LDAP, {"url": f"ldap://127.0.0.1:{port}", "starttls": True,
                                                      "timeout": timeout}, {})


@pytest.mark.parametrize("port_kind, refused, result, words", [
    ("closed_port", True, "no cleartext listener", "Connection refused"),
    ("silent_port", False, "probe failed", "timed out"),
], ids=["refused-connection", "never-answers"])
def test_only_a_refused_connection_means_no_cleartext_listener(request, port_kind, refused, result, words):
    import time

    port = request.getfixturevalue(port_kind)
    start = time.monotonic()
    got = LDAPConnector(_probe_target(port)).probe_plaintext_bind()
    assert time.monotonic() - start < 5  # bounded by the target's timeout (1 s)
    assert (got.url, got.reachable, got.refused, got.result) == (f"ldap://127.0.0.1:{port}", False, refused, result)
    assert words in got.detail and f"port {port}" in got.detail


def test_a_name_that_does_not_resolve_says_nothing_about_a_listener(monkeypatch):
    def getaddrinfo(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    got = LDAPConnector(_probe_target(389)).probe_plaintext_bind()
    assert (got.refused, got.result) == (False, "probe failed") and "does not resolve" in got.detail


@lab
@pytest.mark.parametrize("port_kind, status", [("closed_port", "pass"), ("silent_port", "error")],
                         ids=["refused-connection", "never-answers"])
def test_tls_required_errors_when_the_cleartext_port_never_answers(slapd_lab, request, monkeypatch, port_kind,
                                                                     status):
    """End to end from a real scan connection: the probe's port is the only thing pointed elsewhere."""
    from scanner.collectors import ldap as collector
    from scanner.registry import Registry
    from scanner.runner import evaluate

    port = request.getfixturevalue(port_kind)
    spec = next(s for s in Registry.load(["checks.ldap"]).select() if s.id == "ldap.tls_required")
    target = slapd_lab.target("good", timeout=1)
    with LDAPConnector(target) as c:
        monkeypatch.setattr(c, "plaintext_url", lambda: (f"ldap://127.0.0.1:{port}", port))
        facts = collector.collect(c, target, spec.facts)
    got = evaluate(spec, facts, target)
    assert [f.status.value for f in got] == [status], [f.message for f in got]
    if status == "error":
        assert "could not determine whether a cleartext listener answers" in got[0].message

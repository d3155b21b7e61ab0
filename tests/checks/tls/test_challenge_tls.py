"""TLS challenges against TLS servers these tests start (tests/lab/tlslab.py).

Real servers: Python ssl on the local OpenSSL 3.0 (TLS 1.0-1.3, NULL and anonymous suites at @SECLEVEL=0).
What OpenSSL 3.0 cannot serve any more (SSL 3.0, RC4, 3DES, EXPORT) is answered by HelloResponder, a ServerHello
responder written by the tests: the probes for those read only the ServerHello, which it sends.
"""
from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest

from checks.tls import challenge_tls
from scanner.challenge import PLANNED, ChallengeContext, ChallengeOutcome, challenge_spec_of, run_challenge
from scanner.model import Status
from scanner.probes import tls
from tests.factories import make_target
from tests.lab.tlslab import HelloResponder, NotTls, Pki, TlsServer, make_pki

TLS1 = ssl.TLSVersion.TLSv1
WEAK = "ALL:NULL:aNULL:@SECLEVEL=0"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("tls-pki"))


def run(func: Any, *endpoints: str, **options: Any) -> ChallengeOutcome:
    spec = challenge_spec_of(func)
    assert spec is not None
    plan = options.pop("plan", False)
    policy = options.pop("policy", {})
    options.setdefault("connect_timeout", 5)
    target = make_target("web1", policy=policy, tls_endpoints=list(endpoints), **options)
    return run_challenge(spec, target, plan=plan)


def summary(out: ChallengeOutcome) -> list[tuple[Status, str]]:
    return [(f.status, f.message) for f in out.findings]


# ---- protocols ---------------------------------------------------------------------------------

def test_a_tls12_only_server_refuses_every_old_protocol(pki: Pki) -> None:
    with TlsServer(pki.good) as server:
        out = run(challenge_tls.protocols, server.endpoint)
    assert summary(out) == [(Status.PASS, "every old protocol version was refused")]
    assert [(s.action, s.ok) for s in out.steps] == [
        (f"TLS handshake to {server.endpoint} offering only {v}", True) for v in ("SSLv3", "TLSv1.0", "TLSv1.1")]
    assert out.steps[0].actual == "hand-built ClientHello: refused (handshake_failure)"
    assert out.steps[1].actual.startswith("Python ssl handshake (OpenSSL 3.0") and "refused" in out.steps[1].actual
    assert out.findings[0].observed["refused"] == ("SSLv3", "TLSv1.0", "TLSv1.1")


def test_a_server_that_still_speaks_tls10_and_tls11_fails(pki: Pki) -> None:
    with TlsServer(pki.good, minimum=TLS1, ciphers="ALL:@SECLEVEL=0") as server:
        out = run(challenge_tls.protocols, server.endpoint)
    assert summary(out) == [(Status.FAIL, "accepted: TLSv1.0, TLSv1.1")]
    assert [s.ok for s in out.steps] == [True, False, False]
    assert "accepted, TLSv1 with" in out.steps[1].actual and "accepted, TLSv1.1 with" in out.steps[2].actual


def test_an_ssl3_server_fails_seen_by_the_hand_built_client_hello() -> None:
    with HelloResponder({0x0300}, {0x002F, 0x000A}) as server:
        out = run(challenge_tls.protocols, server.endpoint, policy={"tls_refused_protocols": ["SSLv3"]})
    assert summary(out) == [(Status.FAIL, "accepted: SSLv3")]
    assert out.steps[0].actual == "hand-built ClientHello: accepted, ServerHello SSLv3 with suite 0x002f"
    assert out.steps[0].sent.startswith("\x16\x03\x00")  # an SSL 3.0 record


def test_an_unknown_protocol_name_in_policy_is_an_error() -> None:
    out = run(challenge_tls.protocols, "127.0.0.1:1", policy={"tls_refused_protocols": ["TLSv0.9"]})
    assert out.findings[0].status is Status.ERROR and "unknown protocols: TLSv0.9" in out.findings[0].message


# ---- weak cipher suites ------------------------------------------------------------------------

def test_a_server_with_aead_suites_only_refuses_every_weak_class(pki: Pki) -> None:
    with TlsServer(pki.good) as server:
        out = run(challenge_tls.weak_ciphers, server.endpoint)
    assert summary(out) == [(Status.PASS, "every weak cipher class was refused")]
    assert [(s.ok, s.actual) for s in out.steps] == [(True, "refused (handshake_failure)")] * 5
    assert [s.action.split(" offering only ")[1].split(" suites")[0] for s in out.steps] == [
        "RC4", "3DES", "NULL", "EXPORT", "anonymous"]


@pytest.mark.parametrize("ciphers, accepted", [("NULL:!aNULL:@SECLEVEL=0", ["NULL"]),
                                               ("aNULL:!eNULL:@SECLEVEL=0", ["anonymous"]),
                                               (WEAK, ["NULL", "anonymous"])])
def test_a_real_server_offering_null_or_anonymous_suites_fails(pki: Pki, ciphers: str, accepted: list[str]) -> None:
    with TlsServer(pki.good, ciphers=ciphers) as server:
        out = run(challenge_tls.weak_ciphers, server.endpoint)
    assert out.findings[0].status is Status.FAIL and out.findings[0].observed["accepted"] == tuple(accepted)
    assert [s.ok for s in out.steps] == [c not in accepted for c in ("RC4", "3DES", "NULL", "EXPORT", "anonymous")]


def test_rc4_and_3des_accepted_are_seen_in_the_server_hello() -> None:
    with HelloResponder({0x0303}, {0x0005, 0x000A}) as server:  # RSA_WITH_RC4_128_SHA, RSA_WITH_3DES_EDE_CBC_SHA
        out = run(challenge_tls.weak_ciphers, server.endpoint)
    assert summary(out) == [(Status.FAIL, "weak suites accepted: RC4, 3DES")]
    assert out.steps[0].actual == "accepted: ServerHello TLSv1.2 with suite 0x0005"


# ---- certificate -------------------------------------------------------------------------------

@pytest.mark.parametrize("which, status, problems", [
    ("good", Status.PASS, None),
    ("expired", Status.FAIL, ["chain", "expiry"]),
    ("expiring", Status.FAIL, ["expiry"]),
    ("wrong_host", Status.FAIL, ["host name"]),
    ("self_signed", Status.FAIL, ["chain"]),
])
def test_the_certificate_is_checked_for_chain_name_and_expiry(pki: Pki, which: str, status: Status,
                                                               problems: list[str] | None) -> None:
    with TlsServer(getattr(pki, which)) as server:
        out = run(challenge_tls.certificate, server.endpoint, ca_file=str(pki.ca))
    assert out.findings[0].status is status
    assert out.findings[0].observed.get("problems") == (tuple(problems) if problems else None)
    assert len(out.steps) == 3 and [s.ok for s in out.steps] == [
        n not in (problems or []) for n in ("chain", "host name", "expiry")]


def test_the_expiry_threshold_is_policy_and_the_system_store_is_used_without_ca_file(pki: Pki) -> None:
    with TlsServer(pki.expiring) as server:
        ok = run(challenge_tls.certificate, server.endpoint, ca_file=str(pki.ca), policy={"cert_expiry_days": 3})
        system = run(challenge_tls.certificate, server.endpoint, policy={"cert_expiry_days": 3})
        tls_ca = run(challenge_tls.certificate, server.endpoint, tls_ca_file=str(pki.ca), ca_file="/nonexistent",
                     policy={"cert_expiry_days": 3})
    assert ok.findings[0].status is Status.PASS and "policy: more than 3" in ok.steps[2].actual
    assert system.findings[0].status is Status.FAIL and system.findings[0].observed["problems"] == ("chain",)
    assert "the system trust store" in system.steps[0].actual
    assert tls_ca.findings[0].status is Status.PASS and f"ca_file {pki.ca}" in tls_ca.steps[0].actual


def test_a_wrong_name_is_named_in_the_step(pki: Pki) -> None:
    with TlsServer(pki.wrong_host) as server:
        out = run(challenge_tls.certificate, server.endpoint, ca_file=str(pki.ca))
    assert out.steps[1].actual == "127.0.0.1 is not among the certificate's names (other.example, 192.0.2.7)"


@pytest.mark.parametrize("host, dns, ips, expected", [
    ("ldap1.lab", ["ldap1.lab"], [], True),
    ("LDAP1.lab.", ["ldap1.LAB"], [], True),
    ("ldap1.lab", ["*.lab"], [], False),  # a wildcard never covers a bare top-level name's child alone
    ("ldap1.corp.lab", ["*.corp.lab"], [], True),
    ("a.b.corp.lab", ["*.corp.lab"], [], False),
    ("corp.lab", ["*.corp.lab"], [], False),
    ("10.0.0.5", ["10.0.0.5"], [], False),  # an IP address only against IP SANs
    ("10.0.0.5", [], ["10.0.0.5"], True),
    ("::1", [], ["0:0:0:0:0:0:0:1"], True),
    ("x.corp.lab", ["x*.corp.lab"], [], False),
])
def test_host_name_matching(host: str, dns: list[str], ips: list[str], expected: bool) -> None:
    assert tls.hostname_matches(host, dns, ips) is expected


# ---- every challenge: undetermined, not TLS, plan, endpoints -----------------------------------

CHALLENGES = [challenge_tls.protocols, challenge_tls.weak_ciphers, challenge_tls.certificate]


@pytest.mark.parametrize("func", CHALLENGES)
def test_nothing_listening_or_a_service_that_is_not_tls_is_an_error_never_a_pass(func: Any) -> None:
    closed = run(func, "127.0.0.1:1")
    assert closed.findings[0].status is Status.ERROR
    assert all(s.ok is None and s.actual.startswith("could not run: ConnectionRefusedError") for s in closed.steps)
    with NotTls() as server:
        garbled = run(func, server.endpoint)
    assert garbled.findings[0].status is Status.ERROR and {s.ok for s in garbled.steps} == {None}


@pytest.mark.parametrize("func, steps", [(challenge_tls.protocols, 3), (challenge_tls.weak_ciphers, 5),
                                         (challenge_tls.certificate, 3)])
def test_plan_lists_the_steps_per_endpoint_without_connecting(func: Any, steps: int) -> None:
    with NotTls() as server:
        out = run(func, server.endpoint, "ldap1.lab:636", plan=True)
        assert server.connections == 0
    assert out.findings == () and len(out.steps) == 2 * steps
    assert {s.actual for s in out.steps} == {PLANNED} and "ldap1.lab:636" in out.steps[-1].action


@pytest.mark.parametrize("func", CHALLENGES)
def test_no_endpoint_is_not_applicable_and_a_bad_entry_is_an_error(func: Any) -> None:
    assert [f.status for f in run(func).findings] == [Status.NOT_APPLICABLE]
    bad = run(func, "ldap1.lab", plan=False)
    assert [(f.status, f.message) for f in bad.findings] == [
        (Status.ERROR, "tls_endpoints entry refused: not a host:port endpoint: 'ldap1.lab'")]


def test_endpoints_implied_by_ldap_and_windows_targets_are_added_once() -> None:
    ldap = make_target("dir1", type="ldap", url="ldaps://ldap1.lab", tls_endpoints=["ldap1.lab:636", "[::1]:8443"])
    starttls = make_target("dir2", type="ldap", url="ldap://ldap1.lab", starttls=True)
    win = make_target("win1", type="windows", host="win1.lab", user="u", password_env="E")
    plain = make_target("win2", type="windows", host="win2.lab", scheme="http", allow_plaintext=True, user="u",
                        password_env="E")
    assert [str(e) for e in tls.endpoints_of(ldap)[0]] == ["ldap1.lab:636", "[::1]:8443"]
    assert tls.endpoints_of(starttls) == ([], [])
    assert [str(e) for e in tls.endpoints_of(win)[0]] == ["win1.lab:5986"]
    assert tls.endpoints_of(plain) == ([], [])


@pytest.mark.parametrize("text", ["host", "host:0", "host:99999", "a b:1", "user@host:1", "[::1]", "h:1x",
                                  "x" * 300 + ":1", "h\x1b[31m:1"])
def test_an_endpoint_that_is_not_host_port_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a host:port endpoint"):
        tls.parse_endpoint(text)


def test_the_catalog_metadata_of_the_tls_challenges(tmp_path: Path) -> None:
    specs = [challenge_spec_of(f) for f in CHALLENGES]
    assert [(s.id, s.impact.value, sorted(p.value for p in s.platforms)) for s in specs if s] == [
        (f"tls.challenge.{n}", "safe", ["ldap", "linux", "windows"]) for n in ("protocols", "weak_ciphers",
                                                                               "certificate")]
    assert all(s and s.remediation for s in specs)


def test_scan_challenge_safe_end_to_end(pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`gxpscan scan --challenge safe` runs the TLS challenges on a target's tls_endpoints and records the steps."""
    import json

    from scanner import cli
    from scanner.registry import Registry

    monkeypatch.setattr(cli, "_load_registry", lambda platforms=None, patterns=None: Registry.load(["checks.tls"]))
    with TlsServer(pki.good, minimum=TLS1, ciphers="ALL:@SECLEVEL=0") as server:
        inv = tmp_path / "inv.json"
        inv.write_text(json.dumps({"version": 1, "targets": [
            {"name": "web1", "type": "linux", "connection": "local", "tls_endpoints": [server.endpoint]}]}))
        out = tmp_path / "out"
        code = cli.main(["scan", "-i", str(inv), "-c", "tls.challenge.*", "-o", str(out), "--no-history",
                         "--challenge", "safe", "--format", "json"])
    doc = json.loads((out / "report.json").read_text())
    found = {f["check"]: (f["status"], len(f["steps"])) for f in doc["findings"]}
    assert code == cli.EXIT_FAILURES and found == {"tls.challenge.protocols": ("fail", 3),
                                                   "tls.challenge.weak_ciphers": ("fail", 5),  # ALL has aNULL
                                                   "tls.challenge.certificate": ("fail", 3)}


def test_the_ldaps_endpoint_of_an_ldap_target_is_challenged(slapd_lab: Any) -> None:
    """A real slapd (tests/lab/slapdlab.py), found through the target's ldaps:// URL alone."""
    server = slapd_lab.servers["good"]
    target = slapd_lab.target("good", url=server.ldaps_url, starttls=False, policy={"cert_expiry_days": 1})
    outs = {f.__name__: run_challenge(challenge_spec_of(f), target) for f in CHALLENGES}  # type: ignore[arg-type]
    endpoint = server.ldaps_url.removeprefix("ldaps://")
    assert {n: [(x.status, x.resource, x.message) for x in o.findings] for n, o in outs.items()} == {
        # Debian's slapd is built with GnuTLS, whose default priorities still allow TLS 1.0 and 1.1
        "protocols": [(Status.FAIL, f"tls {endpoint}", "accepted: TLSv1.0, TLSv1.1")],
        "weak_ciphers": [(Status.PASS, f"tls {endpoint}", "every weak cipher class was refused")],
        "certificate": [(Status.PASS, f"tls {endpoint}", "the certificate verifies, names the host and is not "
                                                          "expiring")]}
    short = run_challenge(challenge_spec_of(challenge_tls.certificate),  # type: ignore[arg-type]
                          slapd_lab.target("good", url=server.ldaps_url, starttls=False))
    assert short.findings[0].observed["problems"] == ("expiry",)  # the lab's certificates live two days


def test_the_winrm_https_listener_of_a_windows_target_is_challenged(pki: Pki, tmp_path: Path) -> None:
    """The WS-Man responder (tests/lab/wsman.py) with a certificate of the tests' CA, found through host and port."""
    from tests.lab.slapdlab import CA, ServerCert
    from tests.lab.wsman import WSManResponder, echo_reply

    ca = CA(pki.ca, pki.ca)
    cert = ServerCert(pki.good.cert, pki.good.key)
    with WSManResponder(echo_reply, tls=True, users={}, directory=tmp_path, ca=ca, cert=cert) as r:
        target = make_target("win1", type="windows", host=r.host, port=r.port, user="u", password_env="E",
                             ca_file=str(pki.ca), connect_timeout=5)
        outs = [run_challenge(challenge_spec_of(f), target) for f in CHALLENGES]  # type: ignore[arg-type]
    assert [[(x.status, x.resource) for x in o.findings] for o in outs] == [
        [(Status.PASS, f"tls 127.0.0.1:{r.port}")]] * 3


def test_names_from_a_hostile_certificate_are_escaped_in_the_step(tmp_path: Path) -> None:
    from tests.lab.tlslab import issue

    hostile = issue(tmp_path, "hostile", dns=("evil\x1b[31m.example",))
    with TlsServer(hostile) as server:
        out = run(challenge_tls.certificate, server.endpoint)
    assert "\x1b" not in out.steps[1].actual and "evil\\x1b[31m.example" in out.steps[1].actual


# ---- what each step says it does, the resource and words of each verdict (docs/mutation.md) ------

@pytest.mark.parametrize("options, trust, days", [
    ({}, "the system trust store", 30),  # default expiry threshold: 30 days
    ({"ca_file": "/ca/one.pem"}, "ca_file /ca/one.pem", 30),
    ({"tls_ca_file": "/ca/tls.pem", "ca_file": "/ca/one.pem"}, "ca_file /ca/tls.pem", 30),
    ({"tls_ca_file": "/ca/tls.pem", "policy": {"cert_expiry_days": "7"}}, "ca_file /ca/tls.pem", 7)])
def test_plan_names_every_step_of_the_certificate_challenge(options: dict[str, Any], trust: str, days: int) -> None:
    out = run(challenge_tls.certificate, "web1.lab:443", plan=True, **options)
    assert [(s.action, s.expected) for s in out.steps] == [
        (f"verifying TLS handshake to web1.lab:443 against {trust}", "the chain verifies"),
        ("read the certificate of web1.lab:443 and match web1.lab against its subjectAltName",
         "web1.lab is one of its names"),
        ("read the validity of the certificate of web1.lab:443", f"valid for more than {days} days")]


def test_plan_names_every_step_of_the_protocol_and_cipher_challenges() -> None:
    protocols = run(challenge_tls.protocols, "web1.lab:443", plan=True,
                    policy={"tls_refused_protocols": ["TLSv1.1", "SSLv3"]})
    assert [(s.action, s.expected) for s in protocols.steps] == [
        ("TLS handshake to web1.lab:443 offering only TLSv1.1", "the server refuses TLSv1.1"),
        ("TLS handshake to web1.lab:443 offering only SSLv3", "the server refuses SSLv3")]
    ciphers = run(challenge_tls.weak_ciphers, "web1.lab:443", plan=True,
                  policy={"tls_weak_cipher_classes": ["3DES", "RC4"]})
    assert [(s.action, s.expected) for s in ciphers.steps] == [
        ("TLS 1.2 ClientHello to web1.lab:443 offering only 3DES suites (12 suites)",
         "the server refuses every 3DES suite"),
        ("TLS 1.2 ClientHello to web1.lab:443 offering only RC4 suites (10 suites)",
         "the server refuses every RC4 suite")]


@pytest.mark.parametrize("func, policy, message", [
    (challenge_tls.protocols, {"tls_refused_protocols": ["TLSv1.0", "TLSv0.9", "SSLv2"]},
     "unknown protocols: TLSv0.9, SSLv2 (known: SSLv3, TLSv1.0, TLSv1.1, TLSv1.2)"),
    (challenge_tls.weak_ciphers, {"tls_weak_cipher_classes": ["RC4", "DES"]},
     "unknown cipher classes: DES (known: RC4, 3DES, NULL, EXPORT, anonymous)")])
def test_an_unknown_name_in_policy_is_an_error_naming_it_and_the_known_ones(func: Any, policy: dict[str, Any],
                                                                          message: str) -> None:
    out = run(func, "127.0.0.1:1", policy=policy)
    assert [(f.status, f.message) for f in out.findings] == [
        (Status.ERROR, f"the challenge raised ValueError: policy names {message}")]
    assert out.steps == ()


@pytest.mark.parametrize("func, refused", [
    (challenge_tls.protocols, ("SSLv3", "TLSv1.0", "TLSv1.1")),
    (challenge_tls.weak_ciphers, ("RC4", "3DES", "NULL", "EXPORT", "anonymous")),
    (challenge_tls.certificate, ("chain", "host name", "expiry"))])
def test_a_good_endpoint_passes_under_its_own_name_naming_what_was_checked(pki: Pki, func: Any,
                                                                         refused: tuple[str, ...]) -> None:
    with TlsServer(pki.good) as server:
        out = run(func, server.endpoint, ca_file=str(pki.ca))
    words = {challenge_tls.protocols: "every old protocol version was refused",
             challenge_tls.weak_ciphers: "every weak cipher class was refused",
             challenge_tls.certificate: "the certificate verifies, names the host and is not expiring"}[func]
    assert [(f.status, f.resource, f.message, dict(f.observed)) for f in out.findings] == [
        (Status.PASS, f"tls {server.endpoint}", words, {"refused": refused})]


def test_a_failed_and_an_undetermined_endpoint_are_each_named(pki: Pki) -> None:
    with TlsServer(pki.good, minimum=TLS1, ciphers="ALL:@SECLEVEL=0") as server:
        out = run(challenge_tls.protocols, server.endpoint, "127.0.0.1:1")
    assert [(f.status, f.resource, f.message, dict(f.observed)) for f in out.findings] == [
        (Status.FAIL, f"tls {server.endpoint}", "accepted: TLSv1.0, TLSv1.1",
         {"accepted": ("TLSv1.0", "TLSv1.1"), "undetermined": ()}),
        (Status.ERROR, "tls 127.0.0.1:1", "could not be determined for SSLv3, TLSv1.0, TLSv1.1",
         {"undetermined": ("SSLv3", "TLSv1.0", "TLSv1.1")})]
    with TlsServer(pki.expired) as server:
        (cert,) = run(challenge_tls.certificate, server.endpoint, ca_file=str(pki.ca)).findings
    assert (cert.status, cert.resource, cert.observed["problems"]) == (
        Status.FAIL, f"tls {server.endpoint}", ("chain", "expiry"))
    assert cert.message.startswith("chain: not trusted against ca_file ") and "; expiry: " in cert.message


@pytest.mark.parametrize("func", CHALLENGES)
def test_a_server_that_never_answers_is_an_error_within_the_connect_timeout(func: Any) -> None:
    """Every probe gets the target's connect_timeout: a listener that accepts and stays silent ends each step."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes the TCP handshakes; nobody ever reads or answers
    endpoint = f"127.0.0.1:{silent.getsockname()[1]}"
    got: list[ChallengeOutcome] = []
    worker = threading.Thread(target=lambda: got.append(run(func, endpoint, connect_timeout=0.3)), daemon=True)
    try:
        worker.start()
        worker.join(30)
    finally:
        silent.close()  # resets the waiting connections: a probe without a timeout ends too
    assert got, "a probe waited past the connect timeout"
    (f,) = got[0].findings
    assert f.status is Status.ERROR and {s.ok for s in got[0].steps} == {None}
    assert all("timed out" in s.actual for s in got[0].steps)


def test_the_certificate_challenge_itself_defaults_to_30_days() -> None:
    """Its own default, not only the one the challenge spec passes (a caller without the spec gets the same)."""
    ctx = ChallengeContext(make_target("web1", tls_endpoints=["web1.lab:443"]), plan=True)
    assert [f.status for f in challenge_tls.certificate(ctx)] == [Status.PASS]  # planned probes answer ok
    assert ctx.steps[2].expected == "valid for more than 30 days"
    assert challenge_spec_of(challenge_tls.certificate).params["cert_expiry_days"] == 30  # type: ignore[union-attr]

"""Windows network challenges: SMB1 against a real Samba smbd the test starts (its own config, directory and port),
RDP NLA against tests/lab/rdplab.py (an RDP negotiation responder written by the tests: no RDP server runs here)."""
from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import pytest

from checks.windows import challenge_network
from scanner.challenge import PLANNED, ChallengeOutcome, Probe, challenge_spec_of, run_challenge
from scanner.model import Status
from scanner.probes import rdp
from tests.conftest import lab_unavailable
from tests.factories import make_target
from tests.lab import smblab
from tests.lab.rdplab import RdpResponder
from tests.lab.smblab import Smbd
from tests.lab.tlslab import NotTls


def run(func: Any, plan: bool = False, **options: Any) -> ChallengeOutcome:
    """One challenge on a target at 127.0.0.1 with a 5 s connect timeout (an option given as None is left out)."""
    spec = challenge_spec_of(func)
    assert spec is not None
    given = {"host": "127.0.0.1", "user": "LAB\\svc", "password_env": "E", "connect_timeout": 5, **options}
    target = make_target("win1", type="windows", **{k: v for k, v in given.items() if v is not None})
    return run_challenge(spec, target, plan=plan)


@pytest.fixture(scope="module", params=["NT1", "SMB2_02"])
def smbd(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smbd]:
    reason = smblab.available()
    if reason:
        lab_unavailable(reason)
    with Smbd(tmp_path_factory.mktemp(f"smbd-{request.param}"), request.param) as server:
        yield server


@pytest.mark.lab
def test_smb1_against_a_real_smbd(smbd: Smbd) -> None:
    out = run(challenge_network.smb1_refused, smb_port=smbd.port)
    resource = f"127.0.0.1:{smbd.port}"
    expected = {"NT1": (Status.FAIL, "the server negotiated SMB1 (NT LM 0.12)", False,
                        "accepted: the server selected SMB1 dialect NT LM 0.12"),
                "SMB2_02": (Status.PASS, "SMB1 was refused", True,
                            "refused: no dialect selected (status 0x00000000)")}[smbd.min_protocol]
    finding, step = out.findings[0], out.steps[0]
    assert (finding.status, finding.message, step.ok, step.actual) == expected and finding.resource == resource
    assert len(out.steps) == 1 and step.action == f"SMB1 NEGOTIATE to {resource} offering only the dialect NT LM 0.12"
    assert "\x02NT LM 0.12\x00" in step.sent and step.sent.count("\x02") == 1  # one dialect offered


NO_NLA = "the server accepts a connection without NLA"


@pytest.mark.parametrize("mode, status, message, ok, actual", [
    ("nla", Status.PASS, "the server requires NLA", True, "refused: RDP negotiation failure HYBRID_REQUIRED_BY_SERVER"),
    ("tls", Status.FAIL, NO_NLA, False, "accepted: the server selected TLS without NLA"),
    ("legacy", Status.FAIL, NO_NLA, False,
     "accepted: the server answered without negotiation (standard RDP security, no NLA)"),
    ("garbage", Status.ERROR, "could not be determined: the answer is not an X.224 Connection Confirm", None,
     "the answer is not an X.224 Connection Confirm"),
])
def test_rdp_nla(mode: str, status: Status, message: str, ok: bool | None, actual: str) -> None:
    with RdpResponder(mode) as server:
        out = run(challenge_network.rdp_nla_required, rdp_port=server.port)
    assert (out.findings[0].status, out.findings[0].message, [s.ok for s in out.steps], out.steps[0].actual) == (
        status, message, [ok], actual)
    assert out.steps[0].action == (f"X.224 Connection Request to 127.0.0.1:{server.port} with an RDP negotiation "
                                   "request offering only TLS (PROTOCOL_SSL)")
    request = server.requests[0]
    assert request[:2] == b"\x03\x00" and struct.unpack("<I", request[-4:])[0] == 1  # PROTOCOL_SSL only


@pytest.mark.parametrize("func, option", [(challenge_network.smb1_refused, "smb_port"),
                                          (challenge_network.rdp_nla_required, "rdp_port")])
def test_a_closed_port_is_not_applicable_and_a_foreign_service_an_error(func: Any, option: str) -> None:
    closed = run(func, **{option: 1})
    assert [(f.status, f.message) for f in closed.findings] == [
        (Status.NOT_APPLICABLE, f"nothing listens on 127.0.0.1:1 (connection refused; {option})")]
    assert [(s.ok, s.actual, s.sent, s.received) for s in closed.steps] == [
        (None, challenge_network.NOT_LISTENING, "", "")]
    with NotTls() as server:
        foreign = run(func, **{option: server.port})
    assert foreign.findings[0].status is Status.ERROR and foreign.steps[0].ok is None


@pytest.mark.parametrize("func", [challenge_network.smb1_refused, challenge_network.rdp_nla_required])
def test_plan_lists_the_step_without_connecting(func: Any) -> None:
    with NotTls() as server:
        out = run(func, plan=True, smb_port=server.port, rdp_port=server.port)
        assert server.connections == 0
    assert out.findings == () and [(s.actual, s.planned) for s in out.steps] == [(PLANNED, True)]


STEPS = {"smb1_refused": ("smb_port", 445, "SMB1 NEGOTIATE to {} offering only the dialect NT LM 0.12",
                          "the server refuses SMB1 (closes, resets, or selects no dialect)"),
         "rdp_nla_required": ("rdp_port", 3389, "X.224 Connection Request to {} with an RDP negotiation request "
                                                "offering only TLS (PROTOCOL_SSL)",
                              "RDP negotiation failure HYBRID_REQUIRED_BY_SERVER")}


@pytest.mark.parametrize("func", [challenge_network.smb1_refused, challenge_network.rdp_nla_required])
def test_each_step_names_its_endpoint_and_what_a_hardened_server_does(func: Any) -> None:
    option, default_port, action, expected = STEPS[func.__name__]
    for port, endpoint in ((None, f"127.0.0.1:{default_port}"), (4242, "127.0.0.1:4242")):
        out = run(func, plan=True, **{option: port})
        assert [(s.action, s.expected) for s in out.steps] == [(action.format(endpoint), expected)]


@pytest.mark.parametrize("func", [challenge_network.smb1_refused, challenge_network.rdp_nla_required])
def test_a_target_without_a_host_is_an_error_and_nothing_is_sent(func: Any) -> None:
    out = run(func, host=None)
    assert [(f.status, f.message) for f in out.findings] == [(Status.ERROR, "the target names no host")]
    assert out.steps == ()


@pytest.mark.parametrize(("connect_timeout", "seconds"), [(5, 5.0), (None, 10.0)])
def test_the_probe_gets_the_host_port_and_connect_timeout_or_ten_seconds(
        monkeypatch: pytest.MonkeyPatch, connect_timeout: int | None, seconds: float) -> None:
    asked: list[tuple[str, int, float]] = []
    real = rdp.nla_probe

    def nla_probe(host: str, port: int, timeout: float) -> Probe:
        asked.append((host, port, timeout))
        return real(host, port, timeout)
    monkeypatch.setattr(rdp, "nla_probe", nla_probe)
    with RdpResponder("nla") as server:
        out = run(challenge_network.rdp_nla_required, rdp_port=server.port, connect_timeout=connect_timeout)
    assert out.findings[0].status is Status.PASS and asked == [("127.0.0.1", server.port, seconds)]

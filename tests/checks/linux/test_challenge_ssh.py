"""SSH challenges (safe) against real OpenSSH servers in network namespaces (tests/lab/sshlab.py); nothing mocked.

"hardened" refuses every weak algorithm, offers public keys only and refuses root; "weak" accepts 3des-cbc,
aes128-cbc, hmac-md5, two SHA-1 key exchanges (added on its command line), passwords and a root logon with the
lab key (authorised for root on both hosts, so that a refusal on "hardened" is the configuration's doing).
"""
from __future__ import annotations

import pytest

from checks.linux import challenge_ssh as cs
from scanner.challenge import PLANNED, challenge_spec_of, run_challenge
from scanner.model import Status
from tests.conftest import lab_unavailable
from tests.factories import make_target
from tests.lab.sshlab import SSHLab, require_tools

WEAK_KEX = ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    lab = SSHLab(tmp_path_factory.mktemp("sshlab-challenge"))
    try:
        for profile in ("weak", "hardened"):
            ssh_dir = lab.profile(profile) / "root" / ".ssh"
            ssh_dir.mkdir(mode=0o700)
            (ssh_dir / "authorized_keys").write_text(lab.authorized)
            (ssh_dir / "authorized_keys").chmod(0o600)
        lab.add("weak", "weak", sshd_options=(f"KexAlgorithms=+{','.join(WEAK_KEX)}",))
        lab.add("hardened", "hardened")
        lab.wait_ready()
        lab.write_known_hosts()
        yield lab
    finally:
        lab.close()


def target(lab: SSHLab, name: str, policy: dict | None = None, **opts):
    base = {"connection": "ssh", "host": lab.hosts[name].address, "user": "gxpscan",
            "key_file": str(lab.user_key), "known_hosts": str(lab.known_hosts), "connect_timeout": 5}
    return make_target(name, policy=policy, **{**base, **opts})


def run(func, tgt, **kw):
    return run_challenge(challenge_spec_of(func), tgt, **kw)


CONTROL = "offering the server's own algorithms (control)"
CIPHERS = cs.expand(cs.Category.CIPHER, cs._patterns(cs.CIS_WEAK_CIPHERS))[0]
MACS = cs.expand(cs.Category.MAC, cs._patterns(cs.CIS_WEAK_MACS))[0]
KEX = cs.expand(cs.Category.KEX, cs._patterns(cs.CIS_WEAK_KEX))[0]

#: challenge, host, policy, expected status, steps (after the control), the algorithms the host accepted
ALGORITHM_CASES = [
    (cs.ssh_weak_ciphers_refused, "hardened", {}, Status.PASS, CIPHERS, []),
    (cs.ssh_weak_ciphers_refused, "weak", {}, Status.FAIL, CIPHERS, ["3des-cbc", "aes128-cbc"]),
    (cs.ssh_weak_macs_refused, "hardened", {}, Status.PASS, MACS, []),
    (cs.ssh_weak_macs_refused, "weak", {}, Status.FAIL, MACS, ["hmac-md5"]),
    (cs.ssh_weak_kex_refused, "hardened", {}, Status.PASS, KEX, []),
    (cs.ssh_weak_kex_refused, "weak", {}, Status.FAIL, KEX, list(WEAK_KEX)),
    (cs.ssh_weak_host_keys_refused, "hardened", {}, Status.PASS,
     ("ssh-dss", "ssh-dss-cert-v01@openssh.com", "ssh-dss-cert-v00@openssh.com", "ssh-rsa-cert-v00@openssh.com"), []),
    # the policy names ed25519 weak: the host's only key type is then accepted, for real
    (cs.ssh_weak_host_keys_refused, "weak", {"ssh_weak_host_keys": ["ssh-ed25519", "ssh-dss"]}, Status.FAIL,
     ("ssh-ed25519", "ssh-dss"), ["ssh-ed25519"]),
]


@pytest.mark.parametrize("func, host, policy, status, offered, accepted", ALGORITHM_CASES,
                         ids=[f"{c[0].__name__}-{c[1]}" for c in ALGORITHM_CASES])
def test_each_weak_algorithm_is_offered_alone_after_a_control(lab, func, host, policy, status, offered, accepted):
    out = run(func, target(lab, host, policy))
    (finding,) = out.findings
    assert finding.status is status, finding.message
    assert list(finding.observed["accepted"]) == accepted and not finding.observed["undetermined"]
    # a policy pattern that matches no algorithm name the probe knows is stated, not silently dropped
    unknown = ["gss-*-sha1"] if func is cs.ssh_weak_kex_refused else []
    assert list(finding.observed["not_offerable"]) == unknown
    assert ("not offered: gss-*-sha1" in finding.message) is (bool(unknown) and status is Status.PASS)
    assert len(out.steps) == 1 + len(offered)
    assert out.steps[0].action.endswith(CONTROL) and out.steps[0].ok is True
    assert [s.action.rsplit(" ", 1)[1] for s in out.steps[1:]] == list(offered)
    assert [s.ok for s in out.steps[1:]] == [name not in accepted for name in offered]
    assert all(s.actual.startswith("refused: the server closed the connection") for s in out.steps[1:]
               if s.ok), [s.actual for s in out.steps]
    assert out.steps[1].sent.startswith("SSH-2.0-gxpscan_challenge") and "SSH-2.0-OpenSSH" in out.steps[1].received


def test_a_host_that_does_not_answer_is_an_error_not_a_pass(lab):
    tgt = make_target("silent", connection="ssh", host=lab.unreachable(), user="gxpscan", connect_timeout=1)
    out = run(cs.ssh_weak_ciphers_refused, tgt)
    assert out.findings[0].status is Status.ERROR and "control negotiation did not succeed" in out.findings[0].message
    assert [s.ok for s in out.steps] == [None]


@pytest.mark.parametrize("func, host, status, actual", [
    (cs.ssh_password_refused, "hardened", Status.PASS, "offered: publickey"),
    (cs.ssh_password_refused, "weak", Status.FAIL,
     "offered: publickey,gssapi-keyex,gssapi-with-mic,password,hostbased (includes password)"),
    (cs.ssh_root_key_refused, "hardened", Status.PASS, "logon refused"),
    (cs.ssh_root_key_refused, "weak", Status.FAIL, "logon accepted"),
    (cs.ssh_host_key_verified, "hardened", Status.PASS, "the host presented ssh-ed25519 SHA256:"),
])
def test_logon_methods_root_and_host_key(lab, func, host, status, actual):
    out = run(func, target(lab, host))
    assert out.findings[0].status is status, out.findings[0].message
    assert len(out.steps) == 1 and out.steps[0].actual.startswith(actual)
    assert out.steps[0].ok is (status is Status.PASS)


def test_password_and_root_challenges_follow_the_policy(lab):
    tgt = target(lab, "weak", {"ssh_password_authentication": True, "ssh_permit_root_login": "prohibit-password"})
    for func in (cs.ssh_password_refused, cs.ssh_root_key_refused):
        out = run(func, tgt)
        assert out.findings[0].status is Status.NOT_APPLICABLE and out.steps == ()


def test_a_changed_or_unknown_host_key_fails_and_is_never_recorded(lab, tmp_path):
    changed = lab.write_known_hosts(tmp_path / "changed", override={"hardened": lab.hosts["weak"].key_pub})
    out = run(cs.ssh_host_key_verified, target(lab, "hardened", known_hosts=str(changed)))
    assert out.findings[0].status is Status.FAIL and out.findings[0].message.startswith("HOST KEY CHANGED")
    empty = tmp_path / "empty"
    empty.write_text("")
    out = run(cs.ssh_host_key_verified, target(lab, "hardened", known_hosts=str(empty), trust_on_first_use=True))
    assert out.findings[0].status is Status.FAIL and "unknown host key" in out.findings[0].message
    assert empty.read_text() == ""  # trust on first use is not honoured by a challenge


@pytest.mark.parametrize("func, steps", [
    (cs.ssh_weak_ciphers_refused, 1 + len(CIPHERS)), (cs.ssh_weak_macs_refused, 1 + len(MACS)),
    (cs.ssh_weak_kex_refused, 1 + len(KEX)), (cs.ssh_weak_host_keys_refused, 5), (cs.ssh_password_refused, 1),
    (cs.ssh_root_key_refused, 1), (cs.ssh_host_key_verified, 1)])
def test_plan_lists_the_steps_without_connecting(lab, func, steps):
    tgt = make_target("planned", connection="ssh", host=lab.unreachable(), user="gxpscan", key_file="/nonexistent")
    out = run(func, tgt, plan=True)
    assert out.findings == () and len(out.steps) == steps
    assert {(s.actual, s.planned) for s in out.steps} == {(PLANNED, True)}


def test_the_root_key_is_challenge_root_key_file_when_set(lab):
    tgt = target(lab, "weak", key_file=str(lab.wrong_key), challenge_root_key_file=str(lab.user_key))
    out = run(cs.ssh_root_key_refused, tgt)
    assert out.findings[0].status is Status.FAIL and out.findings[0].observed["key"] == str(lab.user_key)
    assert out.steps[0].action.endswith(f"as root with the key {lab.user_key}")

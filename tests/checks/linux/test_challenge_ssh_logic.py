"""The verdict logic of the SSH challenges (checks/linux/challenge_ssh.py), without a server.

Only the functions of scanner/probes/ssh.py that talk to a server are replaced, by a fake server (``FakeSSH``)
that answers from its settings and records every call with its arguments: ``negotiate`` (the real ``offer_only``
still turns its outcome into a probe), ``auth_methods``, ``key_logon`` and ``verify_host_key``. The lab tests prove
those against real OpenSSH servers: tests/checks/linux/test_challenge_ssh.py (hardened and weak sshd in network
namespaces) and tests/checks/linux/test_challenge_ssh_hostile.py (a server that hangs up on every KEXINIT).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from checks.linux import challenge_ssh as cs
from checks.linux.ssh import CIS_WEAK_CIPHERS, CIS_WEAK_KEX, CIS_WEAK_MACS, WEAK_HOST_KEYS
from scanner.challenge import PLANNED, ChallengeContext, Probe, challenge_spec_of, run_challenge
from scanner.model import Status, Target, error, failed, not_applicable, passed
from scanner.probes import ssh as probe
from scanner.probes.ssh import Category, Logon, Negotiation
from tests.factories import make_target

RES = "sshd 10.0.0.5:2222"


@dataclass(frozen=True)
class FakeSSH:
    """A server's answers: the control negotiation's outcome, the weak algorithms it accepts or answers
    unclearly, the logon methods it offers, what a root key logon gives, what the host key check says."""

    control: Negotiation = Negotiation.ACCEPTED
    accepts: frozenset[str] = frozenset()
    unclear: frozenset[str] = frozenset()
    methods: tuple[str, ...] = ("publickey",)
    root: Logon | None = Logon.REFUSED  # None: the logon raises
    host_key: Probe = Probe(True, "the host presented ssh-ed25519 SHA256:abc, as known_hosts lists")
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeSSH:
        monkeypatch.setattr(probe, "negotiate", self.negotiate)
        monkeypatch.setattr(probe, "auth_methods", self.auth_methods)
        monkeypatch.setattr(probe, "key_logon", self.key_logon)
        monkeypatch.setattr(probe, "verify_host_key", self.verify_host_key)
        return self

    def negotiate(self, target: Target, category: Category | None, algorithm: str = "") -> tuple[Any, ...]:
        self.calls.append(("negotiate", target, category, algorithm))
        if category is None:
            outcome = self.control
        elif algorithm in self.unclear:
            outcome = Negotiation.UNDETERMINED
        else:
            outcome = Negotiation.ACCEPTED if algorithm in self.accepts else Negotiation.REFUSED
        return outcome, f"answer to {algorithm or 'control'}", b"sent", b"received"

    def auth_methods(self, target: Target, refused: frozenset[str]) -> Probe:
        self.calls.append(("auth_methods", target, refused))
        bad = sorted(refused & set(self.methods))
        return Probe(not bad, f"offered: {','.join(self.methods)}" + (f" (includes {', '.join(bad)})" if bad else ""))

    def key_logon(self, target: Target, user: str, key_path: str) -> Logon:
        self.calls.append(("key_logon", target, user, key_path))
        if self.root is None:
            raise OSError("connection reset")
        return self.root

    def verify_host_key(self, target: Target) -> Probe:
        self.calls.append(("verify_host_key", target))
        return self.host_key


def target(policy: dict[str, Any] | None = None, **options: Any) -> Target:
    return make_target("web-01", policy=policy, **{"connection": "ssh", "host": "10.0.0.5", "port": 2222,
                                                   "user": "gxpscan", "key_file": "/keys/scan", **options})


def steps(ctx: ChallengeContext) -> list[tuple[str, str, bool | None]]:
    return [(s.action, s.expected, s.ok) for s in ctx.steps]


def control_step(ok: bool | None = True) -> tuple[str, str, bool | None]:
    return ("SSH negotiation with 10.0.0.5:2222 offering the server's own algorithms (control)",
            "the server agrees and begins the key exchange", ok)


def offer_step(category: Category, name: str, ok: bool | None) -> tuple[str, str, bool | None]:
    return (f"SSH negotiation with 10.0.0.5:2222 offering only the {category.value} {name}",
            f"the server refuses it (no matching {category.value})", ok)


# ---- names -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, where", [
    ({"host": "10.0.0.5", "port": 2222}, "10.0.0.5:2222"), ({"host": "10.0.0.5"}, "10.0.0.5:22"), ({}, "web-01:22")])
def test_where_is_the_host_and_port_or_the_name_and_22(options: dict[str, Any], where: str) -> None:
    tgt = make_target("web-01", **options)
    assert (cs.where(tgt), cs.resource(tgt)) == (where, f"sshd {where}")


def test_expand_keeps_names_expands_patterns_once_and_names_the_unmatched() -> None:
    assert cs.expand(Category.CIPHER, ("3des-cbc", "*-cbc", "no-such-cipher", "x*y")) == (
        ("3des-cbc", "des-cbc", "blowfish-cbc", "cast128-cbc", "idea-cbc", "twofish-cbc", "twofish128-cbc",
         "twofish256-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc", "no-such-cipher"), ("x*y",))
    assert cs.expand(Category.MAC, ("hmac-sha1?96", "hmac-md[5]")) == (("hmac-sha1-96", "hmac-md5"), ())
    # the known names are matched in lower case (the GSS names carry upper-case base64), and returned as known
    assert cs.expand(Category.KEX, ("gss-*-sha1-*", "gss-*-sha1")) == (
        ("gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==", "gss-group14-sha1-toWM5Slw5Ew8Mqkay+al2g==",
         "gss-gex-sha1-toWM5Slw5Ew8Mqkay+al2g=="), ("gss-*-sha1",))
    assert cs.expand(Category.HOST_KEY, ()) == ((), ())
    # a name without *, ? or [ is offered as it is written, known or not
    assert cs.expand(Category.MAC, ("hmac-X", "xx")) == (("hmac-X", "xx"), ())


# ---- weak algorithms offered alone -----------------------------------------------------------------------------

CHALLENGES = [(cs.ssh_weak_ciphers_refused, Category.CIPHER, "ssh_weak_ciphers", CIS_WEAK_CIPHERS),
              (cs.ssh_weak_macs_refused, Category.MAC, "ssh_weak_macs", CIS_WEAK_MACS),
              (cs.ssh_weak_kex_refused, Category.KEX, "ssh_weak_kex", CIS_WEAK_KEX),
              (cs.ssh_weak_host_keys_refused, Category.HOST_KEY, "ssh_weak_host_keys", WEAK_HOST_KEYS)]
IDS = [c[2] for c in CHALLENGES]


@pytest.mark.parametrize("func, category, policy, default", CHALLENGES, ids=IDS)
def test_a_server_refusing_each_default_weak_algorithm_passes(
        monkeypatch: pytest.MonkeyPatch, func: Any, category: Category, policy: str, default: tuple[str, ...]) -> None:
    server = FakeSSH().install(monkeypatch)
    tgt = target()
    ctx = ChallengeContext(tgt)
    offered, unknown = cs.expand(category, default)
    note = f"; patterns matching no known name, not offered: {', '.join(unknown)}" if unknown else ""
    assert func(ctx) == [passed(RES, f"the server refused each of {len(offered)} weak {category.value}s offered "
                                f"alone{note}", offered=list(offered), accepted=[], undetermined=[],
                                not_offerable=list(unknown))]
    assert steps(ctx) == [control_step(), *[offer_step(category, n, True) for n in offered]]
    assert server.calls == [("negotiate", tgt, None, ""), *[("negotiate", tgt, category, n) for n in offered]]
    assert ctx.steps[1].actual == f"refused: answer to {offered[0]}" and ctx.steps[1].sent == "sent"


@pytest.mark.parametrize("func, category, policy, default", CHALLENGES, ids=IDS)
def test_the_policy_names_the_algorithms_and_an_accepted_one_fails(
        monkeypatch: pytest.MonkeyPatch, func: Any, category: Category, policy: str, default: tuple[str, ...]) -> None:
    names = probe.KNOWN[category][:3]
    FakeSSH(accepts=frozenset(names[1:]), unclear=frozenset(names[:1])).install(monkeypatch)
    ctx = ChallengeContext(target({policy: ",".join(n.upper() for n in names)}))
    spec = challenge_spec_of(func)
    assert spec is not None
    out = run_challenge(spec, target({policy: ",".join(n.upper() for n in names)}))
    assert out.findings == (failed(RES, f"the server accepted weak {category.value}s offered alone: "
                                   f"{', '.join(names[1:])}", offered=list(names), accepted=list(names[1:]),
                                   undetermined=list(names[:1]), not_offerable=[]),)
    assert [s.ok for s in out.steps] == [True, None, False, False]
    assert ctx.steps == []


@pytest.mark.parametrize("func, category, policy, default", CHALLENGES, ids=IDS)
def test_an_undetermined_answer_is_an_error(monkeypatch: pytest.MonkeyPatch, func: Any, category: Category,
                                            policy: str, default: tuple[str, ...]) -> None:
    names = probe.KNOWN[category][:3]
    FakeSSH(unclear=frozenset(names[:2])).install(monkeypatch)
    ctx = ChallengeContext(target())
    assert func(ctx, **{policy: list(names) + ["zz*"]}) == [error(
        RES, f"the answer to {', '.join(names[:2])} could not be determined", offered=list(names), accepted=[],
        undetermined=list(names[:2]), not_offerable=["zz*"])]


@pytest.mark.parametrize("func, category, policy, default", CHALLENGES, ids=IDS)
def test_a_policy_naming_nothing_offerable_is_not_applicable_and_sends_nothing(
        monkeypatch: pytest.MonkeyPatch, func: Any, category: Category, policy: str, default: tuple[str, ...]) -> None:
    server = FakeSSH().install(monkeypatch)
    ctx = ChallengeContext(target())
    assert func(ctx, **{policy: "zz-*, q?q"}) == [not_applicable(
        RES, f"the policy's {policy} names no {category.value} this probe can offer", not_offerable=["zz-*", "q?q"])]
    assert ctx.steps == [] and server.calls == []


@pytest.mark.parametrize("control, ok", [(Negotiation.REFUSED, False), (Negotiation.UNDETERMINED, None)])
def test_a_control_negotiation_that_fails_is_an_error_and_nothing_weak_is_offered(
        monkeypatch: pytest.MonkeyPatch, control: Negotiation, ok: bool | None) -> None:
    server = FakeSSH(control=control).install(monkeypatch)
    ctx = ChallengeContext(target())
    assert cs.ssh_weak_macs_refused(ctx) == [error(
        RES, f"the control negotiation did not succeed ({control.value}: answer to control), so a refusal would "
        "prove nothing")]
    assert steps(ctx) == [control_step(ok)] and len(server.calls) == 1


def test_the_weak_algorithm_challenges_are_planned_without_a_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeSSH().install(monkeypatch)
    ctx = ChallengeContext(target(), plan=True)
    cs.ssh_weak_host_keys_refused(ctx)
    assert [s.actual for s in ctx.steps] == [PLANNED] * 5 and server.calls == []


# ---- logon methods, root, host key -----------------------------------------------------------------------------

PASSWORD_STEP = ("`none` authentication to 10.0.0.5:2222 as gxpscan: ask which logon methods it offers",
                 "neither password nor keyboard-interactive is offered")


@pytest.mark.parametrize("methods, finding", [
    (("publickey",), passed(RES, "the server offers no password logon (offered: publickey)",
                            answer="offered: publickey")),
    (("publickey", "keyboard-interactive"), failed(
        RES, "the server allows password logon: offered: publickey,keyboard-interactive (includes "
        "keyboard-interactive)", answer="offered: publickey,keyboard-interactive (includes keyboard-interactive)")),
    (("password",), failed(RES, "the server allows password logon: offered: password (includes password)",
                           answer="offered: password (includes password)")),
])
def test_password_logon_offered_or_not(monkeypatch: pytest.MonkeyPatch, methods: tuple[str, ...],
                                       finding: Any) -> None:
    server = FakeSSH(methods=methods).install(monkeypatch)
    tgt = target()
    ctx = ChallengeContext(tgt)
    assert cs.ssh_password_refused(ctx) == [finding]  # the challenge's own default: password logon not allowed
    assert [(s.action, s.expected) for s in ctx.steps] == [PASSWORD_STEP]
    assert server.calls == [("auth_methods", tgt, frozenset({"password", "keyboard-interactive"}))]


def test_password_methods_that_cannot_be_read_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(target: Target, refused: frozenset[str]) -> Probe:
        raise OSError("reset")

    FakeSSH().install(monkeypatch)
    monkeypatch.setattr(probe, "auth_methods", unreadable)
    ctx = ChallengeContext(target(user=""))
    assert cs.ssh_password_refused(ctx) == [
        error(RES, "the server's methods could not be determined: could not run: OSError: reset")]
    assert ctx.steps[0].action == ("`none` authentication to 10.0.0.5:2222 as the scan's user: ask which logon "
                                   "methods it offers")


def test_a_policy_allowing_passwords_is_not_applicable(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeSSH().install(monkeypatch)
    ctx = ChallengeContext(target())
    assert cs.ssh_password_refused(ctx, ssh_password_authentication=True) == [
        not_applicable(RES, "the policy allows password logon (ssh_password_authentication true)")]
    assert ctx.steps == [] and server.calls == []


@pytest.mark.parametrize("root, finding, actual", [
    (Logon.REFUSED, passed(RES, "the server refused a root logon with the key", key="/keys/root"), "logon refused"),
    (Logon.ACCEPTED, failed(RES, "the server accepted a root logon with a key (PermitRootLogin is not no)",
                            key="/keys/root"), "logon accepted"),
    (None, error(RES, "the root logon could not be tried: could not run: OSError: connection reset"),
     "could not run: OSError: connection reset"),
])
def test_a_root_key_logon_refused_accepted_or_not_tried(monkeypatch: pytest.MonkeyPatch, root: Logon | None,
                                                        finding: Any, actual: str) -> None:
    server = FakeSSH(root=root).install(monkeypatch)
    tgt = target(challenge_root_key_file="/keys/root")
    ctx = ChallengeContext(tgt)
    assert cs.ssh_root_key_refused(ctx) == [finding]  # the challenge's own default: PermitRootLogin no
    assert [(s.action, s.expected, s.actual) for s in ctx.steps] == [
        ("public-key logon to 10.0.0.5:2222 as root with the key /keys/root", "the server refuses the logon", actual)]
    assert server.calls == [("key_logon", tgt, "root", "/keys/root")]


@pytest.mark.parametrize("options, key", [({}, "/keys/scan"),
                                          ({"challenge_root_key_file": "/keys/root"}, "/keys/root")])
def test_the_root_key_is_the_challenge_key_else_the_scan_key(monkeypatch: pytest.MonkeyPatch,
                                                              options: dict[str, Any], key: str) -> None:
    server = FakeSSH().install(monkeypatch)
    cs.ssh_root_key_refused(ChallengeContext(target(**options)), "NO")
    assert [c[3] for c in server.calls] == [key]


def test_no_key_for_root_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    server = FakeSSH().install(monkeypatch)
    assert cs.ssh_root_key_refused(ChallengeContext(target(key_file="")), "no") == [
        error(RES, "no key to offer for root: set challenge_root_key_file (or key_file)")]
    assert server.calls == []


@pytest.mark.parametrize("policy", ["prohibit-password", "yes"])
def test_a_policy_allowing_root_is_not_applicable(monkeypatch: pytest.MonkeyPatch, policy: str) -> None:
    server = FakeSSH().install(monkeypatch)
    assert cs.ssh_root_key_refused(ChallengeContext(target()), policy) == [
        not_applicable(RES, f"the policy allows root logon (ssh_permit_root_login {policy})")]
    assert server.calls == []


@pytest.mark.parametrize("answer, status", [
    (Probe(True, "the host presented ssh-ed25519 SHA256:abc, as known_hosts lists"), Status.PASS),
    (Probe(False, "HOST KEY CHANGED for 10.0.0.5"), Status.FAIL),
    (Probe(None, "could not connect"), Status.ERROR),
])
def test_the_host_key_verdict_is_the_probes(monkeypatch: pytest.MonkeyPatch, answer: Probe, status: Status) -> None:
    server = FakeSSH(host_key=answer).install(monkeypatch)
    tgt = target(known_hosts="/etc/gxp/known_hosts")
    ctx = ChallengeContext(tgt)
    message = answer.actual if status is not Status.ERROR else f"the host key could not be checked: {answer.actual}"
    assert cs.ssh_host_key_verified(ctx) == [{Status.PASS: passed, Status.FAIL: failed, Status.ERROR: error}[status](
        RES, message)]
    assert steps(ctx) == [("SSH handshake with 10.0.0.5:2222; compare the host key with /etc/gxp/known_hosts",
                           "the presented key is the one known_hosts lists", answer.ok)]
    assert server.calls == [("verify_host_key", tgt)]


def test_the_host_key_step_names_the_default_known_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeSSH().install(monkeypatch)
    ctx = ChallengeContext(target())
    cs.ssh_host_key_verified(ctx)
    assert ctx.steps[0].action == "SSH handshake with 10.0.0.5:2222; compare the host key with ~/.ssh/known_hosts"

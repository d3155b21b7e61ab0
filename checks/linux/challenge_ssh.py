"""SSH challenges (safe): the server is made to refuse what the policy forbids, on the wire, not in its configuration.

Each weak algorithm is offered alone in a real negotiation (scanner/probes/ssh.py), after a control negotiation with
the server's own algorithms has shown that the probe is understood; the server's `none` authentication answer shows
which logon methods it accepts; a key logon as root shows whether root may log on; the handshake's host key is
compared with known_hosts as the scan does. None of them changes state on the target or sends a password.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from checks.linux.ssh import CIS_WEAK_CIPHERS, CIS_WEAK_KEX, CIS_WEAK_MACS, WEAK_HOST_KEYS, _patterns
from scanner.challenge import ChallengeContext, Probe, challenge
from scanner.model import Finding, Target, error, failed, not_applicable, passed
from scanner.probes import ssh as probe
from scanner.probes.ssh import Category, Logon, Negotiation


def where(target: Target) -> str:
    """host:port as the inventory names them (for step texts and resources; no I/O)."""
    return f"{target.opt('host') or target.name}:{target.opt('port') or 22}"


def resource(target: Target) -> str:
    return f"sshd {where(target)}"


def expand(category: Category, patterns: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The algorithm names to offer for the policy's names and patterns, and the patterns that match no name this
    probe knows (they cannot be offered)."""
    names: list[str] = []
    unknown: list[str] = []
    for pattern in patterns:
        if not any(c in pattern for c in "*?["):
            found = [pattern]
        else:
            found = [k for k in probe.KNOWN[category] if fnmatch.fnmatchcase(k.lower(), pattern)]
            if not found:
                unknown.append(pattern)
        names += [n for n in found if n not in names]
    return tuple(names), tuple(unknown)


def _refuse_each(ctx: ChallengeContext, category: Category, patterns: tuple[str, ...], policy: str) -> Finding:
    target, res = ctx.target, resource(ctx.target)
    offered, unknown = expand(category, patterns)
    if not offered:
        return not_applicable(res, f"the policy's {policy} names no {category.value} this probe can offer",
                              not_offerable=list(unknown))
    control = ctx.step(f"SSH negotiation with {where(target)} offering the server's own algorithms (control)",
                       "the server agrees and begins the key exchange",
                       probe.offer_only(target, None, expect=Negotiation.ACCEPTED))
    if control.ok is not True:
        return error(res, f"the control negotiation did not succeed ({control.actual}), so a refusal would prove "
                          "nothing")
    verdicts: dict[str, bool | None] = {}
    for name in offered:
        seen = ctx.step(f"SSH negotiation with {where(target)} offering only the {category.value} {name}",
                        f"the server refuses it (no matching {category.value})",
                        probe.offer_only(target, category, name))
        verdicts[name] = seen.ok
    accepted = [n for n, ok in verdicts.items() if ok is False]
    undetermined = [n for n, ok in verdicts.items() if ok is None]
    observed: dict[str, Any] = {"offered": list(offered), "accepted": accepted, "undetermined": undetermined,
                "not_offerable": list(unknown)}
    if accepted:
        return failed(res, f"the server accepted weak {category.value}s offered alone: {', '.join(accepted)}",
                      **observed)
    if undetermined:
        return error(res, f"the answer to {', '.join(undetermined)} could not be determined", **observed)
    note = f"; patterns matching no known name, not offered: {', '.join(unknown)}" if unknown else ""
    return passed(res, f"the server refused each of {len(offered)} weak {category.value}s offered alone{note}",
                  **observed)


def _criterion(what: str, policy: str) -> str:
    return (f"Offered alone in a real SSH negotiation, each {what} the policy's {policy} names (or matches among the "
            "known SSH names) is refused by the server; a control negotiation with the server's own algorithms "
            "succeeds first.")


def _remediation(what: str, option: str) -> str:
    return (f"Remove the weak {what}s from {option} in /etc/ssh/sshd_config (or the system crypto policy), reload "
            "sshd and run the challenge again.")


@challenge(id="linux.challenge.ssh_weak_ciphers_refused", title="SSH refuses weak ciphers in a real negotiation",
           severity="high", area="encryption", impact="safe", criterion=_criterion("cipher", "ssh_weak_ciphers"),
           remediation=_remediation("cipher", "Ciphers"))
def ssh_weak_ciphers_refused(ctx: ChallengeContext,
                             ssh_weak_ciphers: tuple[str, ...] = CIS_WEAK_CIPHERS) -> list[Finding]:
    return [_refuse_each(ctx, Category.CIPHER, _patterns(ssh_weak_ciphers), "ssh_weak_ciphers")]


@challenge(id="linux.challenge.ssh_weak_macs_refused", title="SSH refuses weak MACs in a real negotiation",
           severity="high", area="encryption", impact="safe", criterion=_criterion("MAC", "ssh_weak_macs"),
           remediation=_remediation("MAC", "MACs"))
def ssh_weak_macs_refused(ctx: ChallengeContext, ssh_weak_macs: tuple[str, ...] = CIS_WEAK_MACS) -> list[Finding]:
    return [_refuse_each(ctx, Category.MAC, _patterns(ssh_weak_macs), "ssh_weak_macs")]


@challenge(id="linux.challenge.ssh_weak_kex_refused", title="SSH refuses weak key exchanges in a real negotiation",
           severity="high", area="encryption", impact="safe", criterion=_criterion("key exchange", "ssh_weak_kex"),
           remediation=_remediation("key exchange", "KexAlgorithms"))
def ssh_weak_kex_refused(ctx: ChallengeContext, ssh_weak_kex: tuple[str, ...] = CIS_WEAK_KEX) -> list[Finding]:
    return [_refuse_each(ctx, Category.KEX, _patterns(ssh_weak_kex), "ssh_weak_kex")]


@challenge(id="linux.challenge.ssh_weak_host_keys_refused",
           title="SSH refuses weak host key algorithms in a real negotiation", severity="high", area="encryption",
           impact="safe", criterion=_criterion("host key algorithm", "ssh_weak_host_keys (default: DSA and v00 "
                                               "certificates, as linux.ssh.crypto judges them)"),
           remediation=_remediation("host key algorithm", "HostKeyAlgorithms (and the HostKey files)"))
def ssh_weak_host_keys_refused(ctx: ChallengeContext,
                               ssh_weak_host_keys: tuple[str, ...] = WEAK_HOST_KEYS) -> list[Finding]:
    return [_refuse_each(ctx, Category.HOST_KEY, _patterns(ssh_weak_host_keys), "ssh_weak_host_keys")]


@challenge(id="linux.challenge.ssh_password_refused", title="SSH offers no password logon", severity="medium",
           area="access_control", impact="safe",
           criterion="Asked with `none` authentication, the server offers neither password nor keyboard-interactive "
                     "logon (unless the policy sets ssh_password_authentication true), and does not accept `none`.",
           remediation="Set 'PasswordAuthentication no' and 'KbdInteractiveAuthentication no' in /etc/ssh/sshd_config "
                       "(and in every Match block), reload sshd and run the challenge again.")
def ssh_password_refused(ctx: ChallengeContext, ssh_password_authentication: bool = False) -> list[Finding]:
    res = resource(ctx.target)
    if ssh_password_authentication:
        return [not_applicable(res, "the policy allows password logon (ssh_password_authentication true)")]
    user = ctx.target.opt("user") or "the scan's user"
    refused = frozenset({"password", "keyboard-interactive"})
    seen = ctx.step(f"`none` authentication to {where(ctx.target)} as {user}: ask which logon methods it offers",
                    "neither password nor keyboard-interactive is offered",
                    lambda: probe.auth_methods(ctx.target, refused))
    if seen.ok is None:
        return [error(res, f"the server's methods could not be determined: {seen.actual}")]
    if seen.ok:
        return [passed(res, f"the server offers no password logon ({seen.actual})", answer=seen.actual)]
    return [failed(res, f"the server allows password logon: {seen.actual}", answer=seen.actual)]


def _logon_probe(logon: Callable[[], Logon], expect: Logon) -> Callable[[], Probe]:
    def run() -> Probe:
        outcome = logon()
        return Probe(outcome is expect, f"logon {outcome.value}")

    return run


@challenge(id="linux.challenge.ssh_root_key_refused", title="SSH refuses a root logon with a key", severity="high",
           area="access_control", impact="safe",
           criterion="A public-key logon as root with a key root would otherwise accept (challenge_root_key_file, "
                     "else the scan's key_file) is refused, when the policy wants PermitRootLogin no "
                     "(ssh_permit_root_login, default no). No channel is opened.",
           remediation="Set 'PermitRootLogin no' in /etc/ssh/sshd_config (and in every Match block), reload sshd, "
                       "and have administrators log on as themselves and use sudo.")
def ssh_root_key_refused(ctx: ChallengeContext, ssh_permit_root_login: str = "no") -> list[Finding]:
    res = resource(ctx.target)
    if str(ssh_permit_root_login).lower() != "no":
        return [not_applicable(res, f"the policy allows root logon (ssh_permit_root_login {ssh_permit_root_login})")]
    key = ctx.target.opt("challenge_root_key_file") or ctx.target.opt("key_file")
    if not key:
        return [error(res, "no key to offer for root: set challenge_root_key_file (or key_file)")]
    seen = ctx.step(f"public-key logon to {where(ctx.target)} as root with the key {key}",
                    "the server refuses the logon",
                    _logon_probe(lambda: probe.key_logon(ctx.target, "root", str(key)), Logon.REFUSED))
    if seen.ok is None:
        return [error(res, f"the root logon could not be tried: {seen.actual}")]
    if seen.ok:
        return [passed(res, "the server refused a root logon with the key", key=str(key))]
    return [failed(res, "the server accepted a root logon with a key (PermitRootLogin is not no)", key=str(key))]


@challenge(id="linux.challenge.ssh_host_key_verified", title="SSH host key matches known_hosts", severity="high",
           area="encryption", impact="safe",
           criterion="The host key the server presents in a real handshake is the one known_hosts lists for it "
                     "(verified by the scan's own code; a key is never trusted on first use here).",
           remediation="Confirm the host's key fingerprint out of band (console: ssh-keygen -lf on the host's key) "
                       "and correct the known_hosts entry; a key that changed without a documented reason is an "
                       "incident.")
def ssh_host_key_verified(ctx: ChallengeContext) -> list[Finding]:
    res = resource(ctx.target)
    known = ctx.target.opt("known_hosts") or "~/.ssh/known_hosts"
    seen = ctx.step(f"SSH handshake with {where(ctx.target)}; compare the host key with {known}",
                    "the presented key is the one known_hosts lists",
                    lambda: probe.verify_host_key(ctx.target))
    if seen.ok is None:
        return [error(res, f"the host key could not be checked: {seen.actual}")]
    if seen.ok:
        return [passed(res, seen.actual)]
    return [failed(res, seen.actual)]

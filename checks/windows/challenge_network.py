"""Windows network challenges (safe): SMB1 refused, RDP requires NLA.

Each asks the host's listener directly (no logon, no credential). A port that refuses the connection (nothing
listens there) makes the challenge not_applicable, naming the port; a port that does not answer is an error.

There is no NTLMv1 challenge: whether a server refuses NTLMv1 shows on the network only to a logon with valid
credentials and an NTLMv1 response (the NTLM CHALLENGE a server sends is the same either way), and a refused
attempt counts as a failed logon, so no safe probe can see it. The registry fact LmCompatibilityLevel
(check windows.auth.ntlm_level) is the evidence.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from scanner.challenge import ChallengeContext, Probe, challenge
from scanner.model import Finding, error, failed, not_applicable, passed
from scanner.probes import rdp, smb

NOT_LISTENING = "connection refused: nothing listens on the port"


def _listening(probe: Callable[[str, int, float], Probe], host: str, port: int, timeout: float) -> Probe:
    try:
        return probe(host, port, timeout)
    except ConnectionRefusedError:
        return Probe(None, NOT_LISTENING, b"", b"")


def _ask(ctx: ChallengeContext, probe: Callable[[str, int, float], Probe], port_option: str, default_port: int,
         action: str, expected: str, good: str, bad: str) -> list[Finding]:
    host = str(ctx.target.opt("host") or "")
    if not host:
        return [error(ctx.target.name, "the target names no host")]
    port = int(ctx.target.opt(port_option) or default_port)
    timeout = float(ctx.target.opt("connect_timeout") or 10)
    resource = f"{host}:{port}"
    seen = ctx.step(action.format(endpoint=resource), expected, partial(_listening, probe, host, port, timeout))
    if seen.actual == NOT_LISTENING:
        return [not_applicable(resource, f"nothing listens on {resource} (connection refused; {port_option})")]
    if seen.ok is True:
        return [passed(resource, good, answer=seen.actual)]
    if seen.ok is False:
        return [failed(resource, bad, answer=seen.actual)]
    return [error(resource, f"could not be determined: {seen.actual}")]


@challenge(id="windows.challenge.smb1_refused", title="The SMB server refuses the SMB1 dialect", severity="high",
           area="encryption", impact="safe",
           criterion="An SMB1 NEGOTIATE offering only 'NT LM 0.12' to host:smb_port (default 445) is refused.",
           remediation="Disable SMB1: Set-SmbServerConfiguration -EnableSMB1Protocol $false (and remove the "
                       "SMB1Protocol feature); on Samba 'server min protocol = SMB2_10' or higher.")
def smb1_refused(ctx: ChallengeContext) -> list[Finding]:
    return _ask(ctx, smb.smb1_probe, "smb_port", smb.SMB_PORT,
                "SMB1 NEGOTIATE to {endpoint} offering only the dialect NT LM 0.12",
                "the server refuses SMB1 (closes, resets, or selects no dialect)",
                "SMB1 was refused", "the server negotiated SMB1 (NT LM 0.12)")


@challenge(id="windows.challenge.rdp_nla_required", title="Remote Desktop requires Network Level Authentication",
           severity="high", area="access_control", impact="safe",
           criterion="An RDP connection request to host:rdp_port (default 3389) offering TLS without CredSSP is "
                     "refused with HYBRID_REQUIRED_BY_SERVER.",
           remediation="Require NLA: Remote Desktop Session Host > Security > 'Require user authentication for "
                       "remote connections by using Network Level Authentication' = Enabled (UserAuthentication=1).")
def rdp_nla_required(ctx: ChallengeContext) -> list[Finding]:
    return _ask(ctx, rdp.nla_probe, "rdp_port", rdp.RDP_PORT,
                "X.224 Connection Request to {endpoint} with an RDP negotiation request offering only TLS "
                "(PROTOCOL_SSL)", "RDP negotiation failure HYBRID_REQUIRED_BY_SERVER",
                "the server requires NLA", "the server accepts a connection without NLA")

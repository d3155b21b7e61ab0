"""Challenges for the engine's tests, against the line server in tests/engine/test_challenge_scan.py.

Each probe is one real TCP exchange: the server answers a request line with one line.
"""
from __future__ import annotations

import socket

from scanner.challenge import ChallengeContext, Probe, challenge
from scanner.model import Finding, failed, passed


def exchange(endpoint: str, line: str) -> bytes:
    host, port = endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(line.encode() + b"\n")
        return sock.makefile("rb").readline(256).rstrip(b"\n")


def _answer(endpoint: str, line: str, want: bytes) -> Probe:
    got = exchange(endpoint, line)
    return Probe(got == want, got.decode("utf-8", "backslashreplace"), sent=line, received=got)


@challenge(id="linux.challenge.test_hello_refused", title="the test server refuses a weak hello", severity="high",
           area="encryption", criterion="the server answers REFUSED to a weak hello", impact="safe",
           remediation="configure the test server to refuse")
def hello_refused(ctx: ChallengeContext) -> list[Finding]:
    out = []
    for endpoint in ctx.target.opt("tls_endpoints") or ():
        seen = ctx.step(f"send a weak hello to {endpoint}", "the server answers REFUSED",
                        lambda e=endpoint: _answer(e, "HELLO weak", b"REFUSED"))
        out.append(passed(endpoint, "refused") if seen.ok else failed(endpoint, f"accepted: {seen.actual}"))
    return out


@challenge(id="linux.challenge.test_lockout", title="the test account locks", severity="high",
           area="access_control", criterion="the test account is locked after lockout_threshold wrong logons",
           impact="intrusive", remediation="enable lockout")
def lockout(ctx: ChallengeContext, lockout_threshold: int = 2) -> list[Finding]:
    account = ctx.test_account()
    endpoint = (ctx.target.opt("tls_endpoints") or ["?:0"])[0]
    for i in range(lockout_threshold):
        ctx.step(f"log on as {account.name} with a wrong password ({i + 1})", "REFUSED",
                 lambda: _answer(endpoint, f"LOGON {account.name} wrong", b"REFUSED"))
    try:
        seen = ctx.step(f"log on as {account.name} with the right password", "LOCKED",
                        lambda: _answer(endpoint, f"LOGON {account.name} {account.password}", b"LOCKED"))
        return [passed(account.name, "locked") if seen.ok else failed(account.name, f"not locked: {seen.actual}")]
    finally:
        ctx.step(f"unlock {account.name}", "UNLOCKED", lambda: _answer(endpoint, f"UNLOCK {account.name}", b"UNLOCKED"),
                 cleanup=True, restore_by_hand=f"unlock {account.name} on the test server")

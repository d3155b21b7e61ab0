"""TLS endpoint challenges (safe): old protocol versions refused, weak cipher suites refused, certificate sound.

The endpoints of a target are its ``tls_endpoints`` (``host:port``) plus the one its connection implies (an LDAP
target's ``ldaps://`` URL, a Windows target's WinRM HTTPS listener). Each endpoint gets one finding per challenge.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial

from scanner.challenge import ChallengeContext, Probe, challenge
from scanner.model import Finding, error, failed, not_applicable, passed
from scanner.probes import tls

PLATFORMS = ("linux", "windows", "ldap")
CRITERION_NOTE = " Endpoints: tls_endpoints plus an LDAP target's ldaps URL and a Windows target's WinRM HTTPS port."


def _each_endpoint(ctx: ChallengeContext,
                   per_endpoint: Callable[[tls.TlsEndpoint, float], Finding]) -> list[Finding]:
    endpoints, problems = tls.endpoints_of(ctx.target)
    findings = [error(ctx.target.name, f"tls_endpoints entry refused: {p}") for p in problems]
    if not endpoints and not problems:
        return [not_applicable(ctx.target.name, "the target names no TLS endpoint (tls_endpoints) and its "
                                                "connection implies none")]
    timeout = tls.timeout_of(ctx.target)
    return findings + [per_endpoint(ep, timeout) for ep in endpoints]


def _verdict(resource: str, steps: list[tuple[str, Probe]], good: str, bad: str) -> Finding:
    """fail naming what was accepted; error when any step could not be determined; else pass."""
    accepted = [name for name, probe in steps if probe.ok is False]
    unknown = [name for name, probe in steps if probe.ok is None]
    if accepted:
        return failed(resource, f"{bad}: {', '.join(accepted)}", accepted=accepted, undetermined=unknown)
    if unknown:
        return error(resource, f"could not be determined for {', '.join(unknown)}", undetermined=unknown)
    return passed(resource, good, refused=[name for name, _ in steps])


def _names(values: Iterable[str], known: Iterable[str], what: str) -> list[str]:
    allowed = list(known)
    wanted = [str(v) for v in values]
    unknown = [v for v in wanted if v not in allowed]
    if unknown:
        raise ValueError(f"policy names unknown {what}: {', '.join(unknown)} (known: {', '.join(allowed)})")
    return wanted


@challenge(id="tls.challenge.protocols", title="TLS endpoints refuse SSL 3.0, TLS 1.0 and TLS 1.1",
           severity="high", area="encryption", impact="safe", platforms=PLATFORMS,
           criterion="A handshake offering only one old protocol version (each of tls_refused_protocols) is "
                     "refused by every endpoint." + CRITERION_NOTE,
           remediation="Disable SSL 3.0, TLS 1.0 and TLS 1.1 on the service (minimum protocol TLS 1.2), e.g. "
                       "ssl_protocols / MinProtocol, olcTLSProtocolMin 3.3, or the SCHANNEL Protocols registry keys.")
def protocols(ctx: ChallengeContext,
              tls_refused_protocols: tuple[str, ...] = ("SSLv3", "TLSv1.0", "TLSv1.1")) -> list[Finding]:
    versions = [tls.Version(v) for v in _names(tls_refused_protocols, [v.value for v in tls.Version], "protocols")]

    def one(ep: tls.TlsEndpoint, timeout: float) -> Finding:
        steps = [(v.value, ctx.step(f"TLS handshake to {ep} offering only {v}", f"the server refuses {v}",
                                    partial(tls.version_probe, ep, v, timeout))) for v in versions]
        return _verdict(f"tls {ep}", steps, "every old protocol version was refused", "accepted")

    return _each_endpoint(ctx, one)


@challenge(id="tls.challenge.weak_ciphers", title="TLS endpoints refuse RC4, 3DES, NULL, EXPORT and anonymous suites",
           severity="high", area="encryption", impact="safe", platforms=PLATFORMS,
           criterion="A TLS 1.2 ClientHello offering only the suites of one weak class (each of "
                     "tls_weak_cipher_classes) is refused by every endpoint." + CRITERION_NOTE,
           remediation="Remove RC4, 3DES, NULL, EXPORT and anonymous (aNULL) suites from the service's cipher "
                       "list; allow only AEAD suites with ECDHE or DHE key exchange.")
def weak_ciphers(ctx: ChallengeContext,
                 tls_weak_cipher_classes: tuple[str, ...] = ("RC4", "3DES", "NULL", "EXPORT", "anonymous"),
                 ) -> list[Finding]:
    classes = _names(tls_weak_cipher_classes, tls.WEAK_SUITES, "cipher classes")

    def one(ep: tls.TlsEndpoint, timeout: float) -> Finding:
        steps = [(c, ctx.step(f"TLS 1.2 ClientHello to {ep} offering only {c} suites "
                              f"({len(tls.WEAK_SUITES[c])} suites)", f"the server refuses every {c} suite",
                              partial(tls.suite_class_probe, ep, c, timeout))) for c in classes]
        return _verdict(f"tls {ep}", steps, "every weak cipher class was refused", "weak suites accepted")

    return _each_endpoint(ctx, one)


@challenge(id="tls.challenge.certificate",
           title="TLS certificates chain to a trusted CA, name the host and are not about to expire",
           severity="high", area="encryption", impact="safe", platforms=PLATFORMS,
           criterion="The server certificate verifies against tls_ca_file or ca_file (else the system store), its "
                     "subjectAltName names the endpoint's host, and it is valid for more than cert_expiry_days."
                     + CRITERION_NOTE,
           remediation="Install a certificate issued by the organisation's CA for the host name clients use, and "
                       "renew it before cert_expiry_days; give gxpscan that CA as tls_ca_file (or ca_file).")
def certificate(ctx: ChallengeContext, cert_expiry_days: int = 30) -> list[Finding]:
    ca_file = ctx.target.opt("tls_ca_file") or ctx.target.opt("ca_file")
    days = int(cert_expiry_days)

    def one(ep: tls.TlsEndpoint, timeout: float) -> Finding:
        trust = f"ca_file {ca_file}" if ca_file else "the system trust store"
        steps = [
            ("chain", ctx.step(f"verifying TLS handshake to {ep} against {trust}", "the chain verifies",
                               lambda: tls.chain_probe(ep, ca_file, timeout))),
            ("host name", ctx.step(f"read the certificate of {ep} and match {ep.host} against its subjectAltName",
                                   f"{ep.host} is one of its names", lambda: tls.hostname_probe(ep, timeout))),
            ("expiry", ctx.step(f"read the validity of the certificate of {ep}",
                                f"valid for more than {days} days", lambda: tls.expiry_probe(ep, days, timeout))),
        ]
        problems = [(name, probe) for name, probe in steps if probe.ok is False]
        if problems:
            return failed(f"tls {ep}", "; ".join(f"{name}: {probe.actual}" for name, probe in problems),
                          problems=[name for name, _ in problems])
        return _verdict(f"tls {ep}", steps, "the certificate verifies, names the host and is not expiring", "")

    return _each_endpoint(ctx, one)

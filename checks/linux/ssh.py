"""OpenSSH server: who may log in, how, for how long, and with which algorithms (effective sshd -T config)."""
from __future__ import annotations

import re
from typing import Any

from checks.linux._common import SSHD, sshd_missing
from scanner.facts.linux import SshdConfig
from scanner.model import Finding, failed, passed
from scanner.registry import check

#: Weak algorithms (CIS Distribution Independent Linux guidance), as regular expressions.
WEAK_ALGORITHMS = {
    "ciphers": r"(-cbc$|^3des|^arcfour|^blowfish|^cast128|^rijndael)",
    "macs": r"(md5|ripemd160|sha1-96|^umac-64)",
    "kexalgorithms": r"(^diffie-hellman-group1-sha1$|^diffie-hellman-group14-sha1$|"
                     r"^diffie-hellman-group-exchange-sha1$|^gss-.*-sha1-?$)",
    "hostkeyalgorithms": r"(^ssh-dss|^ssh-rsa-cert-v00)",
}


def _expect(sshd: SshdConfig, key: str, allowed: tuple[str, ...], what: str) -> Finding:
    value = sshd.get(key)
    observed: dict[str, Any] = {key: value}
    if value in allowed:
        return passed(SSHD, f"{what} is refused ({key} {value})", **observed)
    return failed(SSHD, f"{what} is allowed: {key} {value or '(unset)'}, expected {' or '.join(allowed)}",
                  **observed)


@check(id="linux.ssh.root_login", title="SSH does not allow direct root login", severity="high",
       area="access_control",
       criterion="The effective sshd configuration has PermitRootLogin no, so every action traces to a named user.")
def root_login(sshd_effective: SshdConfig) -> Finding:
    return sshd_missing(sshd_effective) or _expect(sshd_effective, "permitrootlogin", ("no",), "direct root login")


@check(id="linux.ssh.password_auth", title="SSH does not accept passwords", severity="medium",
       area="access_control",
       criterion="The effective sshd configuration disables PasswordAuthentication and KbdInteractiveAuthentication.")
def password_auth(sshd_effective: SshdConfig) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    observed: dict[str, Any] = {k: sshd_effective.get(k)
                                for k in ("passwordauthentication", "kbdinteractiveauthentication")}
    enabled = [k for k, v in observed.items() if v == "yes"]
    if enabled:
        return failed(SSHD, f"password login over SSH is enabled ({', '.join(enabled)} yes)", **observed)
    return passed(SSHD, "SSH accepts no passwords (keys or certificates only)", **observed)


@check(id="linux.ssh.empty_passwords", title="SSH refuses empty passwords", severity="critical",
       area="access_control", criterion="The effective sshd configuration has PermitEmptyPasswords no.")
def empty_passwords(sshd_effective: SshdConfig) -> Finding:
    return sshd_missing(sshd_effective) or _expect(sshd_effective, "permitemptypasswords", ("no",),
                                                   "login with an empty password")


@check(id="linux.ssh.max_auth_tries", title="SSH limits authentication attempts", severity="medium",
       area="access_control",
       criterion="The effective sshd MaxAuthTries is at most the policy's max_auth_tries (default 4).")
def max_auth_tries(sshd_effective: SshdConfig, max_auth_tries: int = 4) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    value = int(sshd_effective.get("maxauthtries", "6"))
    if value <= max_auth_tries:
        return passed(SSHD, f"MaxAuthTries {value} <= {max_auth_tries}", maxauthtries=value, limit=max_auth_tries)
    return failed(SSHD, f"MaxAuthTries {value} exceeds {max_auth_tries}", maxauthtries=value, limit=max_auth_tries)


def _seconds(value: str) -> int | None:
    """sshd time format: 300, 5m, 1h30m; 'none' or 0 is no timeout."""
    if value in ("", "none", "0"):
        return None
    total, units = 0, {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    for number, unit in re.findall(r"(\d+)([smhdwSMHDW]?)", value):
        total += int(number) * units[unit.lower()]
    return total or None


@check(id="linux.ssh.idle_timeout", title="SSH ends idle sessions", severity="medium", area="access_control",
       criterion="An idle SSH session is closed within idle_timeout_seconds (default 900), through "
                 "ChannelTimeout session or ClientAliveInterval x ClientAliveCountMax.")
def idle_timeout(sshd_effective: SshdConfig, idle_timeout_seconds: int = 900) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    interval = int(sshd_effective.get("clientaliveinterval", "0"))
    count = int(sshd_effective.get("clientalivecountmax", "3"))
    channel = dict(v.split("=", 1) for v in sshd_effective.list("channeltimeout") if "=" in v)
    session = _seconds(channel.get("session", channel.get("*", "")))
    alive = interval * count if interval > 0 and count > 0 else None
    observed: dict[str, Any] = {"clientaliveinterval": interval, "clientalivecountmax": count,
                "channeltimeout_session": session, "limit": idle_timeout_seconds}
    effective = [t for t in (session, alive) if t is not None]
    if effective and min(effective) <= idle_timeout_seconds:
        return passed(SSHD, f"idle sessions end after {min(effective)} s", **observed)
    seen = f"{min(effective)} s" if effective else "never"
    return failed(SSHD, f"idle SSH sessions end {seen}, limit {idle_timeout_seconds} s", **observed)


@check(id="linux.ssh.crypto", title="SSH offers no weak ciphers, MACs or key exchanges", severity="high",
       area="encryption",
       criterion="No CBC/3DES/arcfour cipher, MD5/RIPEMD/SHA1-96/UMAC-64 MAC, SHA-1 key exchange or DSA host key "
                 "algorithm is enabled in the effective sshd configuration.")
def crypto(sshd_effective: SshdConfig) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    weak = {key: [a for a in sshd_effective.list(key) if re.search(pattern, a)]
            for key, pattern in WEAK_ALGORITHMS.items()}
    weak = {k: v for k, v in weak.items() if v}
    if weak:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in weak.items())
        return failed(SSHD, f"weak algorithms enabled: {listed}", weak=weak)
    enabled: dict[str, Any] = {k: ",".join(sshd_effective.list(k)) for k in ("ciphers", "macs", "kexalgorithms")}
    return passed(SSHD, "no weak SSH algorithms enabled", **enabled)

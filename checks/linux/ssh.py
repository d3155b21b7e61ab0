"""OpenSSH server: who may log in, how, for how long, and with which algorithms (effective sshd -T config)."""
from __future__ import annotations

import fnmatch
import re
from typing import Any

from checks.linux._common import SSHD, SSHD_CONFIG, sshd_missing
from scanner.facts.linux import SshdConfig
from scanner.model import Finding, failed, passed
from scanner.registry import check

#: The default weak-algorithm lists follow the CIS Distribution Independent Linux Benchmark v2.0.0, section 5.2
#: (SSH Server Configuration: use only strong ciphers, MAC algorithms and key exchange algorithms), whose weak
#: lists match those of the CIS Debian/Ubuntu benchmarks. Entries are names or shell-style patterns (``*-cbc``).
#: A site that follows another standard sets ssh_weak_ciphers, ssh_weak_macs and ssh_weak_kex in its policy.
CIS_WEAK_CIPHERS = ("3des-cbc", "aes128-cbc", "aes192-cbc", "aes256-cbc", "arcfour", "arcfour128", "arcfour256",
                    "blowfish-cbc", "cast128-cbc", "rijndael-cbc@lysator.liu.se", "*-cbc")
CIS_WEAK_MACS = ("hmac-md5", "hmac-md5-96", "hmac-ripemd160", "hmac-sha1-96", "umac-64@openssh.com",
                 "hmac-md5-etm@openssh.com", "hmac-md5-96-etm@openssh.com", "hmac-ripemd160-etm@openssh.com",
                 "hmac-sha1-96-etm@openssh.com", "umac-64-etm@openssh.com", "*md5*", "*ripemd160*")
CIS_WEAK_KEX = ("diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1",
                "gss-*-sha1-*", "gss-*-sha1")
#: DSA host keys (removed from OpenSSH) are weak whatever the site's lists say.
WEAK_HOST_KEYS = ("ssh-dss", "ssh-dss-*", "ssh-rsa-cert-v00*")


def _patterns(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A policy list (or one comma-separated string) of algorithm names or patterns."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(str(v).strip().lower() for v in items if str(v).strip())


def weak_algorithms(sshd: SshdConfig, lists: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Per sshd option, the enabled algorithms that match one of the weak names or patterns."""
    weak = {key: [a for a in sshd.list(key) if any(fnmatch.fnmatchcase(a.lower(), p) for p in patterns)]
            for key, patterns in lists.items()}
    return {k: v for k, v in weak.items() if v}


def _expect(sshd: SshdConfig, key: str, allowed: tuple[str, ...], what: str) -> Finding:
    value = sshd.get(key)
    observed: dict[str, Any] = {key: value}
    if value in allowed:
        return passed(SSHD, f"{what} is refused ({key} {value})", location=SSHD_CONFIG, **observed)
    return failed(SSHD, f"{what} is allowed: {key} {value or '(unset)'}, expected {' or '.join(allowed)}",
                  location=SSHD_CONFIG, **observed)


@check(id="linux.ssh.root_login", title="SSH does not allow direct root login", severity="high",
       area="access_control",
       criterion="The effective sshd configuration has PermitRootLogin no, so every action traces to a named user.",
       remediation="Set 'PermitRootLogin no' in /etc/ssh/sshd_config (and in no Match block otherwise), reload sshd, "
                   "and have administrators log in as themselves and use sudo.")
def root_login(sshd_effective: SshdConfig) -> Finding:
    return sshd_missing(sshd_effective) or _expect(sshd_effective, "permitrootlogin", ("no",), "direct root login")


@check(id="linux.ssh.password_auth", title="SSH does not accept passwords", severity="medium",
       area="access_control",
       criterion="The effective sshd configuration disables PasswordAuthentication and KbdInteractiveAuthentication.",
       remediation="Set 'PasswordAuthentication no' and 'KbdInteractiveAuthentication no' in /etc/ssh/sshd_config "
                   "once every user has a key or certificate, then reload sshd.")
def password_auth(sshd_effective: SshdConfig) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    observed: dict[str, Any] = {k: sshd_effective.get(k)
                                for k in ("passwordauthentication", "kbdinteractiveauthentication")}
    enabled = [k for k, v in observed.items() if v == "yes"]
    if enabled:
        return failed(SSHD, f"password login over SSH is enabled ({', '.join(enabled)} yes)", location=SSHD_CONFIG,
                      **observed)
    return passed(SSHD, "SSH accepts no passwords (keys or certificates only)", location=SSHD_CONFIG, **observed)


@check(id="linux.ssh.empty_passwords", title="SSH refuses empty passwords", severity="critical",
       area="access_control", criterion="The effective sshd configuration has PermitEmptyPasswords no.",
       remediation="Set 'PermitEmptyPasswords no' in /etc/ssh/sshd_config and reload sshd.")
def empty_passwords(sshd_effective: SshdConfig) -> Finding:
    return sshd_missing(sshd_effective) or _expect(sshd_effective, "permitemptypasswords", ("no",),
                                                   "login with an empty password")


@check(id="linux.ssh.max_auth_tries", title="SSH limits authentication attempts", severity="medium",
       area="access_control",
       criterion="The effective sshd MaxAuthTries is at most the policy's max_auth_tries (default 4).",
       remediation="Set MaxAuthTries in /etc/ssh/sshd_config to at most the policy's limit and reload sshd.")
def max_auth_tries(sshd_effective: SshdConfig, max_auth_tries: int = 4) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    value = int(sshd_effective.get("maxauthtries", "6"))
    if value <= max_auth_tries:
        return passed(SSHD, f"MaxAuthTries {value} <= {max_auth_tries}", location=SSHD_CONFIG, maxauthtries=value,
                      limit=max_auth_tries)
    return failed(SSHD, f"MaxAuthTries {value} exceeds {max_auth_tries}", location=SSHD_CONFIG, maxauthtries=value,
                  limit=max_auth_tries)


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
                 "ChannelTimeout session or ClientAliveInterval x ClientAliveCountMax.",
       remediation="Set 'ChannelTimeout session=<seconds>' (OpenSSH 9.2 or later) or ClientAliveInterval and "
                   "ClientAliveCountMax so that their product is within the limit, then reload sshd.")
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
        return passed(SSHD, f"idle sessions end after {min(effective)} s", location=SSHD_CONFIG, **observed)
    seen = f"{min(effective)} s" if effective else "never"
    return failed(SSHD, f"idle SSH sessions end {seen}, limit {idle_timeout_seconds} s", location=SSHD_CONFIG,
                  **observed)


@check(id="linux.ssh.crypto", title="SSH offers no weak ciphers, MACs or key exchanges", severity="high",
       area="encryption",
       criterion="No cipher in ssh_weak_ciphers, MAC in ssh_weak_macs or key exchange in ssh_weak_kex is enabled in "
                 "the effective sshd configuration, and no DSA host key algorithm. The default lists are the weak "
                 "algorithms of the CIS Distribution Independent Linux Benchmark v2.0.0, section 5.2 (CBC, 3DES, "
                 "arcfour, Blowfish and CAST ciphers; MD5, RIPEMD-160, SHA1-96 and UMAC-64 MACs; SHA-1 "
                 "Diffie-Hellman key exchanges).",
       remediation="Set Ciphers, MACs and KexAlgorithms in /etc/ssh/sshd_config (or a drop-in, or the system-wide "
                   "crypto policy) to strong algorithms only, e.g. chacha20-poly1305 and AES-GCM/CTR ciphers, "
                   "SHA-2 ETM MACs and curve25519 or SHA-2 DH key exchanges, then reload sshd.")
def crypto(sshd_effective: SshdConfig, ssh_weak_ciphers: tuple[str, ...] = CIS_WEAK_CIPHERS,
           ssh_weak_macs: tuple[str, ...] = CIS_WEAK_MACS, ssh_weak_kex: tuple[str, ...] = CIS_WEAK_KEX) -> Finding:
    """Weak algorithms by the site's lists; the defaults are the weak ciphers, MACs and key exchanges named by the
    CIS Distribution Independent Linux Benchmark v2.0.0, section 5.2 (SSH Server Configuration)."""
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    lists = {"ciphers": _patterns(ssh_weak_ciphers), "macs": _patterns(ssh_weak_macs),
             "kexalgorithms": _patterns(ssh_weak_kex), "hostkeyalgorithms": WEAK_HOST_KEYS}
    weak = weak_algorithms(sshd_effective, lists)
    if weak:
        listed = "; ".join(f"{k}: {', '.join(v)}" for k, v in weak.items())
        return failed(SSHD, f"weak algorithms enabled: {listed}", location=SSHD_CONFIG, weak=weak)
    enabled: dict[str, Any] = {k: ",".join(sshd_effective.list(k)) for k in ("ciphers", "macs", "kexalgorithms")}
    return passed(SSHD, "no weak SSH algorithms enabled", location=SSHD_CONFIG, **enabled)

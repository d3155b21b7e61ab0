"""OpenSSH server: who may log in, how, for how long, and with which algorithms (effective sshd -T config)."""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from checks.linux._common import SSHD, SSHD_CONFIG, sshd_missing
from scanner.facts.linux import SshdConfig, SshdFiles
from scanner.model import Finding, Location, error, failed, passed
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
    if not re.fullmatch(r"(?:\d+[smhdwSMHDW])*\d*", value):  # "5m=1", "300 junk": unreadable, never a timeout
        raise ValueError(f"{value[:40]!r} is not an sshd time (such as 300, 5m or 1h30m)")
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


# ---------------------------------------------------------------- issue 14: more of the server's settings
# Each check below reads the effective value from ``sshd -T`` and says where it is set (file and line, following
# Include drop-ins) from ``linux.sshd_files``; a value left at sshd's compiled-in default points at sshd_config.


def _setting(sshd: SshdConfig, files: SshdFiles, keys: tuple[str, ...], ok: Callable[[dict[str, str]], bool],
             good: str, bad: str) -> Finding:
    """Pass when ``ok`` accepts the effective values of ``keys``; the location is where the first key is set."""
    values = {k: sshd.get(k) for k in keys}
    where = next((files.set_at[k] for k in keys if k in files.set_at), files.where(keys[0]))
    observed: dict[str, Any] = {**values, "set_in": _where(files, keys)}
    shown = ", ".join(f"{k} {v or '(unset)'}" for k, v in values.items())
    if ok(values):
        return passed(SSHD, f"{good} ({shown})", location=where, **observed)
    return failed(SSHD, f"{bad}: {shown}", location=where, **observed)


def _where(files: SshdFiles, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: (f"{loc.path}:{loc.start_line}" if (loc := files.set_at.get(k)) else "compiled-in default")
            for k in keys}


@check(id="linux.ssh.x11_forwarding", title="SSH does not forward X11", severity="medium", area="access_control",
       criterion="The effective sshd configuration has X11Forwarding no.",
       remediation="Set 'X11Forwarding no' in /etc/ssh/sshd_config (or the drop-in that sets it) and reload sshd; "
                   "an X11 channel lets the server side reach the client's display.")
def x11_forwarding(sshd_effective: SshdConfig, sshd_files: SshdFiles) -> Finding:
    return sshd_missing(sshd_effective) or _setting(
        sshd_effective, sshd_files, ("x11forwarding",), lambda v: v["x11forwarding"] == "no",
        "X11 forwarding is off", "X11 forwarding is allowed")


@check(id="linux.ssh.forwarding", title="SSH does not forward TCP ports or the agent", severity="medium",
       area="access_control",
       criterion="The effective sshd configuration has AllowTcpForwarding no (or DisableForwarding yes) and, unless "
                 "the policy sets ssh_allow_agent_forwarding (default false), AllowAgentForwarding no.",
       remediation="Set 'AllowTcpForwarding no' and 'AllowAgentForwarding no' (or 'DisableForwarding yes') in "
                   "/etc/ssh/sshd_config and reload sshd; forwarded ports and agents carry traffic past the "
                   "network's controls.")
def forwarding(sshd_effective: SshdConfig, sshd_files: SshdFiles, ssh_allow_agent_forwarding: bool = False) -> Finding:
    def ok(v: dict[str, str]) -> bool:
        if v["disableforwarding"] == "yes":
            return True
        return v["allowtcpforwarding"] == "no" and (ssh_allow_agent_forwarding or v["allowagentforwarding"] == "no")

    return sshd_missing(sshd_effective) or _setting(
        sshd_effective, sshd_files, ("allowtcpforwarding", "allowagentforwarding", "disableforwarding"), ok,
        "port and agent forwarding are off", "forwarding is allowed")


@check(id="linux.ssh.user_environment", title="SSH users cannot set the server's environment", severity="medium",
       area="access_control", criterion="The effective sshd configuration has PermitUserEnvironment no.",
       remediation="Set 'PermitUserEnvironment no' in /etc/ssh/sshd_config and reload sshd, so a user's "
                   "~/.ssh/environment cannot set LD_PRELOAD and the like for their session.")
def user_environment(sshd_effective: SshdConfig, sshd_files: SshdFiles) -> Finding:
    return sshd_missing(sshd_effective) or _setting(
        sshd_effective, sshd_files, ("permituserenvironment",), lambda v: v["permituserenvironment"] == "no",
        "users cannot pass environment variables", "users can set environment variables")


@check(id="linux.ssh.host_based", title="SSH does not trust hosts or rhosts files", severity="high",
       area="access_control",
       criterion="The effective sshd configuration has HostbasedAuthentication no and IgnoreRhosts yes.",
       remediation="Set 'HostbasedAuthentication no' and 'IgnoreRhosts yes' in /etc/ssh/sshd_config and reload "
                   "sshd: a login must prove who the user is, not which host they come from.")
def host_based(sshd_effective: SshdConfig, sshd_files: SshdFiles) -> Finding:
    return sshd_missing(sshd_effective) or _setting(
        sshd_effective, sshd_files, ("hostbasedauthentication", "ignorerhosts"),
        lambda v: v["hostbasedauthentication"] == "no" and v["ignorerhosts"] == "yes",
        "host-based and rhosts authentication are off", "host-based or rhosts authentication is possible")


@check(id="linux.ssh.strict_modes", title="SSH checks the modes of users' key files", severity="medium",
       area="access_control", criterion="The effective sshd configuration has StrictModes yes.",
       remediation="Set 'StrictModes yes' in /etc/ssh/sshd_config and reload sshd, so sshd refuses keys in home "
                   "directories or files others can write.")
def strict_modes(sshd_effective: SshdConfig, sshd_files: SshdFiles) -> Finding:
    return sshd_missing(sshd_effective) or _setting(
        sshd_effective, sshd_files, ("strictmodes",), lambda v: v["strictmodes"] == "yes",
        "sshd checks file modes", "sshd does not check file modes")


def _limit(sshd: SshdConfig, files: SshdFiles, key: str, limit: int, unit: str, zero_ok: bool = False) -> Finding:
    raw = sshd.get(key)
    value = _seconds(raw) if unit == "s" else (int(raw) if raw.isdigit() else None)
    observed: dict[str, Any] = {key: raw, "limit": limit, "set_in": _where(files, (key,))}
    where = files.where(key)
    if value is not None and (0 < value or zero_ok) and value <= limit:
        return passed(SSHD, f"{key} {raw} is within {limit}{unit}", location=where, **observed)
    shown = "no limit" if value is None else raw
    return failed(SSHD, f"{key} is {shown}, expected 1 to {limit}{unit}", location=where, **observed)


@check(id="linux.ssh.login_grace_time", title="SSH drops unauthenticated connections quickly", severity="low",
       area="access_control",
       criterion="The effective LoginGraceTime is between 1 and ssh_login_grace_time_seconds (default 60, the CIS "
                 "figure: long enough for a person, short enough to limit held-open connections).",
       remediation="Set 'LoginGraceTime 60' (or the policy's limit) in /etc/ssh/sshd_config and reload sshd.")
def login_grace_time(sshd_effective: SshdConfig, sshd_files: SshdFiles,
                     ssh_login_grace_time_seconds: int = 60) -> Finding:
    return sshd_missing(sshd_effective) or _limit(sshd_effective, sshd_files, "logingracetime",
                                                  ssh_login_grace_time_seconds, "s")


@check(id="linux.ssh.max_sessions", title="SSH limits sessions per connection", severity="low",
       area="access_control",
       criterion="The effective MaxSessions is between 1 and ssh_max_sessions (default 10, the CIS figure and "
                 "sshd's own default).",
       remediation="Set 'MaxSessions 10' (or the policy's limit) in /etc/ssh/sshd_config and reload sshd.")
def max_sessions(sshd_effective: SshdConfig, sshd_files: SshdFiles, ssh_max_sessions: int = 10) -> Finding:
    return sshd_missing(sshd_effective) or _limit(sshd_effective, sshd_files, "maxsessions", ssh_max_sessions, "")


@check(id="linux.ssh.max_startups", title="SSH limits concurrent unauthenticated connections", severity="low",
       area="access_control",
       criterion="The effective MaxStartups start:rate:full is at least as strict as ssh_max_startups (default "
                 "10:30:60, the CIS figure): start and full no higher, the drop rate no lower.",
       remediation="Set 'MaxStartups 10:30:60' (or stricter) in /etc/ssh/sshd_config and reload sshd, so a flood "
                   "of half-open connections is refused early.")
def max_startups(sshd_effective: SshdConfig, sshd_files: SshdFiles, ssh_max_startups: str = "10:30:60") -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    raw = sshd_effective.get("maxstartups")
    want = [int(x) for x in str(ssh_max_startups).split(":")]
    parts = raw.split(":")
    got = [int(p) for p in parts] if all(p.isdigit() for p in parts) else []
    if len(got) == 1:
        got = [got[0], 100, got[0]]  # a single number: refuse every connection beyond it
    if len(got) != 3 or len(want) != 3:
        raise ValueError(f"MaxStartups {raw!r} or policy {ssh_max_startups!r} is not start:rate:full")
    observed: dict[str, Any] = {"maxstartups": raw, "limit": ssh_max_startups,
                                "set_in": _where(sshd_files, ("maxstartups",))}
    where = sshd_files.where("maxstartups")
    if got[0] <= want[0] and got[1] >= want[1] and got[2] <= want[2]:
        return passed(SSHD, f"MaxStartups {raw} is within {ssh_max_startups}", location=where, **observed)
    return failed(SSHD, f"MaxStartups {raw} is laxer than {ssh_max_startups}", location=where, **observed)


@check(id="linux.ssh.access_lists", title="SSH logins are limited to named users or groups", severity="medium",
       area="access_control",
       criterion="The effective sshd configuration sets at least one of AllowUsers, AllowGroups, DenyUsers or "
                 "DenyGroups.",
       remediation="Add 'AllowGroups <group>' (or AllowUsers) to /etc/ssh/sshd_config naming who may log in over "
                   "SSH, and reload sshd.")
def access_lists(sshd_effective: SshdConfig, sshd_files: SshdFiles) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    keys = ("allowusers", "allowgroups", "denyusers", "denygroups")
    lists = {k: list(sshd_effective.options.get(k, ())) for k in keys}
    observed: dict[str, Any] = {**lists, "set_in": {k: v for k, v in _where(sshd_files, keys).items() if lists[k]}}
    where = next((sshd_files.set_at[k] for k in keys if k in sshd_files.set_at), SSHD_CONFIG)
    if any(lists.values()):
        shown = "; ".join(f"{k} {' '.join(v)}" for k, v in lists.items() if v)
        return passed(SSHD, f"SSH logins are limited: {shown}", location=where, **observed)
    return failed(SSHD, "any account with a valid credential may log in over SSH (no AllowUsers, AllowGroups, "
                        "DenyUsers or DenyGroups)", location=where, **observed)


@check(id="linux.ssh.log_level", title="SSH logs logins for the audit trail", severity="medium",
       area="audit_logging",
       criterion="The effective LogLevel is one of ssh_log_levels (default VERBOSE or INFO: INFO records logins and "
                 "logouts, VERBOSE also the key fingerprint used; DEBUG levels may log private data).",
       remediation="Set 'LogLevel VERBOSE' in /etc/ssh/sshd_config and reload sshd.")
def log_level(sshd_effective: SshdConfig, sshd_files: SshdFiles,
              ssh_log_levels: tuple[str, ...] = ("VERBOSE", "INFO")) -> Finding:
    allowed = {str(v).upper() for v in ssh_log_levels}
    return sshd_missing(sshd_effective) or _setting(
        sshd_effective, sshd_files, ("loglevel",), lambda v: v["loglevel"].upper() in allowed,
        "sshd logs at an audit level", f"sshd logs at a level other than {' or '.join(sorted(allowed))}")


@check(id="linux.ssh.banner", title="SSH shows a warning banner before login", severity="low",
       area="access_control",
       criterion="The effective sshd configuration names a Banner file (not none).",
       remediation="Write the site's authorised-use notice to /etc/issue.net, set 'Banner /etc/issue.net' in "
                   "/etc/ssh/sshd_config and reload sshd.")
def banner(sshd_effective: SshdConfig, sshd_files: SshdFiles) -> Finding:
    return sshd_missing(sshd_effective) or _setting(
        sshd_effective, sshd_files, ("banner",), lambda v: v["banner"] not in ("", "none"),
        "a banner is shown before login", "no banner is shown before login")


@check(id="linux.ssh.gssapi", title="SSH does not accept GSSAPI authentication", severity="low",
       area="access_control",
       criterion="GSSAPIAuthentication is no in the effective sshd configuration (or sshd is built without GSSAPI), "
                 "unless the policy sets ssh_allow_gssapi (default false) for a Kerberos realm the site runs.",
       remediation="Set 'GSSAPIAuthentication no' in /etc/ssh/sshd_config (RHEL turns it on in "
                   "/etc/ssh/sshd_config.d/50-redhat.conf) and reload sshd, unless Kerberos logins are intended.")
def gssapi(sshd_effective: SshdConfig, sshd_files: SshdFiles, ssh_allow_gssapi: bool = False) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    if "gssapiauthentication" not in sshd_effective.options:
        return passed(SSHD, "this sshd is built without GSSAPI support", location=SSHD_CONFIG,
                      gssapiauthentication=None)
    return _setting(sshd_effective, sshd_files, ("gssapiauthentication",),
                    lambda v: ssh_allow_gssapi or v["gssapiauthentication"] == "no",
                    "GSSAPI authentication is off or allowed by policy", "GSSAPI authentication is on")


_SIZE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@check(id="linux.ssh.rekey_limit", title="SSH renews session keys", severity="low", area="encryption",
       criterion="The effective RekeyLimit renews keys after at most ssh_rekey_max_bytes (default 1 GiB) and "
                 "ssh_rekey_max_seconds (default 3600), the limits of the DISA STIG for RHEL 9; 0 (sshd's default) "
                 "leaves the data limit to the cipher and sets no time limit.",
       remediation="Set 'RekeyLimit 1G 1h' in /etc/ssh/sshd_config and reload sshd.")
def rekey_limit(sshd_effective: SshdConfig, sshd_files: SshdFiles, ssh_rekey_max_bytes: int = 1 << 30,
                ssh_rekey_max_seconds: int = 3600) -> Finding:
    if (na := sshd_missing(sshd_effective)) is not None:
        return na
    raw = sshd_effective.get("rekeylimit")
    parts = raw.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[1].isdigit():
        raise ValueError(f"rekeylimit {raw!r} is not '<bytes> <seconds>'")
    data, seconds = int(parts[0]), int(parts[1])
    observed: dict[str, Any] = {"bytes": data, "seconds": seconds, "max_bytes": ssh_rekey_max_bytes,
                                "max_seconds": ssh_rekey_max_seconds, "set_in": _where(sshd_files, ("rekeylimit",))}
    problems = []
    if not 0 < data <= ssh_rekey_max_bytes:
        problems.append(f"data limit {'cipher default' if data == 0 else data} exceeds {ssh_rekey_max_bytes} bytes")
    if not 0 < seconds <= ssh_rekey_max_seconds:
        problems.append(f"time limit {'none' if seconds == 0 else seconds} exceeds {ssh_rekey_max_seconds} s")
    where = sshd_files.where("rekeylimit")
    if problems:
        return failed(SSHD, f"keys are renewed too rarely: {'; '.join(problems)}", location=where, **observed)
    return passed(SSHD, f"keys are renewed after {data} bytes or {seconds} s", location=where, **observed)


@check(id="linux.ssh.host_key_perms", title="SSH private host keys are readable by root only", severity="high",
       area="encryption",
       criterion="Every private host key the effective sshd configuration names exists, is a regular file owned by "
                 "root, mode 0600 or stricter (0640 with group ssh_keys, as RHEL ships them, is accepted).",
       remediation="chown root:root and chmod 0600 each listed host key (RHEL: root:ssh_keys 0640), then replace "
                   "keys that were readable by others: regenerate them and update known_hosts.")
def host_key_perms(sshd_effective: SshdConfig, sshd_files: SshdFiles) -> list[Finding]:
    if (na := sshd_missing(sshd_effective)) is not None:
        return [na]
    findings = []
    for path in sshd_effective.options.get("hostkey", ()):
        if path not in sshd_files.host_keys:
            findings.append(error(path, f"the host key {path} named by sshd -T was not examined"))
            continue
        st = sshd_files.host_keys[path]
        if st is None:
            findings.append(failed(path, f"the host key {path} does not exist", location=Location(path)))
            continue
        observed: dict[str, Any] = {"mode": st.octal, "owner": st.owner, "group": st.group, "kind": st.kind}
        max_mode = 0o640 if st.group == "ssh_keys" else 0o600
        problems = [f"mode {st.octal} is wider than {max_mode:04o}"] if st.mode & ~max_mode & 0o7777 else []
        problems += [f"owner {st.owner} is not root"] if st.owner != "root" else []
        problems += [f"it is a {st.kind}, not a regular file"] if not st.kind.startswith("regular") else []
        if problems:
            findings.append(failed(path, f"{path}: {'; '.join(problems)}", location=Location(path), **observed))
        else:
            findings.append(passed(path, f"{path} is {st.octal} {st.owner}:{st.group}", location=Location(path),
                                   **observed))
    return findings or [error(SSHD, "sshd -T names no host key")]


@check(id="linux.ssh.config_files", title="sshd configuration and drop-ins are writable by root only",
       severity="medium", area="access_control",
       criterion="/etc/ssh/sshd_config and every file its Include directives read are owned by root; those in /etc/ssh "
                 "have a mode no wider than ssh_config_max_mode (default 0600, the CIS figure), others (such as the "
                 "crypto-policy back-end RHEL includes) are not writable by group or others. The drop-ins read, in "
                 "order, are listed in the evidence.",
       remediation="chown root:root and chmod 0600 /etc/ssh/sshd_config and each listed drop-in; remove drop-ins "
                   "that should not be there.")
def config_files(sshd_effective: SshdConfig, sshd_files: SshdFiles, ssh_config_max_mode: int = 0o600) -> list[Finding]:
    if (na := sshd_missing(sshd_effective)) is not None:
        return [na]
    if not sshd_files.files:
        return [failed(SSHD_CONFIG.path, "/etc/ssh/sshd_config does not exist: sshd runs on compiled-in defaults",
                       location=SSHD_CONFIG)]
    includes = [f"{i.file}:{i.line}: Include {i.pattern} -> {', '.join(i.matched) or '(no file)'}"
                for i in sshd_files.includes]
    findings = []
    for path in sshd_files.files:
        st = sshd_files.file_stats.get(path)
        if st is None:
            findings.append(error(path, f"owner and mode of {path} were not collected"))
            continue
        observed: dict[str, Any] = {"mode": st.octal, "owner": st.owner, "group": st.group}
        if path == SSHD_CONFIG.path:
            observed |= {"read_in_order": list(sshd_files.files), "includes": includes,
                         "not_collected": list(sshd_files.not_collected)}
        limit = ssh_config_max_mode if path.startswith("/etc/ssh/") else 0o755  # e.g. a crypto-policy back-end
        problems = [f"mode {st.octal} is wider than {limit:04o}"] if st.mode & ~limit & 0o7777 else []
        problems += [f"owner {st.owner} is not root"] if st.owner != "root" else []
        status = failed if problems else passed
        message = f"{path}: {'; '.join(problems)}" if problems else f"{path} is {st.octal} {st.owner}:{st.group}"
        findings.append(status(path, message, location=Location(path), **observed))
    return findings

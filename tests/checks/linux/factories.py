"""Small factories for Linux facts, so check logic is tested on values, not on mocks."""
from __future__ import annotations

from scanner.facts.linux import Journald, LoginDefs, Pam, PamRule, SshdConfig, TimeSync
from scanner.model import Location, freeze

SECURITY = "/lib/x86_64-linux-gnu/security/"


def login_defs(**values: str) -> LoginDefs:
    """login.defs with the given settings, each on its own line in the order given."""
    return LoginDefs(freeze(values), freeze({}),
                     freeze({k: Location("/etc/login.defs", n) for n, k in enumerate(values, 1)}))


def pam_rule(line: str, file: str = "/etc/pam.d/common-password", n: int = 1) -> PamRule:
    """``password requisite pam_pwquality.so minlen=14`` as a rule (arguments as key=value or flags)."""
    type_, control, module, *args = line.split()
    return PamRule(file, n, type_, control, module, freeze(dict(a.partition("=")[::2] for a in args)))


def pam(*lines: str, installed: tuple[str, ...] = ("pam_unix.so", "pam_deny.so", "pam_permit.so"),
        pwquality: dict[str, str] | None = None, faillock: dict[str, str] | None = None) -> Pam:
    rules = tuple(pam_rule(line, n=n) for n, line in enumerate(lines, 1))
    return Pam(rules, freeze(pwquality or {}), freeze(faillock or {}), freeze({}), ("/etc/pam.d/common-password",),
               frozenset(SECURITY + m for m in installed))


def sshd(**options: str) -> SshdConfig:
    base = {"permitrootlogin": "no", "passwordauthentication": "no", "ciphers": "aes256-gcm@openssh.com"}
    return SshdConfig(True, freeze({k: (v,) for k, v in {**base, **options}.items()}))


def journald(running: bool, storage: str = "persistent", how: str = "systemctl is-active: active") -> Journald:
    return Journald(True, storage, True, freeze({"Storage": storage}), running, how)


def time_sync(synchronized: bool = False, configured: bool = True) -> TimeSync:
    return TimeSync(synchronized, "timedatectl" if configured else "", "", freeze({}), configured)

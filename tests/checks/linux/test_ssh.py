"""The SSH server checks on small facts, asserting status, message and observed values: the mutants of
checks/linux/ssh.py that the recorded cases left alive (docs/mutation.md, issue 15 fourth session)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from checks.linux import ssh
from scanner.facts.linux import FileStat, SshdConfig, SshdFiles, SshdInclude
from scanner.model import Finding, Location, Status, freeze, thaw
from scanner.registry import spec_of
from scanner.runner import evaluate
from tests.factories import make_fact, make_target

CONFIG = "/etc/ssh/sshd_config"
DEFAULT = "compiled-in default"


def sshd(**options: str) -> SshdConfig:
    """``sshd -T`` with exactly these options (a key left out is absent, as on an sshd that does not print it)."""
    return SshdConfig(True, freeze({k: tuple(v.split("\n")) for k, v in options.items()}))


def files(*, set_at: dict[str, int] | None = None, **kw: Any) -> SshdFiles:
    """The sshd files: ``set_at`` maps a keyword to its line in sshd_config."""
    base: dict[str, Any] = {"files": (CONFIG,), "includes": (), "file_stats": {}, "host_keys": {}}
    at = {k: Location(CONFIG, n) for k, n in (set_at or {}).items()}
    return SshdFiles(**{**base, **kw, "set_at": freeze(at)})


def stat(path: str, mode: int, owner: str = "root", group: str = "root", kind: str = "regular file") -> FileStat:
    return FileStat(path=path, mode=mode, uid=0 if owner == "root" else 1000, gid=0, owner=owner, group=group,
                    kind=kind)


def seen(f: Finding) -> tuple[Status, str, dict[str, Any]]:
    return f.status, f.message, thaw(f.observed)


# ---------------------------------------------------------------- checks of one value, with their exact words


@pytest.mark.parametrize(("check", "options", "status", "message", "observed"), [
    (ssh.root_login, {"permitrootlogin": "no"}, Status.PASS, "direct root login is refused (permitrootlogin no)",
     {"permitrootlogin": "no"}),
    (ssh.root_login, {"permitrootlogin": "prohibit-password"}, Status.FAIL,
     "direct root login is allowed: permitrootlogin prohibit-password, expected no",
     {"permitrootlogin": "prohibit-password"}),
    (ssh.empty_passwords, {"permitemptypasswords": "no"}, Status.PASS,
     "login with an empty password is refused (permitemptypasswords no)", {"permitemptypasswords": "no"}),
    (ssh.empty_passwords, {}, Status.FAIL,
     "login with an empty password is allowed: permitemptypasswords (unset), expected no",
     {"permitemptypasswords": ""}),
    (ssh.password_auth, {"passwordauthentication": "no", "kbdinteractiveauthentication": "yes"}, Status.FAIL,
     "password login over SSH is enabled (kbdinteractiveauthentication yes)",
     {"passwordauthentication": "no", "kbdinteractiveauthentication": "yes"}),
    (ssh.password_auth, {"passwordauthentication": "no", "kbdinteractiveauthentication": "no"}, Status.PASS,
     "SSH accepts no passwords (keys or certificates only)",
     {"passwordauthentication": "no", "kbdinteractiveauthentication": "no"}),
])
def test_each_yes_no_check_names_its_setting(check: Callable[[SshdConfig], Finding], options: dict[str, str],
                                             status: Status, message: str, observed: dict[str, Any]) -> None:
    got = check(sshd(**options))
    assert seen(got) == (status, message, observed)
    assert got.location == Location(CONFIG)


#: check, options, policy, status, message (every _setting check: its words for a pass and a fail)
SETTINGS: list[tuple[Callable[..., Finding], dict[str, str], dict[str, Any], Status, str]] = [
    (ssh.x11_forwarding, {"x11forwarding": "no"}, {}, Status.PASS, "X11 forwarding is off (x11forwarding no)"),
    (ssh.x11_forwarding, {"x11forwarding": "yes"}, {}, Status.FAIL, "X11 forwarding is allowed: x11forwarding yes"),
    (ssh.user_environment, {"permituserenvironment": "no"}, {}, Status.PASS,
     "users cannot pass environment variables (permituserenvironment no)"),
    (ssh.user_environment, {"permituserenvironment": "yes"}, {}, Status.FAIL,
     "users can set environment variables: permituserenvironment yes"),
    (ssh.strict_modes, {"strictmodes": "yes"}, {}, Status.PASS, "sshd checks file modes (strictmodes yes)"),
    (ssh.strict_modes, {"strictmodes": "no"}, {}, Status.FAIL, "sshd does not check file modes: strictmodes no"),
    (ssh.banner, {"banner": "/etc/issue.net"}, {}, Status.PASS,
     "a banner is shown before login (banner /etc/issue.net)"),
    (ssh.banner, {"banner": "none"}, {}, Status.FAIL, "no banner is shown before login: banner none"),
    (ssh.banner, {}, {}, Status.FAIL, "no banner is shown before login: banner (unset)"),  # not printed: no banner
    (ssh.host_based, {"hostbasedauthentication": "no", "ignorerhosts": "yes"}, {}, Status.PASS,
     "host-based and rhosts authentication are off (hostbasedauthentication no, ignorerhosts yes)"),
    (ssh.host_based, {"hostbasedauthentication": "no", "ignorerhosts": "no"}, {}, Status.FAIL,
     "host-based or rhosts authentication is possible: hostbasedauthentication no, ignorerhosts no"),
    (ssh.host_based, {"hostbasedauthentication": "yes", "ignorerhosts": "yes"}, {}, Status.FAIL,
     "host-based or rhosts authentication is possible: hostbasedauthentication yes, ignorerhosts yes"),
    (ssh.log_level, {"loglevel": "VERBOSE"}, {}, Status.PASS, "sshd logs at an audit level (loglevel VERBOSE)"),
    (ssh.log_level, {"loglevel": "DEBUG3"}, {}, Status.FAIL,
     "sshd logs at a level other than INFO or VERBOSE: loglevel DEBUG3"),
    (ssh.gssapi, {"gssapiauthentication": "no"}, {}, Status.PASS,
     "GSSAPI authentication is off or allowed by policy (gssapiauthentication no)"),
    (ssh.gssapi, {"gssapiauthentication": "yes"}, {}, Status.FAIL,
     "GSSAPI authentication is on: gssapiauthentication yes"),  # the policy default: not allowed
    (ssh.gssapi, {"gssapiauthentication": "yes"}, {"ssh_allow_gssapi": True}, Status.PASS,
     "GSSAPI authentication is off or allowed by policy (gssapiauthentication yes)"),
]
FORWARDING = ("allowtcpforwarding", "allowagentforwarding", "disableforwarding")
for tcp, agent, disable, policy, status in [
    ("no", "no", "no", {}, Status.PASS),
    ("no", "yes", "no", {}, Status.FAIL),  # agent forwarding is refused by default
    ("no", "yes", "no", {"ssh_allow_agent_forwarding": True}, Status.PASS),
    ("yes", "no", "no", {}, Status.FAIL),  # the agent alone off is not enough
    ("yes", "yes", "yes", {}, Status.PASS),  # DisableForwarding overrides both
]:
    shown = f"allowtcpforwarding {tcp}, allowagentforwarding {agent}, disableforwarding {disable}"
    SETTINGS.append((ssh.forwarding, dict(zip(FORWARDING, (tcp, agent, disable), strict=True)), policy, status,
                     f"port and agent forwarding are off ({shown})" if status is Status.PASS
                     else f"forwarding is allowed: {shown}"))


@pytest.mark.parametrize(("check", "options", "policy", "status", "message"), SETTINGS)
def test_each_setting_check_passes_and_fails_with_its_words(check: Callable[..., Finding], options: dict[str, str],
                                                             policy: dict[str, Any], status: Status,
                                                             message: str) -> None:
    keys = tuple(options) or ("banner",)
    at = {k: n for n, k in enumerate(options, 10)}
    got = check(sshd(**options), files(set_at=at), **policy)
    assert seen(got) == (status, message, {**{k: options.get(k, "") for k in keys},
                                           "set_in": {k: f"{CONFIG}:{at[k]}" if k in at else DEFAULT
                                                      for k in keys}})
    assert got.location == (Location(CONFIG, 10) if at else Location(CONFIG))


def test_gssapi_on_an_sshd_built_without_it_passes() -> None:
    assert seen(ssh.gssapi(sshd(), files())) == (Status.PASS, "this sshd is built without GSSAPI support",
                                                 {"gssapiauthentication": None})


@pytest.mark.parametrize("key", ["allowusers", "allowgroups", "denyusers", "denygroups"])
def test_any_one_access_list_limits_logins(key: str) -> None:
    got = ssh.access_lists(sshd(**{key: "alice bob"}), files(set_at={key: 7}))
    empty: dict[str, Any] = {k: [] for k in ("allowusers", "allowgroups", "denyusers", "denygroups")}
    assert seen(got) == (Status.PASS, f"SSH logins are limited: {key} alice bob",
                         {**empty, key: ["alice bob"], "set_in": {key: f"{CONFIG}:7"}})
    assert got.location == Location(CONFIG, 7)
    assert ssh.access_lists(sshd(), files()).status is Status.FAIL


# ---------------------------------------------------------------- numbers, limits and sshd's time format


@pytest.mark.parametrize(("options", "policy", "status", "message", "value"), [
    ({}, {}, Status.FAIL, "MaxAuthTries 6 exceeds 4", 6),  # unset: sshd's default 6, over the default limit 4
    ({"maxauthtries": "4"}, {}, Status.PASS, "MaxAuthTries 4 <= 4", 4),  # the limit itself passes
    ({"maxauthtries": "5"}, {}, Status.FAIL, "MaxAuthTries 5 exceeds 4", 5),
    ({"maxauthtries": "5"}, {"max_auth_tries": 5}, Status.PASS, "MaxAuthTries 5 <= 5", 5),
])
def test_max_auth_tries_default_limit_and_bound(options: dict[str, str], policy: dict[str, int], status: Status,
                                               message: str, value: int) -> None:
    limit = policy.get("max_auth_tries", 4)
    assert seen(ssh.max_auth_tries(sshd(**options), **policy)) == (status, message,
                                                                   {"maxauthtries": value, "limit": limit})


@pytest.mark.parametrize(("raw", "policy", "status", "message"), [
    ("10", {}, Status.PASS, "maxsessions 10 is within 10"),  # the default limit is 10
    ("11", {}, Status.FAIL, "maxsessions is 11, expected 1 to 10"),
    ("1", {}, Status.PASS, "maxsessions 1 is within 10"),  # the lower bound is 1
    ("0", {}, Status.FAIL, "maxsessions is 0, expected 1 to 10"),  # 0 is not a session limit here
    ("10s", {}, Status.FAIL, "maxsessions is no limit, expected 1 to 10"),  # a count, not a time: unreadable
    ("many", {}, Status.FAIL, "maxsessions is no limit, expected 1 to 10"),
    ("", {"ssh_max_sessions": 3}, Status.FAIL, "maxsessions is no limit, expected 1 to 3"),
])
def test_max_sessions_is_a_count_from_one_to_the_limit(raw: str, policy: dict[str, int], status: Status,
                                                       message: str) -> None:
    got = ssh.max_sessions(sshd(**({"maxsessions": raw} if raw else {})), files(set_at={"maxsessions": 4}), **policy)
    assert seen(got) == (status, message, {"maxsessions": raw, "limit": policy.get("ssh_max_sessions", 10),
                                           "set_in": {"maxsessions": f"{CONFIG}:4"}})
    assert got.location == Location(CONFIG, 4)


@pytest.mark.parametrize(("raw", "limit", "status"), [
    ("60", None, Status.PASS), ("61", None, Status.FAIL),  # the default limit is 60 s
    ("1", None, Status.PASS), ("0", None, Status.FAIL), ("none", None, Status.FAIL), ("", None, Status.FAIL),
    ("1m", None, Status.PASS), ("1M", None, Status.PASS), ("2M", None, Status.FAIL),  # units in either case
    ("45s", None, Status.PASS), ("30S", 29, Status.FAIL), ("1m30s", None, Status.FAIL), ("1m30s", 90, Status.PASS),
    ("1h", 3600, Status.PASS), ("1h", 3599, Status.FAIL), ("1H", 3600, Status.PASS),
    ("1d", 86400, Status.PASS), ("1d", 86399, Status.FAIL), ("1D", 86400, Status.PASS),
    ("1w", 604800, Status.PASS), ("1w", 604799, Status.FAIL), ("1W", 604800, Status.PASS),
    ("1w1d1h1m1s", 694861, Status.PASS), ("1w1d1h1m1s", 694860, Status.FAIL),
])
def test_login_grace_time_reads_sshd_time_formats(raw: str, limit: int | None, status: Status) -> None:
    policy = {} if limit is None else {"ssh_login_grace_time_seconds": limit}
    got = ssh.login_grace_time(sshd(**({"logingracetime": raw} if raw else {})), files(), **policy)
    shown = limit or 60
    unlimited = raw in ("0", "none", "")
    message = f"logingracetime {raw} is within {shown}s" if status is Status.PASS else \
        f"logingracetime is {'no limit' if unlimited else raw}, expected 1 to {shown}s"
    assert seen(got) == (status, message, {"logingracetime": raw, "limit": shown,
                                           "set_in": {"logingracetime": DEFAULT}})


#: options of sshd -T -> status and the message (the default limit is 900 s)
@pytest.mark.parametrize(("options", "policy", "status", "message"), [
    ({}, {}, Status.FAIL, "idle SSH sessions end never, limit 900 s"),  # nothing set: sshd never closes them
    ({"clientaliveinterval": "300"}, {}, Status.PASS, "idle sessions end after 900 s"),  # CountMax defaults to 3
    ({"clientaliveinterval": "300", "clientalivecountmax": "4"}, {}, Status.FAIL,
     "idle SSH sessions end 1200 s, limit 900 s"),
    ({"clientaliveinterval": "600", "clientalivecountmax": "2"}, {}, Status.FAIL,
     "idle SSH sessions end 1200 s, limit 900 s"),  # the product, not the quotient
    ({"clientaliveinterval": "300", "clientalivecountmax": "1"}, {}, Status.PASS, "idle sessions end after 300 s"),
    ({"clientaliveinterval": "1", "clientalivecountmax": "3"}, {}, Status.PASS, "idle sessions end after 3 s"),
    ({"clientaliveinterval": "300", "clientalivecountmax": "0"}, {}, Status.FAIL,
     "idle SSH sessions end never, limit 900 s"),  # CountMax 0 turns the client-alive timeout off
    ({"clientaliveinterval": "901", "clientalivecountmax": "1"}, {}, Status.FAIL,
     "idle SSH sessions end 901 s, limit 900 s"),
    ({"clientaliveinterval": "901", "clientalivecountmax": "1"}, {"idle_timeout_seconds": 901}, Status.PASS,
     "idle sessions end after 901 s"),
    ({"channeltimeout": "*=5m"}, {}, Status.PASS, "idle sessions end after 300 s"),  # the wildcard covers sessions
    ({"channeltimeout": "session=10m,*=20m"}, {}, Status.PASS, "idle sessions end after 600 s"),
    ({"channeltimeout": "global=5m,session=20m"}, {}, Status.FAIL, "idle SSH sessions end 1200 s, limit 900 s"),
    ({"channeltimeout": "session=20m", "clientaliveinterval": "60"}, {}, Status.PASS,
     "idle sessions end after 180 s"),  # the shorter of the two
])
def test_idle_timeout_through_client_alive_or_channel_timeout(options: dict[str, str], policy: dict[str, int],
                                                              status: Status, message: str) -> None:
    got = ssh.idle_timeout(sshd(**options), **policy)
    channel = dict(v.split("=") for v in options.get("channeltimeout", "").split(",") if v)
    session = {"*=5m": 300, "session=10m,*=20m": 600}.get(options.get("channeltimeout", ""))
    session = session or (1200 if channel.get("session") == "20m" else None)
    assert seen(got) == (status, message, {"clientaliveinterval": int(options.get("clientaliveinterval", "0")),
                                           "clientalivecountmax": int(options.get("clientalivecountmax", "3")),
                                           "channeltimeout_session": session,
                                           "limit": policy.get("idle_timeout_seconds", 900)})


@pytest.mark.parametrize(("raw", "policy", "status", "message"), [
    ("10:30:60", {}, Status.PASS, "MaxStartups 10:30:60 is within 10:30:60"),  # the default policy
    ("10:30:100", {}, Status.FAIL, "MaxStartups 10:30:100 is laxer than 10:30:60"),
    ("20:30:60", {}, Status.FAIL, "MaxStartups 20:30:60 is laxer than 10:30:60"),  # start is not the rate
    ("10:20:60", {}, Status.FAIL, "MaxStartups 10:20:60 is laxer than 10:30:60"),  # a lower drop rate is laxer
    ("5:50:30", {}, Status.PASS, "MaxStartups 5:50:30 is within 10:30:60"),
    ("10", {}, Status.PASS, "MaxStartups 10 is within 10:30:60"),  # one number: 10:100:10
    ("10", {"ssh_max_startups": "10:100:10"}, Status.PASS, "MaxStartups 10 is within 10:100:10"),
])
def test_max_startups_is_judged_part_by_part(raw: str, policy: dict[str, str], status: Status, message: str) -> None:
    got = ssh.max_startups(sshd(maxstartups=raw), files(set_at={"maxstartups": 3}), **policy)
    assert seen(got) == (status, message, {"maxstartups": raw, "limit": policy.get("ssh_max_startups", "10:30:60"),
                                           "set_in": {"maxstartups": f"{CONFIG}:3"}})


GIB = 1 << 30


@pytest.mark.parametrize(("raw", "policy", "status", "message"), [
    (f"{GIB} 3600", {}, Status.PASS, f"keys are renewed after {GIB} bytes or 3600 s"),  # the default limits
    ("1 1", {}, Status.PASS, "keys are renewed after 1 bytes or 1 s"),  # the lower bounds are 1
    (f"{GIB} 3601", {}, Status.FAIL, "keys are renewed too rarely: time limit 3601 exceeds 3600 s"),
    (f"{GIB + 1} 3600", {}, Status.FAIL, f"keys are renewed too rarely: data limit {GIB + 1} exceeds {GIB} bytes"),
    ("0 0", {}, Status.FAIL, f"keys are renewed too rarely: data limit cipher default exceeds {GIB} bytes; "
                             "time limit none exceeds 3600 s"),  # sshd's default
    ("1 0", {}, Status.FAIL, "keys are renewed too rarely: time limit none exceeds 3600 s"),
    ("0 1", {}, Status.FAIL, f"keys are renewed too rarely: data limit cipher default exceeds {GIB} bytes"),
    ("2 2", {"ssh_rekey_max_bytes": 1, "ssh_rekey_max_seconds": 1}, Status.FAIL,
     "keys are renewed too rarely: data limit 2 exceeds 1 bytes; time limit 2 exceeds 1 s"),
])
def test_rekey_limit_bounds_and_words(raw: str, policy: dict[str, int], status: Status, message: str) -> None:
    got = ssh.rekey_limit(sshd(rekeylimit=raw), files(), **policy)
    data, seconds = map(int, raw.split())
    assert seen(got) == (status, message, {"bytes": data, "seconds": seconds,
                                           "max_bytes": policy.get("ssh_rekey_max_bytes", GIB),
                                           "max_seconds": policy.get("ssh_rekey_max_seconds", 3600),
                                           "set_in": {"rekeylimit": DEFAULT}})


@pytest.mark.parametrize(("check", "raw"), [
    (ssh.rekey_limit, "5 3600 7"), (ssh.rekey_limit, "abc 3600"), (ssh.rekey_limit, "3600 abc"),
    (ssh.rekey_limit, "1G 1h"), (ssh.max_startups, "10:30"), (ssh.max_startups, "a:b:c"),
])
def test_an_unreadable_value_raises_naming_it(check: Callable[..., Finding], raw: str) -> None:
    key = "rekeylimit" if check is ssh.rekey_limit else "maxstartups"
    with pytest.raises(ValueError, match=f"(?i){key} '{raw}'.* is not"):
        check(sshd(**{key: raw}), files())


# ---------------------------------------------------------------- algorithms


@pytest.mark.parametrize("ciphers", [
    "aes128-ctr,3des-cbc", " AES128-CTR , 3des-cbc ,, ", ("aes128-ctr", "3des-cbc"), ["aes128-ctr", " ", "3des-cbc"],
])
def test_a_site_cipher_list_is_a_list_or_one_comma_separated_string(ciphers: Any) -> None:
    got = ssh.crypto(sshd(ciphers="aes128-ctr,aes256-gcm@openssh.com,3des-cbc"), ssh_weak_ciphers=ciphers)
    assert seen(got) == (Status.FAIL, "weak algorithms enabled: ciphers: aes128-ctr, 3des-cbc",
                         {"weak": {"ciphers": ["aes128-ctr", "3des-cbc"]}})
    assert ssh.crypto(sshd(ciphers="aes256-gcm@openssh.com"), ssh_weak_ciphers=ciphers).status is Status.PASS


# ---------------------------------------------------------------- files


def test_host_keys_each_judged_with_mode_owner_and_kind() -> None:
    keys = ("/k/missed", "/k/gone", "/k/good", "/k/rhel", "/k/rhel-wide", "/k/link", "/k/user", "/k/wide")
    host_keys = {
        "/k/gone": None,
        "/k/good": stat("/k/good", 0o600),
        "/k/rhel": stat("/k/rhel", 0o640, group="ssh_keys"),
        "/k/rhel-wide": stat("/k/rhel-wide", 0o641, group="ssh_keys"),
        "/k/link": stat("/k/link", 0o600, kind="symbolic link"),
        "/k/user": stat("/k/user", 0o600, owner="alice"),
        "/k/wide": stat("/k/wide", 0o640),
    }
    got = ssh.host_key_perms(sshd(hostkey="\n".join(keys)), files(host_keys=freeze(host_keys)))

    def obs(mode: str, owner: str = "root", group: str = "root", kind: str = "regular file") -> dict[str, str]:
        return {"mode": mode, "owner": owner, "group": group, "kind": kind}

    assert [(f.resource, *seen(f)) for f in got] == [
        ("/k/missed", Status.ERROR, "the host key /k/missed named by sshd -T was not examined", {}),
        ("/k/gone", Status.FAIL, "the host key /k/gone does not exist", {}),
        ("/k/good", Status.PASS, "/k/good is 0600 root:root", obs("0600")),
        ("/k/rhel", Status.PASS, "/k/rhel is 0640 root:ssh_keys", obs("0640", group="ssh_keys")),
        ("/k/rhel-wide", Status.FAIL, "/k/rhel-wide: mode 0641 is wider than 0640", obs("0641", group="ssh_keys")),
        ("/k/link", Status.FAIL, "/k/link: it is a symbolic link, not a regular file",
         obs("0600", kind="symbolic link")),
        ("/k/user", Status.FAIL, "/k/user: owner alice is not root", obs("0600", owner="alice")),
        ("/k/wide", Status.FAIL, "/k/wide: mode 0640 is wider than 0600", obs("0640")),
    ]
    assert [f.location for f in got[1:]] == [Location(k) for k in keys[1:]]


def test_no_host_key_named_is_an_error() -> None:
    assert [seen(f) for f in ssh.host_key_perms(sshd(), files())] == [
        (Status.ERROR, "sshd -T names no host key", {})]


def test_config_files_each_judged_with_its_own_limit_and_the_includes_listed() -> None:
    drop, gone, crypto, wide = ("/etc/ssh/sshd_config.d/10-site.conf", "/etc/ssh/sshd_config.d/20-gone.conf",
                                "/etc/crypto-policies/back-ends/opensshserver.config", "/usr/local/etc/sshd.conf")
    order = (CONFIG, gone, drop, crypto, wide)
    includes = (SshdInclude(CONFIG, 1, "sshd_config.d/*.conf", (gone, drop)),
                SshdInclude(CONFIG, 2, "/etc/ssh/none/*.conf", ()))
    stats = {CONFIG: stat(CONFIG, 0o601), drop: stat(drop, 0o600, owner="alice", group="staff"),
             crypto: stat(crypto, 0o755), wide: stat(wide, 0o756)}
    got = ssh.config_files(sshd(), files(files=order, includes=includes, file_stats=freeze(stats),
                                         not_collected=(drop,)))
    assert [(f.resource, *seen(f)) for f in got] == [
        (CONFIG, Status.FAIL, f"{CONFIG}: mode 0601 is wider than 0600",
         {"mode": "0601", "owner": "root", "group": "root", "read_in_order": list(order),
          "includes": [f"{CONFIG}:1: Include sshd_config.d/*.conf -> {gone}, {drop}",
                       f"{CONFIG}:2: Include /etc/ssh/none/*.conf -> (no file)"],
          "not_collected": [drop]}),
        (gone, Status.ERROR, f"owner and mode of {gone} were not collected", {}),
        (drop, Status.FAIL, f"{drop}: owner alice is not root", {"mode": "0600", "owner": "alice", "group": "staff"}),
        (crypto, Status.PASS, f"{crypto} is 0755 root:root", {"mode": "0755", "owner": "root", "group": "root"}),
        (wide, Status.FAIL, f"{wide}: mode 0756 is wider than 0755",
         {"mode": "0756", "owner": "root", "group": "root"}),
    ]
    assert ssh.config_files(sshd(), files(file_stats=freeze({CONFIG: stat(CONFIG, 0o644)})),
                            ssh_config_max_mode=0o644)[0].status is Status.PASS


def test_without_sshd_every_check_is_not_applicable() -> None:
    absent = SshdConfig(False)
    for check in (ssh.root_login, ssh.password_auth, ssh.empty_passwords, ssh.max_auth_tries, ssh.idle_timeout,
                  ssh.crypto):
        assert check(absent).status is Status.NOT_APPLICABLE
    for two in (ssh.x11_forwarding, ssh.forwarding, ssh.user_environment, ssh.host_based, ssh.strict_modes,
                ssh.login_grace_time, ssh.max_sessions, ssh.max_startups, ssh.access_lists, ssh.log_level,
                ssh.banner, ssh.gssapi, ssh.rekey_limit):
        assert two(absent, files()).status is Status.NOT_APPLICABLE
    for many in (ssh.host_key_perms, ssh.config_files):
        assert [f.status for f in many(absent, files())] == [Status.NOT_APPLICABLE]


@pytest.mark.parametrize(("check", "options", "shown"), [
    (ssh.idle_timeout, {"channeltimeout": "session=5m=1"}, "'5m=1'"),  # once read as 301 s: a pass
    (ssh.idle_timeout, {"channeltimeout": "*=300 junk"}, "'300 junk'"),
    (ssh.idle_timeout, {"channeltimeout": "session=" + "9" * 100 + "x"}, repr("9" * 40)),  # bounded in the message
    (ssh.login_grace_time, {"logingracetime": "2 minutes"}, "'2 minutes'"),
])
def test_an_unreadable_sshd_time_is_an_error_not_a_pass(check: Callable[..., Finding], options: dict[str, str],
                                                        shown: str) -> None:
    facts = {"linux.sshd_effective": make_fact("linux.sshd_effective", sshd(**options)),
             "linux.sshd_files": make_fact("linux.sshd_files", files())}
    got = evaluate(spec_of(check), facts, make_target())
    assert [(f.status, f.message) for f in got] == [
        (Status.ERROR, f"check raised ValueError: {shown} is not an sshd time (such as 300, 5m or 1h30m)")]

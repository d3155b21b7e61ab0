"""The LDAP challenges against real slapd servers (tests/lab/slapdlab.py).

The compliant and weak session servers for the safe challenges; for the intrusive ones a server of this module's
own (the compliant profile plus a weak ppolicy entry, test accounts and an account without write rights), so a
lockout here never meets another test. Every intrusive test also proves no other account changed.
"""
from __future__ import annotations

import contextlib
import json
import logging

import ldap3
import pytest

from checks.ldap.challenge_accounts import ldap_lockout, ldap_password_change
from checks.ldap.challenge_transport import anonymous_refused, plaintext_bind_refused
from scanner import cli  # at import, not under capsys: cli.Progress binds sys.stderr as a default
from scanner.challenge import ChallengeOutcome, challenge_spec_of, run_challenge
from scanner.connectors.ldap import verified_tls
from scanner.model import Platform, Status, Target
from tests.lab import slapdlab

pytestmark = pytest.mark.lab

SUFFIX = slapdlab.GOOD.suffix
PEOPLE = f"ou=people,{SUFFIX}"
TEST_PW = "Chall3nge-Test-Pw-7d41"  # planted: the tests prove it appears in no step, finding or log
READER_PW = "Reader-Only-Pw-55aa"
PW_ENV = "GXP_C12DIR_TEST_PW"
READER_ENV = "GXP_C12DIR_READER_PW"
STRICT, WEAK, FAILING = (f"uid={u},{PEOPLE}" for u in ("gxptest", "gxpweak", "gxpfail"))
READER = f"uid=reader,{PEOPLE}"


def _user(uid: str, password: str, extra: str = "") -> str:
    return (f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
            f"userPassword: {slapdlab.ssha(password)}\n{extra}")


EXTRA = "\n".join([
    f"dn: cn=weak,ou=policies,{SUFFIX}\nobjectClass: device\nobjectClass: pwdPolicy\ncn: weak\n"
    "pwdAttribute: userPassword\npwdMinLength: 4\npwdInHistory: 0\npwdLockout: FALSE\npwdMaxFailure: 0\n"
    "pwdCheckQuality: 2\n",
    _user("gxptest", TEST_PW),
    _user("gxpweak", TEST_PW, f"pwdPolicySubentry: cn=weak,ou=policies,{SUFFIX}\n"),
    _user("gxpfail", TEST_PW),
    _user("reader", READER_PW),
])


#: accesslog overlay settings of this module's servers: every write logged, only successful ones, none
ACCESS_LOGS = {"audited": ("logops writes",), "successes": ("logops writes", "logsuccess TRUE"), "plain": ()}


@pytest.fixture(scope="module")
def servers(slapd_lab, tmp_path_factory):
    root = tmp_path_factory.mktemp("c12dir")
    with contextlib.ExitStack() as stack:
        yield {name: stack.enter_context(slapdlab.good_with(slapd_lab.ca, root / name, f"c12dir-{name}", EXTRA,
                                                            accesslog=log))
               for name, log in ACCESS_LOGS.items()}


@pytest.fixture(scope="module")
def server(servers):
    return servers["audited"]


@pytest.fixture(autouse=True)
def secrets(monkeypatch):
    monkeypatch.setenv(PW_ENV, TEST_PW)
    monkeypatch.setenv(READER_ENV, READER_PW)


def target(server: slapdlab.Slapd, ca, account: str, *, reader: bool = False, **policy) -> Target:
    opts = {"url": server.ldap_url, "starttls": True, "ca_file": str(ca.cert), "timeout": 10,
            "bind_dn": READER if reader else server.admin_dn,
            "password_env": READER_ENV if reader else slapdlab.PASSWORD_ENV,
            "challenge_account": account, "challenge_password_env": PW_ENV}
    return Target(name="slapd-c12dir", type=Platform.LDAP, options=opts, policy=policy)


def admin(server: slapdlab.Slapd, ca) -> ldap3.Connection:
    tls = verified_tls("127.0.0.1", str(ca.cert))  # ldap3's own name check refuses IP SANs from Python 3.12 on
    conn = ldap3.Connection(ldap3.Server("127.0.0.1", port=server.ldap_port, tls=tls), user=server.admin_dn,
                            password=slapdlab.ADMIN_PASSWORD)
    conn.open()
    conn.start_tls()
    assert conn.bind()
    return conn


def accounts(server: slapdlab.Slapd, ca) -> dict[str, dict]:
    """Every account with all its attributes, operational ones included (lock and failure state, hashes)."""
    conn = admin(server, ca)
    try:
        conn.search(PEOPLE, "(objectClass=inetOrgPerson)", attributes=["*", "+"])
        return {e.entry_dn: e.entry_attributes_as_dict for e in conn.entries}
    finally:
        conn.unbind()


def run(func, tgt: Target, plan: bool = False) -> ChallengeOutcome:
    return run_challenge(challenge_spec_of(func), tgt, plan=plan)


def record(out: ChallengeOutcome) -> list[tuple[str, bool | None, bool]]:
    return [(s.action, s.ok, s.cleanup) for s in out.steps]


def assert_secret_absent(out: ChallengeOutcome, caplog) -> None:
    text = repr(out.steps) + repr(out.findings) + caplog.text
    assert TEST_PW not in text and READER_PW not in text and slapdlab.ADMIN_PASSWORD not in text


# -- safe ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which, status, bind_ok, search_ok", [
    ("good", Status.PASS, True, True),
    ("weak", Status.FAIL, False, False),
])
def test_anonymous_bind_and_search(slapd_lab, which, status, bind_ok, search_ok):
    out = run(anonymous_refused, slapd_lab.target(which))
    assert [f.status for f in out.findings] == [status]
    url, suffix = slapd_lab.servers[which].ldap_url, slapd_lab.servers[which].profile.suffix
    assert [(s.action, s.ok) for s in out.steps] == [
        (f"bind to {url} with the scan's account and read the root DSE", True), (f"anonymous bind to {url}", bind_ok),
        (f"search under {suffix} without credentials (subtree, at most 5 entries)", search_ok)]
    assert out.findings[0].observed["base_dn"] == slapd_lab.servers[which].profile.suffix
    if which == "weak":
        assert out.steps[2].actual.startswith("2 entries returned")  # the weak server's anonymous size limit


@pytest.mark.parametrize("which, status, ok, result", [
    ("good", Status.PASS, True, "confidentialityRequired (13)"),
    ("weak", Status.FAIL, False, "invalidCredentials (49)"),
])
def test_plaintext_bind(slapd_lab, which, status, ok, result):
    out = run(plaintext_bind_refused, slapd_lab.target(which))
    assert [f.status for f in out.findings] == [status]
    assert [s.ok for s in out.steps] == [True, ok] and result in out.steps[1].actual
    assert "made-up password" in out.steps[1].sent and "no TLS" in out.steps[1].sent


def test_an_unreachable_directory_is_an_error_not_a_pass(slapd_lab):
    dead = slapd_lab.target("good", url=f"ldap://127.0.0.1:{slapdlab.free_port()}", timeout=2)
    for func in (anonymous_refused, plaintext_bind_refused):
        out = run(func, dead)
        assert [f.status for f in out.findings] == [Status.ERROR] and [s.ok for s in out.steps] == [None]


def test_the_safe_challenges_are_planned_without_a_connection(slapd_lab):
    dead = slapd_lab.target("good", url="ldap://192.0.2.1:389")  # TEST-NET: nothing may be contacted
    assert [(s.action[:16], s.planned) for s in run(anonymous_refused, dead, plan=True).steps] == [
        ("bind to ldap://1", True), ("anonymous bind t", True), ("search under (th", True)]
    assert len(run(plaintext_bind_refused, dead, plan=True).steps) == 2


# -- intrusive: lockout -----------------------------------------------------------------------------------------
def lockout_compliant(url: str, dn: str, attrs: str, unlock: str, threshold: int = 5) -> list[tuple]:
    """The steps of a lockout that works, as (action, ok, clean-up); shared with the AD test."""
    read = f"read {attrs} of {dn} with the scan's account"
    right = f"simple bind as {dn} with its right password"
    return ([(f"bind to {url} with the scan's account and read the root DSE", True, False), (read, True, False)]
            + [(f"simple bind as {dn} with a wrong password (attempt {i} of {threshold})", True, False)
               for i in range(1, threshold + 1)]
            + [(right, True, False), (read, True, False), (f"as the scan's account: {unlock} on {dn}", True, True),
               (read, True, True), (right, True, True)])


def test_lockout_locks_then_unlocks_and_touches_no_other_account(server, slapd_lab, caplog):
    caplog.set_level(logging.DEBUG)
    before = accounts(server, slapd_lab.ca)
    out = run(ldap_lockout, target(server, slapd_lab.ca, STRICT, lockout_threshold=5))
    assert [f.status for f in out.findings] == [Status.PASS], out.findings
    assert record(out) == lockout_compliant(server.ldap_url, STRICT, "pwdAccountLockedTime, pwdFailureTime",
                                            "delete pwdAccountLockedTime")
    assert "pwdAccountLockedTime=" in out.steps[8].actual and out.findings[0].observed["wrong_attempts"] == 5
    after = accounts(server, slapd_lab.ca)
    assert {dn: a for dn, a in after.items() if dn != STRICT} == {dn: a for dn, a in before.items() if dn != STRICT}
    assert "pwdAccountLockedTime" not in after[STRICT]
    assert_secret_absent(out, caplog)


def test_lockout_below_the_servers_threshold_is_a_fail_with_at_most_threshold_plus_one_attempts(server, slapd_lab):
    """The weak policy never locks; and a policy threshold of 3 on the strict account (the server locks at 5)."""
    for account in (WEAK, STRICT):
        out = run(ldap_lockout, target(server, slapd_lab.ca, account, lockout_threshold=3))
        assert [f.status for f in out.findings] == [Status.FAIL]
        assert out.findings[0].message.startswith("the test account still binds with its password after 3 wrong")
        binds = [s for s in out.steps if s.action.startswith(f"simple bind as {account}") and not s.cleanup]
        assert len(binds) == 4 and [s.ok for s in binds] == [True, True, True, False]
        assert [s.ok for s in out.steps if s.cleanup] == [True, True, True]
        assert "pwdAccountLockedTime" not in accounts(server, slapd_lab.ca)[account]


def test_a_failed_unlock_is_an_error_that_says_what_to_restore(server, slapd_lab, caplog):
    """The scan's account here can read but not write pwdAccountLockedTime: the account stays locked, for real."""
    out = run(ldap_lockout, target(server, slapd_lab.ca, FAILING, reader=True, lockout_threshold=5))
    try:
        assert [f.status for f in out.findings] == [Status.ERROR]
        msg = out.findings[0].message
        assert msg.startswith(f"clean-up failed, restore by hand: as the directory administrator: ldapmodify 'dn: "
                              f"{FAILING}'") and "the challenge said: pass" in msg
        assert [s.ok for s in out.steps if s.cleanup] == [False, False, False]
        assert "insufficientAccessRights (50)" in out.steps[-3].actual
        assert "pwdAccountLockedTime" in accounts(server, slapd_lab.ca)[FAILING]
        assert_secret_absent(out, caplog)
    finally:
        conn = admin(server, slapd_lab.ca)
        conn.modify(FAILING, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
        conn.unbind()


def test_an_account_already_locked_is_not_touched(server, slapd_lab):
    conn = admin(server, slapd_lab.ca)
    conn.modify(FAILING, {"pwdAccountLockedTime": [(ldap3.MODIFY_REPLACE, ["000001010000Z"])]})
    try:
        out = run(ldap_lockout, target(server, slapd_lab.ca, FAILING))
        assert [f.status for f in out.findings] == [Status.ERROR] and len(out.steps) == 2
        assert out.findings[0].message.startswith("the test account is already locked; nothing was tried")
    finally:
        conn.modify(FAILING, {"pwdAccountLockedTime": [(ldap3.MODIFY_DELETE, [])]})
        conn.unbind()


# -- intrusive: own password change -------------------------------------------------------------------------------
def test_password_change_refused_on_the_strict_policy_and_logged(server, slapd_lab, caplog):
    caplog.set_level(logging.DEBUG)
    before = accounts(server, slapd_lab.ca)
    out = run(ldap_password_change, target(server, slapd_lab.ca, STRICT, password_min_length=12))
    assert [f.status for f in out.findings] == [Status.PASS, Status.PASS], out.findings
    assert [(s.ok, s.cleanup) for s in out.steps] == [(True, False)] * 5 + [(True, True)]
    assert [s.action.split(" ")[0] for s in out.steps] == ["bind", "read", "as", "as", "read", "simple"]
    assert "Password is not being changed from existing value" in out.steps[2].actual
    assert "11 characters" in out.steps[3].action and "constraintViolation (19)" in out.steps[3].actual
    assert out.steps[4].actual.startswith("2 new modify records by the test account:")
    assert out.steps[4].actual.count("result 19") == 2 and "reqMod" not in out.steps[4].sent
    assert out.findings[1].resource == f"access log of {server.ldap_url}"
    assert accounts(server, slapd_lab.ca) == before  # nothing changed, not even the test account
    assert_secret_absent(out, caplog)


def test_password_change_accepted_on_the_weak_policy_is_a_fail_and_restored(server, slapd_lab, caplog):
    out = run(ldap_password_change, target(server, slapd_lab.ca, WEAK, password_min_length=12))
    assert [f.status for f in out.findings] == [Status.FAIL, Status.PASS]
    assert out.findings[0].message == ("the directory accepted a password change to its current password and to "
                                       "a password of 11 characters")
    assert [(s.ok, s.cleanup) for s in out.steps] == [(True, False), (True, False), (False, False), (False, False),
                                                      (True, False), (True, True), (True, True)]
    assert out.steps[5].action == f"as the scan's account: set the password of {WEAK} back to the original"
    assert_secret_absent(out, caplog)


@pytest.mark.parametrize("log, audit, actual", [
    ("successes", Status.FAIL, "0 new modify records by the test account: none"),
    ("plain", Status.NOT_APPLICABLE, None),
])
def test_refused_changes_missing_from_the_access_log(servers, slapd_lab, log, audit, actual):
    """A log of successful writes only does not show the refused attempts; no access log at all: nothing to read."""
    out = run(ldap_password_change, target(servers[log], slapd_lab.ca, STRICT, password_min_length=12))
    assert [f.status for f in out.findings] == [Status.PASS, audit]
    if actual:
        assert out.steps[4].actual == actual and out.findings[1].message.startswith("not every password change")
    else:
        assert len(out.steps) == 4 and "serves no cn=accesslog naming context" in out.findings[1].message


def test_a_failed_password_restore_is_an_error_that_says_what_to_restore(server, slapd_lab):
    before = accounts(server, slapd_lab.ca)
    out = run(ldap_password_change, target(server, slapd_lab.ca, WEAK, reader=True, password_min_length=12))
    try:
        assert [f.status for f in out.findings] == [Status.ERROR, Status.ERROR]
        assert out.findings[0].message.startswith(
            f"clean-up failed, restore by hand: as the directory administrator, set the password of {WEAK} back")
        assert [s.ok for s in out.steps if s.cleanup] == [False, False]
        others = {dn for dn in before if dn != WEAK}
        assert {dn: a for dn, a in accounts(server, slapd_lab.ca).items() if dn in others} == {
            dn: a for dn, a in before.items() if dn in others}
    finally:
        conn = admin(server, slapd_lab.ca)
        conn.extend.standard.modify_password(user=WEAK, new_password=TEST_PW)
        conn.unbind()


def test_the_intrusive_challenges_are_planned_without_a_connection():
    dead = Target(name="nowhere", type=Platform.LDAP, options={
        "url": "ldap://192.0.2.1:389", "bind_dn": "cn=admin,dc=x", "challenge_account": STRICT}, policy={})
    lock = run(ldap_lockout, dead, plan=True)
    assert len(lock.steps) == 2 + 5 + 2 + 3 and all(s.planned for s in lock.steps)
    assert [s.cleanup for s in lock.steps][-3:] == [True, True, True]
    assert len(run(ldap_lockout, Target(name="n", type=Platform.LDAP, options={
        **dead.options}, policy={"lockout_threshold": 3}), plan=True).steps) == 2 + 3 + 2 + 3
    change = run(ldap_password_change, dead, plan=True)
    assert [s.action.split(" (")[0].split(":")[0] for s in change.steps] == [
        "bind to ldap", "read the access log", f"as {STRICT}", f"as {STRICT}", "read the access log",
        f"simple bind as {STRICT} with its original password"]


def test_the_test_account_may_not_be_the_scans_own(server, slapd_lab):
    out = run(ldap_lockout, target(server, slapd_lab.ca, server.admin_dn))
    assert [f.status for f in out.findings] == [Status.ERROR] and out.steps == ()
    assert "is the account the scan logs in with" in out.findings[0].message


# -- end to end: gxpscan scan --challenge ----------------------------------------------------------------------
def _inventory(tmp_path, server: slapdlab.Slapd, ca) -> str:
    inv = {"version": 1, "targets": [{
        "name": "slapd-c12dir", "type": "ldap", "url": server.ldap_url, "starttls": True, "ca_file": str(ca.cert),
        "bind_dn": server.admin_dn, "password_env": slapdlab.PASSWORD_ENV, "timeout": 10,
        "challenge_account": STRICT, "challenge_password_env": PW_ENV, "policy": {"lockout_threshold": 5}}]}
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(inv))
    return str(path)


def test_scan_with_challenges_end_to_end_leaks_no_secret(server, slapd_lab, tmp_path, capsys, caplog):
    """Every LDAP/AD challenge through the CLI on the OpenLDAP server: the ad.* ones are not applicable, the others
    pass, the reports carry the steps, and no password is in any file or on the console."""
    caplog.set_level(logging.DEBUG)
    inv = _inventory(tmp_path, server, slapd_lab.ca)
    assert cli.main(["scan", "-i", inv, "-c", "ldap.challenge.*", "-c", "ad.challenge.*", "--challenge",
                     "intrusive", "--plan"]) == cli.EXIT_OK
    planned = capsys.readouterr().out
    assert f"simple bind as {STRICT} with a wrong password (attempt 5 of 5)" in planned
    out = tmp_path / "out"
    before = accounts(server, slapd_lab.ca)
    code = cli.main(["scan", "-i", inv, "-c", "ldap.challenge.*", "-c", "ad.challenge.*", "--challenge",
                     "intrusive", "-o", str(out), "--no-history", "--format", "json", "--format", "oq",
                     "--format", "junit", "--format", "sarif"])
    console = capsys.readouterr()
    doc = json.loads((out / "report.json").read_text())
    statuses = {(f["check"], f["resource"]): f["status"] for f in doc["findings"]}
    assert statuses == {
        ("ad.challenge.ldap_signing_required", server.ldap_url): "not_applicable",
        ("ad.challenge.lockout", STRICT): "not_applicable", ("ad.challenge.password_change", STRICT): "not_applicable",
        ("ldap.challenge.anonymous_refused", server.ldap_url): "pass",
        ("ldap.challenge.plaintext_bind_refused", server.ldap_url): "pass",
        ("ldap.challenge.lockout", STRICT): "pass", ("ldap.challenge.password_change", STRICT): "pass",
        ("ldap.challenge.password_change", f"access log of {server.ldap_url}"): "pass"}, doc["findings"]
    assert code == cli.EXIT_OK
    assert accounts(server, slapd_lab.ca) == {**before, STRICT: accounts(server, slapd_lab.ca)[STRICT]}
    everything = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    everything += console.out + console.err + caplog.text + planned
    for secret in (TEST_PW, slapdlab.ADMIN_PASSWORD, READER_PW):
        assert secret not in everything
    assert "delete pwdAccountLockedTime" in (out / "oq-evidence.html").read_text()


def test_the_test_accounts_password_never_goes_out_without_tls(slapd_lab, monkeypatch):
    """On a cleartext target (no StartTLS, no allow_plaintext) the probes refuse before opening a connection."""
    import scanner.connectors.ldap as connector
    from scanner.probes import ldap as probes

    def no_connection(*args, **kwargs):
        raise AssertionError("a connection was opened")

    monkeypatch.setattr(connector.LDAPConnector, "_server", no_connection)
    plain = slapd_lab.target("weak", starttls=False)
    for probe in (probes.bind(plain, STRICT, TEST_PW, expect=frozenset({0})),
                  probes.change_own_password(plain, probes.Flavor.OPENLDAP, STRICT, TEST_PW, "x" * 20, "20 chars")):
        assert probe.ok is None and probe.actual.startswith("refused to send a password without TLS")
        assert TEST_PW not in repr(probe)

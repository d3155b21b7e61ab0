# ruff: noqa: F811  (pytest fixtures are imported from tests/lab and used as parameters)
"""Every directory check's status on four real directories: compliant and weak slapd, compliant and weak Samba AD.

Also end to end through the CLI: wrong CA, wrong password and a stopped server are errors with a clear
message, and the planted bind passwords appear in no output.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scanner.registry import Registry
from scanner.runner import scan_target
from tests.lab import sambalab, slapdlab
from tests.lab.slapdlab import free_port

pytestmark = pytest.mark.lab

POLICY = {"approved_privileged": ["Administrator"], "service_accounts": ["svc_backup"]}
NA, P, F = "not_applicable", "pass", "fail"
AD_ONLY = (NA, NA)
LDAP_ONLY = (NA, NA)
#: check id -> expected status on (slapd good, slapd weak, AD good, AD weak), and the failing resources on the weak one
EXPECTED = {
    "ad.password_policy": (*AD_ONLY, P, F, {"domain DC=weakad,DC=test"}),
    "ad.lockout_policy": (*AD_ONLY, P, F, {"domain DC=weakad,DC=test"}),
    "ad.fine_grained_policies": (*AD_ONLY, P, F, {"PSO helpdesk-weak"}),
    "ad.password_never_expires": (*AD_ONLY, P, F, {"carl.never"}),
    "ad.password_not_required": (*AD_ONLY, P, F, {"nora.noreq"}),
    "ad.reversible_encryption": (*AD_ONLY, P, F, {"domain DC=weakad,DC=test", "rita.rev"}),
    "ad.stale_accounts": (*AD_ONLY, P, F, {"sam.stale"}),
    "ad.privileged_groups": (*AD_ONLY, P, F, {"Domain Admins", "Administrators"}),
    "ad.shared_accounts": (*AD_ONLY, P, F, {"shared.lab", "testuser1"}),
    "ad.krbtgt_password_age": (*AD_ONLY, P, F, {"CN=krbtgt,CN=Users,DC=weakad,DC=test"}),
    "ldap.ppolicy": (P, F, *LDAP_ONLY, None),
    "ldap.anonymous_bind": (P, F, P, P, None),
    "ldap.tls_required": (P, F, P, P, None),
    "ldap.password_hashing": (P, F, *LDAP_ONLY, None),
    "ldap.audit_overlay": (P, F, *LDAP_ONLY, None),
}
TARGETS = ("slapd-good", "slapd-weak", "ad-good", "ad-weak")


def overall(statuses: set[str]) -> str:
    for s in ("error", "fail", "pass"):
        if s in statuses:
            return s
    return statuses.pop() if len(statuses) == 1 else repr(statuses)


@pytest.fixture(scope="module")
def specs():
    return Registry.load(["checks.ad", "checks.ldap"]).select()


@pytest.fixture(scope="module")
def results(slapd_lab, samba_lab, specs):
    targets = [slapd_lab.target("good", policy=POLICY), slapd_lab.target("weak", policy=POLICY),
               samba_lab.target("good", policy=POLICY), samba_lab.target("weak", policy=POLICY)]
    return {t.name: scan_target(t, specs, {}).results for t in targets}


def test_table_covers_every_directory_check(specs):
    assert sorted(EXPECTED) == sorted(s.id for s in specs)


@pytest.mark.parametrize("check_id", sorted(EXPECTED))
def test_expected_status_on_every_lab_directory(results, check_id):
    *expected, weak_failures = EXPECTED[check_id]
    got = tuple(overall({r.status.value for r in results[t] if r.check == check_id}) for t in TARGETS)
    assert got == tuple(expected), {t: [(r.resource, r.message) for r in results[t] if r.check == check_id]
                                    for t in TARGETS}
    if weak_failures is not None:
        failing = {r.resource for r in results["ad-weak"] if r.check == check_id and r.status.value == "fail"}
        assert failing == weak_failures


def test_not_applicable_says_why(results):
    na = [r for r in results["slapd-good"] if r.check == "ad.password_policy"]
    assert na[0].message.startswith("applies to Active Directory; this target is OpenLDAP (flavor from root DSE)")


def test_policy_thresholds_come_from_the_inventory(slapd_lab, samba_lab, specs):
    """The compliant domain fails once the inventory asks for more than it has (minimum length 20)."""
    target = samba_lab.target("good", policy={**POLICY, "password_min_length": 20})
    got = [r for r in scan_target(target, specs, {}).results if r.check == "ad.password_policy"]
    assert [r.status.value for r in got] == ["fail"] and "minimum length 14 < 20" in got[0].message


def _inventory(slapd_lab, samba_lab) -> dict:
    good = slapd_lab.servers["good"]
    entries = [
        ("slapd-good", slapd_lab.target("good").options),
        ("ad-weak", samba_lab.target("weak").options),
        ("wrong-ca", {**slapd_lab.target("good").options, "ca_file": str(slapd_lab.wrong_ca.cert)}),
        ("wrong-password", {**samba_lab.target("good").options, "password_env": "GXLAB_PLANTED_WRONG"}),
        ("server-down", {**slapd_lab.target("good").options, "url": f"ldap://127.0.0.1:{free_port()}"}),
        ("plaintext", {**slapd_lab.target("good").options, "url": good.ldap_url, "starttls": False}),
    ]
    return {"version": 1, "policy": POLICY,
            "targets": [{"name": n, "type": "ldap", **{k: v for k, v in o.items() if v is not None}}
                        for n, o in entries]}


def test_cli_end_to_end_errors_are_clear_and_no_password_leaks(slapd_lab, samba_lab, tmp_path, monkeypatch,
                                                               capsys):
    from scanner.cli import main

    planted_wrong = "Planted-Wrong-AD-Secret-77e"
    monkeypatch.setenv("GXLAB_PLANTED_WRONG", planted_wrong)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(yaml.safe_dump(_inventory(slapd_lab, samba_lab)))
    out = tmp_path / "out"
    code = main(["scan", "--inventory", str(inv), "--check", "ad.*", "--check", "ldap.*", "--format", "json",
                 "--output", str(out)])
    captured = capsys.readouterr()
    assert code != 0  # failures and errors were found
    texts = [captured.out, captured.err] + [p.read_text(errors="replace") for p in Path(out).rglob("*")
                                              if p.is_file()]
    everything = "\n".join(texts)
    for secret in (slapdlab.ADMIN_PASSWORD, sambalab.ADMIN_PASSWORD, planted_wrong):
        assert secret not in everything
    for name, expected in (("wrong-ca", "certificate verify failed"), ("wrong-password", "invalidCredentials"),
                           ("server-down", "onnection refused"),
                           ("plaintext", "refusing a simple bind without TLS")):
        assert expected in everything, name

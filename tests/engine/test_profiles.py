"""Profiles as data (issue 14): schema, the shipped gxp-baseline and strict, plugins, thresholds, the run record."""
from __future__ import annotations

import json
import sys
import textwrap
from functools import cache
from pathlib import Path

import jsonschema
import pytest

from scanner import cli, profiles
from scanner.cli import EXIT_INPUT
from scanner.inventory import schema
from scanner.model import Status
from scanner.profiles import ProfileError, apply, check_against, discover, parse_profile, policy_of
from scanner.registry import Registry
from scanner.runner import evaluate
from tests.checks.linux.recorded import case_target, recorded_facts
from tests.factories import make_target

ROOT = Path(__file__).resolve().parents[2]
#: Facts about a site rather than thresholds: the inventory declares them, a profile does not.
SITE_DECLARATIONS = {"encrypted_mounts", "approved_privileged", "service_accounts", "shared_account_exceptions",
                     "records_tag", "restore_test_record", "restore_test_command", "restore_test_format",
                     "records_retention_days"}  # declared per target in gxp_context (issue 16)

GOOD = """\
profile: site-x
version: "2"
title: Site X
source: {name: Site X security standard, references: {linux.ssh.crypto: "SEC-7.2"}}
checks:
  include: ["linux.ssh.*", "linux.password.min_length"]
  exclude: ["linux.ssh.root_login"]
thresholds:
  - {name: password_min_length, value: 16, rationale: Site X standard SEC-4.1 asks sixteen characters.}
  - {name: max_auth_tries, value: 2, rationale: Site X standard SEC-4.3 allows two tries., checks: ["linux.ssh.*"]}
"""


@cache
def registry() -> Registry:
    return Registry.load(["checks.linux", "checks.aws", "checks.ad", "checks.ldap", "checks.windows"])


def profile(text: str = GOOD, path: str = "site-x.yaml") -> profiles.Profile:
    return parse_profile(textwrap.dedent(text).encode(), "file", path)


def test_shipped_profiles_are_valid_and_fit_the_checks():
    found = discover()
    assert {"gxp-baseline", "strict"} <= set(found)
    for p in found.values():
        assert p.origin == "built-in" and len(p.sha256) == 64
        assert len(check_against(p, registry())) == len(registry().checks)  # both select every check
        assert all(len(t.rationale) >= 10 for t in p.thresholds)


def test_gxp_baseline_is_our_defaults_with_a_rationale_for_each():
    base = discover()["gxp-baseline"]
    for t in base.thresholds:
        users = [s for s in registry().checks.values() if t.name in s.params and t.applies_to(s.id)]
        assert users, t.name
        assert all(tuple(s.params[t.name]) == tuple(t.value) if isinstance(t.value, tuple)
                   else s.params[t.name] == t.value for s in users), (t.name, t.value)
    covered = {(s.id, name) for s in registry().checks.values() for name in s.params
               for t in base.thresholds if t.name == name and t.applies_to(s.id)}
    every = {(s.id, name) for s in registry().checks.values() for name in s.params if name not in SITE_DECLARATIONS}
    assert sorted(every - covered) == []


def test_strict_is_stricter_than_the_baseline():
    strict = {t.name: t.value for t in discover()["strict"].thresholds}
    assert strict["password_min_length"] == 15 and strict["restore_test_days"] == 90
    assert strict["lockout_threshold"] < 5 and strict["idle_timeout_seconds"] < 900


def _startups_stricter(strict: str, baseline: str) -> bool:
    (s_start, s_rate, s_full), (b_start, b_rate, b_full) = ([int(x) for x in v.split(":")] for v in (strict, baseline))
    return s_start <= b_start and s_rate >= b_rate and s_full <= b_full and (strict != baseline)


# issue 14 part A: each threshold, and what "stricter" means for it
PART_A_STRICTER = {
    "ssh_login_grace_time_seconds": lambda s, b: 0 < s < b,
    "ssh_max_sessions": lambda s, b: 0 < s < b,
    "ssh_max_startups": _startups_stricter,
    "umask_min": lambda s, b: s & b == b and s != b,  # masks every bit the baseline masks, and more
    "home_max_mode": lambda s, b: s & b == s and s != b,  # allows a subset of the baseline's bits
    "password_warn_days": lambda s, b: s > b,
    "lockout_unlock_seconds": lambda s, b: s > b,
    "sha_crypt_min_rounds": lambda s, b: s > b,
    "yescrypt_min_cost": lambda s, b: s > b,
}


@pytest.mark.parametrize("name", sorted(PART_A_STRICTER))
def test_strict_tightens_the_part_a_thresholds(name):
    found = discover()
    strict = {t.name: t for t in found["strict"].thresholds}
    baseline = {t.name: t.value for t in found["gxp-baseline"].thresholds}
    assert name in strict, f"strict does not set {name}"
    assert PART_A_STRICTER[name](strict[name].value, baseline[name]), (strict[name].value, baseline[name])
    assert len(strict[name].rationale) > 40


@pytest.mark.parametrize("check_id", ["linux.ssh.login_grace_time", "linux.ssh.max_startups", "linux.accounts.umask",
                                      "linux.password.faillock", "linux.password.hash_rounds"])
def test_the_recorded_hardened_host_meets_the_baseline_but_not_strict(check_id):
    """The hardened case: LoginGraceTime 60, MaxStartups 10:30:60, umask 027, faillock unlock_time 900, yescrypt
    cost 5 -- exactly the baseline's values, which strict tightens."""
    facts = recorded_facts("hardened")
    status = {}
    for name in ("gxp-baseline", "strict"):
        chosen = discover()[name]
        target, _ = apply(chosen, check_against(chosen, registry()), case_target("hardened"))
        status[name] = evaluate(registry().checks[check_id], facts, target)[0].status
    assert (status["gxp-baseline"], status["strict"]) == (Status.PASS, Status.FAIL)


@pytest.mark.parametrize(("text", "words"), [
    (GOOD.replace(" rationale: Site X standard SEC-4.1 asks sixteen characters.", ""),
     "thresholds[0]: 'rationale' is a required property"),
    (GOOD.replace("source: {name: Site X security standard, references: {linux.ssh.crypto: \"SEC-7.2\"}}\n", ""),
     "'source' is a required property"),
    (GOOD.replace("version: \"2\"", "version: \"2\"\nversion: \"3\""), "duplicate"),
    (GOOD.replace("profile: site-x", "profile: Site X"), "profile: 'Site X' does not match"),
    (GOOD + "surprise: 1\n", "Additional properties are not allowed"),
    ("x: &a [1]\ny: *a\n", "anchors (&a) are not accepted"),
])
def test_an_invalid_profile_is_refused_with_the_path(text, words):
    with pytest.raises(ProfileError, match="site-x.yaml") as exc:
        profile(text)
    assert words in str(exc.value)


@pytest.mark.parametrize(("text", "words"), [
    (GOOD.replace("linux.ssh.*\", \"linux.password", "linux.shh.*\", \"linux.password"),
     "'linux.shh.*' matches no loaded check"),
    (GOOD.replace("name: password_min_length", "name: password_min_lenght"),
     "password_min_lenght: no selected check has this parameter"),
    (GOOD.replace("value: 16", "value: sixteen"), "is not of the kind"),
    (GOOD.replace('checks: ["linux.ssh.*"]', 'checks: ["linux.password.*"]'),
     "max_auth_tries: no selected check among linux.password.* has this parameter"),
])
def test_a_profile_that_does_not_fit_the_checks_is_refused(text, words):
    with pytest.raises(ProfileError, match="does not fit") as exc:
        check_against(profile(text), registry())
    assert words in str(exc.value)


def test_selection_and_scoped_thresholds():
    p = profile()
    specs = check_against(p, registry())
    ids = {s.id for s in specs}
    assert "linux.ssh.root_login" not in ids and {"linux.ssh.crypto", "linux.password.min_length"} <= ids
    assert policy_of(p, specs) == {"password_min_length": 16, "linux.ssh.max_auth_tries:max_auth_tries": 2}


def test_a_scoped_threshold_reaches_only_its_check():
    specs = check_against(profile(), registry())
    target, warnings = apply(profile(), specs, case_target("hardened"))
    assert warnings == ["target hardened: policy password_min_length = 14 overrides profile site-x "
                        "(password_min_length = 16)"]  # the case's own policy.json sets 14
    facts = recorded_facts("hardened")
    tries = evaluate(registry().checks["linux.ssh.max_auth_tries"], facts, target)
    assert tries[0].status is Status.FAIL  # hardened has MaxAuthTries 3, the profile allows 2
    assert evaluate(registry().checks["linux.ssh.max_auth_tries"], facts, case_target("hardened"))[0].status \
        is Status.PASS  # without the profile: the default of 4
    assert evaluate(registry().checks["linux.password.min_length"], facts, target)[0].status is Status.PASS


def test_the_inventory_wins_over_the_profile_and_the_deviation_is_reported():
    specs = check_against(profile(), registry())
    target, warnings = apply(profile(), specs, make_target(policy={"password_min_length": 10, "max_auth_tries": 4}))
    assert target.policy["password_min_length"] == 10 and "linux.ssh.max_auth_tries:max_auth_tries" not in \
        target.policy
    assert warnings == [
        "target host1: policy max_auth_tries = 4 overrides profile site-x "
        "(linux.ssh.max_auth_tries:max_auth_tries = 2)",
        "target host1: policy password_min_length = 10 overrides profile site-x (password_min_length = 16)"]


def test_a_plugin_ships_profiles_through_the_entry_point(tmp_path, monkeypatch):
    pkg = tmp_path / "acme_profiles"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "acme.yaml").write_text(GOOD.replace("site-x", "acme"))
    dist = tmp_path / "acme_profiles-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-profiles\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[gxpscan.profiles]\nacme = acme_profiles\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = discover()
    assert found["acme"].origin == "plugin acme" and found["acme"].path.endswith("acme_profiles/acme.yaml")
    assert profiles.resolve("acme").sha256 == found["acme"].sha256
    (pkg / "again.yaml").write_text(GOOD.replace("site-x", "strict"))
    with pytest.raises(ProfileError, match="profile 'strict' is defined twice"):
        discover()
    sys.modules.pop("acme_profiles", None)


def test_profiles_command_lists_and_shows(capsys):
    assert cli.main(["profiles"]) == 0
    out = capsys.readouterr().out
    assert "gxp-baseline" in out and "strict" in out and "built-in" in out
    assert cli.main(["profiles", "strict", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown[0]["name"] == "strict" and shown[0]["sha256"] == discover()["strict"].sha256
    assert {"name": "restore_test_days", "value": 90, "checks": [],
            "rationale": "A quarterly restore test, so a broken backup chain is found within one quarter."} \
        in shown[0]["thresholds"]
    assert cli.main(["profiles", "nope"]) == EXIT_INPUT
    assert "unknown profile 'nope'" in capsys.readouterr().err


def test_scan_with_a_profile_records_its_hash_and_applies_its_thresholds(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(["scan", "--profile", "strict", "--check", "linux.backup.restore_tested", "--check",
                     "linux.ssh.idle_timeout", "--format", "json", "-o", str(out), "-q"])
    assert code in (0, 1, 3, 5)
    report = json.loads((out / "report.json").read_text())
    jsonschema.validate(report, schema("result"))
    strict = discover()["strict"]
    assert report["run"]["profile_sha256"] == strict.sha256
    assert report["run"]["profile"].startswith("strict (built-in: ")
    record = (out / "record.jsonl").read_text()
    assert strict.sha256 in record
    idle = [f for f in report["findings"] if f["check"] == "linux.ssh.idle_timeout"]
    assert all("600" in f["message"] for f in idle if f["status"] in ("pass", "fail"))


def test_scan_with_a_profile_file_and_a_bad_one(tmp_path, capsys):
    good = tmp_path / "site.yaml"
    good.write_text(GOOD)
    out = tmp_path / "out"
    assert cli.main(["scan", "--profile", str(good), "--check", "linux.password.min_length", "--format", "json",
                     "-o", str(out), "-q"]) != EXIT_INPUT
    assert json.loads((out / "report.json").read_text())["run"]["profile"].startswith("site-x (file: ")
    assert cli.main(["scan", "--profile", str(good), "--check", "linux.audit.*", "-o", str(tmp_path / "o2")]) \
        == EXIT_INPUT
    assert "within profile site-x" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("value: 16", "value: sixteen"))
    assert cli.main(["scan", "--profile", str(bad), "-o", str(tmp_path / "o3")]) == EXIT_INPUT
    assert "is not of the kind" in capsys.readouterr().err

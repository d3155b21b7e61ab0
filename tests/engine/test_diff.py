"""gxpscan diff: the comparison of two runs (scanner/diff.py), on runs built by factories."""
from __future__ import annotations

import json

import pytest

from scanner import cli, diff
from scanner.model import Run, Status, Waiver
from tests.factories import make_result, make_run_info


def run(*results, fingerprint="0" * 64, inventory="1" * 64, interrupted=False) -> Run:
    info = make_run_info(checks_fingerprint=fingerprint, inventory_sha256=inventory, interrupted=interrupted)
    return Run(info, tuple(results), {})


def r(target="host1", check="linux.ssh.root_login", resource="sshd", status="pass", **kw):
    return make_result(check=check, target=target, resource=resource, status=status, **kw)


def keys(changes):
    return [(c.target, c.check, c.resource, c.before and c.before.value, c.after and c.after.value) for c in changes]


OLD = run(
    r(status="pass"),                                            # -> fail: new failure
    r(check="linux.password.max_age", status="fail"),            # -> pass: fixed
    r(check="linux.time.synchronized", status="pass"),           # -> error: changed
    r(check="linux.audit.auditd", status="error"),               # -> fail: new failure (was unknown)
    r(check="linux.backup.recent", status="fail"),               # -> waived: policy (waiver added)
    r(check="linux.files.perms", resource="/etc/shadow", status="pass"),   # resource no longer reported
    r(check="linux.files.perms", resource="/etc/passwd", status="pass"),
    r(check="linux.sudo.nopasswd", status="pass"),               # check no longer run on host1
    r(target="host2", status="fail"),                            # target no longer scanned
)
NEW = run(
    r(status="fail"),
    r(check="linux.password.max_age", status="pass"),
    r(check="linux.time.synchronized", status="error"),
    r(check="linux.audit.auditd", status="fail"),
    r(check="linux.backup.recent", status="waived",
      waiver=Waiver("linux.backup.recent", "host1", "CAPA-1", "qa", "2099-01-01")),
    r(check="linux.files.perms", resource="/etc/passwd", status="pass"),
    r(check="linux.files.perms", resource="/etc/gshadow", status="fail"),  # new resource failing: new failure
    r(check="linux.files.perms", resource="/etc/group", status="pass"),    # new resource passing: added
    r(check="linux.crypto.fips", status="fail"),                 # new check on host1: added, not a new failure
    r(target="host3", status="fail"),                            # new target: added
)


def test_every_difference_lands_in_exactly_one_place():
    d = diff.compare(OLD, NEW)
    assert keys(d.new_failures) == [
        ("host1", "linux.audit.auditd", "sshd", "error", "fail"),
        ("host1", "linux.files.perms", "/etc/gshadow", None, "fail"),
        ("host1", "linux.ssh.root_login", "sshd", "pass", "fail")]
    assert keys(d.fixed) == [("host1", "linux.password.max_age", "sshd", "fail", "pass")]
    assert keys(d.changed) == [("host1", "linux.time.synchronized", "sshd", "pass", "error")]
    assert [(c.check, c.reason) for c in d.policy_changes] == [("linux.backup.recent", "waiver added")]
    assert d.gone_targets == ("host2",)
    assert d.gone_checks == (("host1", "linux.sudo.nopasswd"),)
    assert keys(d.gone_resources) == [("host1", "linux.files.perms", "/etc/shadow", "pass", None)]
    assert d.added_targets == ("host3",)
    assert d.added_checks == (("host1", "linux.crypto.fips"),)
    assert keys(d.added_results) == [
        ("host1", "linux.crypto.fips", "sshd", None, "fail"),
        ("host1", "linux.files.perms", "/etc/group", None, "pass"),
        ("host3", "linux.ssh.root_login", "sshd", None, "fail")]
    assert diff.exit_code(d) == 1


def test_only_new_failures_exit_1():
    d = diff.compare(OLD, run(*[x for x in NEW.results if x.status is not Status.FAIL or x.target == "host3"]))
    assert not d.new_failures and d.gone_resources and d.added_targets and diff.exit_code(d) == 0


@pytest.mark.parametrize("old, new, reason", [
    (r(status="pass", observed={"PASS_MAX_DAYS": 90, "password_max_age_days": 90}),
     r(status="fail", observed={"PASS_MAX_DAYS": 90, "password_max_age_days": 60}),
     "threshold password_max_age_days 90 -> 60"),
    (r(status="pass", observed={"maxauthtries": 6, "limit": 6}),
     r(status="fail", observed={"maxauthtries": 6, "limit": 4}), "threshold limit 6 -> 4"),
    (r(status="waived", waiver=Waiver("linux.ssh.root_login", "host1", "x", "qa", "2020-01-01")),
     r(status="fail"), "waiver expired or removed"),
])
def test_a_policy_change_is_shown_as_such_not_as_a_new_failure(old, new, reason):
    d = diff.compare(run(old), run(new), {"linux.ssh.root_login": {"password_max_age_days", "limit"}})
    assert [c.reason for c in d.policy_changes] == [reason]
    assert not d.new_failures and not d.changed and diff.exit_code(d) == 0


@pytest.mark.parametrize("old_run, new_run, reason", [
    (dict(fingerprint="a" * 64), dict(fingerprint="b" * 64), "check code changed; the observed values are the same"),
    (dict(inventory="a" * 64), dict(inventory="b" * 64), "inventory changed; the observed values are the same"),
])
def test_same_observed_values_judged_by_other_code_or_inventory_is_a_policy_change(old_run, new_run, reason):
    d = diff.compare(run(r(status="pass"), **old_run), run(r(status="fail"), **new_run))
    assert [c.reason for c in d.policy_changes] == [reason] and not d.new_failures
    assert d.checks_changed == ("fingerprint" in old_run) and d.inventory_changed == ("inventory" in old_run)
    # the system changed too (other observed values): a new failure even though the code changed
    d = diff.compare(run(r(status="pass"), **old_run), run(r(status="fail", observed={"PermitRootLogin": "yes"}),
                                                           **new_run))
    assert keys(d.new_failures) == [("host1", "linux.ssh.root_login", "sshd", "pass", "fail")]


def test_the_same_resource_twice_is_compared_in_order():
    d = diff.compare(run(r(status="pass"), r(status="pass")), run(r(status="pass"), r(status="fail")))
    assert keys(d.new_failures) == [("host1", "linux.ssh.root_login", "sshd", "pass", "fail")]


def test_json_shape_is_stable():
    doc = diff.to_json(diff.compare(OLD, NEW))
    assert list(doc) == ["format", "old", "new", "policy", "new_failures", "fixed", "changed", "policy_changes",
                         "no_longer_scanned", "added"]
    assert doc["format"] == "gxpscan-diff/1"
    assert doc["no_longer_scanned"] == {
        "targets": ["host2"], "checks": [{"target": "host1", "check": "linux.sudo.nopasswd"}],
        "resources": [{"target": "host1", "check": "linux.files.perms", "resource": "/etc/shadow", "before": "pass",
                       "after": None, "severity": "high", "message": "linux.files.perms is pass", "reason": ""}]}
    assert doc["policy"] == {"checks_fingerprint_changed": False, "inventory_changed": False}
    assert set(doc["old"]) == {"id", "started", "tool_version", "checks_fingerprint", "inventory",
                               "inventory_sha256", "interrupted"}
    json.dumps(doc)


def test_text_shows_every_section_and_escapes_target_data():
    hostile = run(r(target="evil\x1b[2J", status="fail"))
    text = diff.to_text(diff.compare(run(), hostile), escape=cli._for_terminal)
    assert "\x1b" not in text and "evil\\x1b[2J" in text
    text = diff.to_text(diff.compare(OLD, NEW))
    for title in ("new failures (3)", "fixed (1)", "changed (1)", "policy changes (the policy changed, not the "
                  "system) (1)", "no longer scanned: targets (1)", "no longer scanned: checks (1)",
                  "no longer reported (resources of checks still run) (1)", "new targets (1)", "new checks (1)"):
        assert f"\n{title}\n" in text, title
    assert text.rstrip().endswith("1 new targets, 1 new checks")


def test_the_diff_command_prints_json_and_exits_1_only_for_new_failures(tmp_path, capsys):
    from scanner.runner import TargetOutcome
    from scanner.seal import seal_run
    from scanner.store import RecordWriter
    from tests.engine.seal_factory import evidence_for
    from tests.factories import make_target

    def record(name, results, fingerprint="0" * 64):
        w = RecordWriter(tmp_path / name / "record.jsonl", make_run_info(checks_fingerprint=fingerprint))
        by_target: dict = {}
        for x in results:
            by_target.setdefault(x.target, []).append(x)
        for target, rs in by_target.items():
            w.add(TargetOutcome(make_target(target), tuple(rs), evidence_for(rs)))
        w.close()
        seal_run(tmp_path / name)  # diff verifies first: a sealed run
        return str(tmp_path / name)

    old, new = record("old", OLD.results), record("new", NEW.results)
    assert cli.main(["diff", old, new, "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["new_failures"]) == 3 and doc["no_longer_scanned"]["targets"] == ["host2"]
    fixed_only = record("fixed", [r(status="pass")])
    assert cli.main(["diff", record("was", [r(status="fail")]), fixed_only]) == 0
    assert "fixed (1)" in capsys.readouterr().out
    stricter = record("code", [r(status="fail")], fingerprint="f" * 64)
    assert cli.main(["diff", record("base", [r(status="pass")]), stricter]) == 0
    out = capsys.readouterr().out
    assert "policy: the check code changed" in out and "check code changed; the observed values are the same" in out

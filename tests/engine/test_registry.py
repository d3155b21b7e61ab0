from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from scanner import check, passed
from scanner.model import Area, Platform, Severity
from scanner.registry import CheckLoadError, Registry, spec_of
from tests.engine import sample


def test_decorator_records_typed_metadata_and_leaves_the_function_callable():
    spec = spec_of(sample.widgets_few)
    assert (spec.id, spec.severity, spec.area, spec.platform) == (
        "linux.test.widgets", Severity.HIGH, Area.ACCESS_CONTROL, Platform.LINUX)
    assert spec.facts == ("linux.widgets",)
    assert dict(spec.params) == {"max_widgets": 2}
    assert sample.widgets_few(["a"]).status.value == "pass"


def test_ad_prefix_maps_to_the_ldap_platform():
    @check(id="ad.test.x", title="t", severity="low", area="access_control", criterion="c")
    def x(domain_policy):
        return passed("d", "ok")

    assert spec_of(x).platform is Platform.LDAP and spec_of(x).facts == ("ldap.domain_policy",)


def test_unknown_fact_fails_at_load_with_the_known_names():
    @check(id="linux.test.typo", title="t", severity="low", area="encryption", criterion="c")
    def typo(widgetz):
        return passed("x", "ok")

    with pytest.raises(CheckLoadError, match=r"linux\.widgetz.*known linux facts: .*linux\.widgets"):
        Registry([spec_of(typo)], sample.FACTS)


def test_duplicate_id_fails_at_load():
    @check(id="linux.test.widgets", title="again", severity="low", area="encryption", criterion="c")
    def again(widgets):
        return passed("x", "ok")

    with pytest.raises(CheckLoadError, match="duplicate check id 'linux.test.widgets'"):
        Registry([spec_of(sample.widgets_few), spec_of(again)], sample.FACTS)


def test_needs_root_is_derived_from_the_facts(registry):
    assert registry.checks["linux.test.root"].needs_root is True
    assert registry.checks["linux.test.widgets"].needs_root is False


@pytest.mark.parametrize("patterns, platform, expected", [
    ((), None, ["linux.test.each", "linux.test.raises", "linux.test.root", "linux.test.widgets"]),
    (("linux.test.w*",), None, ["linux.test.widgets"]),
    (("linux.test.each", "*.root"), None, ["linux.test.each", "linux.test.root"]),
    ((), "aws", []),
])
def test_select(registry, patterns, platform, expected):
    assert [s.id for s in registry.select(patterns, platform=platform)] == expected


def test_fingerprint_changes_with_the_check_code(registry, tmp_path):
    assert len(registry.fingerprint()) == 64
    only_one = registry.fingerprint([registry.checks["linux.test.widgets"]])
    assert only_one == registry.fingerprint([registry.checks["linux.test.each"]])  # same module
    assert only_one != Registry([], {}).fingerprint()


def test_third_party_plugin_is_discovered_through_its_entry_point(tmp_path):
    """Build and pip-install a tiny plugin distribution, then list and run its check like a built-in."""
    src = tmp_path / "src"
    (src / "acme_checks").mkdir(parents=True)
    (src / "acme_checks" / "__init__.py").write_text(textwrap.dedent('''
        from scanner import check, passed

        @check(id="linux.acme.banner", title="ACME banner policy", severity="low", area="access_control",
               criterion="The target carries the acme tag.")
        def banner(target):
            return passed(target.name, "acme plugin ran", tags=list(target.tags))
    '''))
    (src / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "acme-gxpscan-checks"
        version = "1.0"
        [project.entry-points."gxpscan.checks"]
        acme = "acme_checks"
        [tool.setuptools]
        packages = ["acme_checks"]
    '''))
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(site), str(src)], check=True, capture_output=True)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    listed = subprocess.run([sys.executable, "-m", "scanner", "checks", "--platform", "linux"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "linux.acme.banner" in listed.stdout and "ACME banner policy" in listed.stdout
    inv = tmp_path / "inv.yaml"
    inv.write_text("version: 1\ntargets:\n  - {name: box, type: linux, connection: local, tags: [acme]}\n")
    ran = subprocess.run([sys.executable, "-m", "scanner", "scan", "-i", str(inv), "--check", "linux.acme.*",
                          "--format", "json", "--output", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    report = (tmp_path / "out" / "report.json").read_text()
    assert '"check": "linux.acme.banner"' in report and "acme plugin ran" in report


# ---- built-in checks: remediation ---------------------------------------------------------------------------
def _builtin_specs():
    return sorted(Registry.load().checks.values(), key=lambda s: s.id)


def test_every_builtin_check_has_a_remediation():
    missing = [s.id for s in _builtin_specs() if not s.remediation.strip()]
    assert missing == []


def test_remediation_is_not_a_copy_of_the_criterion():
    copies = [s.id for s in _builtin_specs()
              if s.remediation.strip() and " ".join(s.remediation.split()) == " ".join(s.criterion.split())]
    assert copies == []


# ---- only what is built is advertised -----------------------------------------------------------------------
def test_windows_collector_and_connector_are_registered():
    from scanner.collectors import PLATFORM_COLLECTORS, known_facts
    from scanner.connectors import CONNECTORS

    assert sorted(CONNECTORS) == ["aws", "iac", "ldap", "local", "ssh", "winrm"]
    # issue 9: the Windows collector (facts and checks) and its WinRM connector are built
    assert sorted(p.value for p in PLATFORM_COLLECTORS) == ["aws", "iac", "ldap", "linux", "windows"]
    assert "windows.registry" in known_facts()


def test_a_target_of_an_unbuilt_platform_is_a_clear_error():
    from scanner.collectors import collect
    from scanner.runner import collect_facts
    from tests.factories import make_target

    target = make_target("w1", type="windows")
    assert collect(None, target, ["x.fact"])["x.fact"].error == "unknown Windows fact"
    got = collect_facts(target, ["x.fact"])["x.fact"].error  # the WinRM connector refuses it before connecting
    assert got == "target could not be scanned: target w1: a windows target needs a host"


def test_id_matcher_matches_as_fnmatch_and_compiles_no_pattern_without_a_wildcard(monkeypatch):
    """``scan --check ID`` (no wildcard) is compared as text: fnmatch compiled every such id into a regular
    expression; globs still match as fnmatch does."""
    import fnmatch

    from scanner import registry

    ids = ["aws.s3.versioning", "aws.s3.bucket_encryption", "aws.kms.key_rotation", "linux.ssh.root_login",
           "aws.s3.x[1]", "aws.s3"]
    patterns = ["aws.s3.versioning", "aws.kms.*", "aws.s3.x[[]1]", "linux.ssh.root_logi?", "nothing.at.all"]
    assert [i for i in ids if registry.id_matcher(patterns)(i)] == \
        [i for i in ids if any(fnmatch.fnmatchcase(i, p) for p in patterns)] == \
        ["aws.s3.versioning", "aws.kms.key_rotation", "linux.ssh.root_login", "aws.s3.x[1]"]
    compiled: list[str] = []
    monkeypatch.setattr(registry.fnmatch, "fnmatchcase", lambda name, pat: compiled.append(pat) or name == pat)
    literal = registry.id_matcher(["aws.s3.versioning", "aws.kms.key_rotation"])
    assert [i for i in ids if literal(i)] == ["aws.s3.versioning", "aws.kms.key_rotation"]
    assert compiled == []

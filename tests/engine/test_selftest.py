"""``gxpscan selftest``: exit codes, the JSON record and its schema, the sealed and signed HTML record, and the
release manifest a real wheel carries (built here, installed into a directory, tampered with)."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from scanner.cli import main
from scanner.selftest import FAIL, NOT_VERIFIED, PASS, SelftestResult, Step, kat
from scanner.selftest.manifest import MANIFEST_NAME, file_hashes, manifest_document

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "scanner" / "schemas" / "selftest.schema.json").read_text())


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_a_development_install_says_so_and_is_not_all_clear() -> None:
    code, out, _ = run_cli("selftest", "--format", "json")
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    steps = {s["id"]: s for s in doc["steps"]}
    assert (code, doc["install"], doc["verdict"]) == (3, "development", NOT_VERIFIED)
    assert steps["IQ-FILES"]["status"] == NOT_VERIFIED and "development install" in steps["IQ-FILES"]["actual"]
    assert all(s["status"] == PASS for s in doc["steps"] if s["id"] != "IQ-FILES")
    assert len([s for s in doc["steps"] if s["phase"] == "OQ"]) == len(kat.all_cases()) >= 121 * 5
    assert steps["OQ-linux.ssh.root_login:error"]["expected"] == "error"
    assert doc["plugins"] == []
    from scanner.registry import Registry

    registry = Registry.load()  # the fingerprint a run record carries when a scan selects every check
    assert doc["checks_fingerprint"] == registry.fingerprint(registry.select())


def test_a_wrong_known_answer_fails_with_check_case_expected_and_actual(tmp_path: Path) -> None:
    from scanner.selftest import run_selftest

    for f in kat.kat_files():
        shutil.copy(f, tmp_path / f.name)
    text = (tmp_path / "ldap.yaml").read_text()
    (tmp_path / "ldap.yaml").write_text(text.replace("ldap.audit_overlay:\n    pass:", "ldap.audit_overlay:\n"
                                                     "    wrong:\n      expect: fail\n      facts: {}\n    pass:", 1))
    result = run_selftest(kat_data=tmp_path)
    bad = [s for s in result.steps if s.status == FAIL]
    assert result.verdict == FAIL
    assert [(s.id, s.expected) for s in bad] == [("OQ-ldap.audit_overlay:wrong", "fail")]
    assert bad[0].actual.startswith("error: ")  # no facts: the case errs instead of failing


def test_the_console_summary_and_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["selftest"])
    out = capsys.readouterr().out
    assert code == 3
    n = len(kat.all_cases())
    assert "NOT_VERIFIED  IQ-FILES: expected every file listed" in out and f"OQ: {n} of {n} passed" in out
    assert out.splitlines()[-1].startswith("selftest: not_verified (pass ")


def test_out_writes_sealed_signed_records(tmp_path: Path) -> None:
    from scanner.seal import load_public_key, open_envelope

    code, _, err = run_cli("keygen", str(tmp_path / "k"))
    assert code == 0, err
    out = tmp_path / "q"
    code, _, err = run_cli("selftest", "--format", "json", "--format", "oq", "--out", str(out), "--sign-key",
                           str(tmp_path / "k"))
    assert code == 3, err
    names = sorted(os.listdir(out))
    assert names == ["manifest-001.dsse.json", "manifest-001.json", "selftest.html", "selftest.json"]
    manifest = (out / "manifest-001.json").read_bytes()
    statement = json.loads(manifest)
    assert {s["name"]: s["digest"]["sha256"] for s in statement["subject"]} == {
        n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in ("selftest.html", "selftest.json")}
    envelope = (out / "manifest-001.dsse.json").read_bytes()
    assert open_envelope(envelope, load_public_key(tmp_path / "k.pub")) == manifest
    doc = json.loads((out / "selftest.json").read_text())
    html = (out / "selftest.html").read_text()
    for shown in (doc["tool_version"], doc["checks_fingerprint"], doc["machine"]["hostname"],
                  'data-test-id="OQ-linux.ssh.root_login:pass"', "NOT_VERIFIED"):
        assert shown in html
    code, _, err = run_cli("selftest", "--out", str(out))  # never into a directory that holds something
    assert code == 4 and "not empty" in err


def small_result() -> SelftestResult:
    """A result of two steps, with a hostile host name."""
    from scanner.model import utcnow

    now = utcnow()
    return SelftestResult(
        tool_version="0.1.0", checks_fingerprint="0" * 64, install="development", manifest_sha256="",
        machine={"hostname": "lab\x1b]0;owned\x07", "platform": "Linux", "python": "3.11.7",
                 "python_executable": "/usr/bin/python3", "install_root": "/src"},
        started=now, ended=now, seconds=0.5,
        steps=(Step("IQ-FILES", "IQ", "Installed files", "all match", "development install", NOT_VERIFIED),
               Step("OQ-linux.ssh.root_login:pass", "OQ", "linux.ssh.root_login, case pass", "pass", "pass", PASS)))


def test_the_record_as_pdf(tmp_path: Path) -> None:
    from pypdf import PdfReader

    from scanner.selftest.render import write

    write(small_result(), tmp_path / "p", ["pdf"])
    assert sorted(os.listdir(tmp_path / "p")) == ["manifest-001.json", "selftest.pdf"]
    first = PdfReader(tmp_path / "p" / "selftest.pdf").pages[0].extract_text()
    assert "gxpscan self-test" in first and "NOT_VERIFIED" in first and "OQ-linux.ssh.root_login:pass" in first
    assert "\x1b" not in first and "lab\\x1b]0;owned\\x07" in first  # the host name shown escaped, never obeyed


def test_machine_data_is_shown_escaped_never_obeyed() -> None:
    from scanner.selftest.render import console, to_html

    assert "\x1b" not in console(small_result()) and "lab\\x1b]0;owned\\x07" in console(small_result())
    assert "\x1b" not in to_html(small_result()) and "lab\\x1b]0;owned\\x07" in to_html(small_result())


def test_the_schema_is_published() -> None:
    code, out, _ = run_cli("schema", "selftest")
    assert (code, json.loads(out)) == (0, SCHEMA)


def test_oq_needs_a_directory() -> None:
    assert run_cli("selftest", "--format", "oq")[0] == 2


def _fake_install(root: Path) -> None:
    for rel in ("scanner/a.py", "checks/linux/b.py", "reports/c.j2"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    (root / "scanner" / "selftest").mkdir()
    (root / "scanner" / "selftest" / MANIFEST_NAME).write_bytes(manifest_document(file_hashes(root), "0.1.0"))


def test_the_manifest_names_every_changed_missing_and_added_file(tmp_path: Path) -> None:
    from scanner.selftest import _files_step

    _fake_install(tmp_path)
    ok, install, digest = _files_step(tmp_path, "0.1.0")
    assert (ok.status, install, len(digest)) == (PASS, "release", 64)
    (tmp_path / "checks/linux/b.py").write_text("tampered")
    (tmp_path / "reports/c.j2").unlink()
    (tmp_path / "checks/linux/evil.py").write_text("")
    (tmp_path / "checks/linux/__pycache__").mkdir()
    (tmp_path / "checks/linux/__pycache__/b.cpython-311.pyc").write_bytes(b"")  # caches are not release files
    bad, _, _ = _files_step(tmp_path, "0.2.0")
    assert bad.status == FAIL
    assert bad.actual == ("changed: checks/linux/b.py; missing: reports/c.j2; added: checks/linux/evil.py; "
                          "manifest of version 0.1.0, package version 0.2.0")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = out / "src"  # a clean copy: a build never writes into the worktree
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(".git", "__pycache__", "*.egg-info",
                                                                           "build", "dist", ".tox"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(out), str(src)], check=True, capture_output=True, timeout=300)
    (found,) = out.glob("gxpscan-*.whl")
    return found


def test_the_wheel_carries_the_known_answers_the_recordings_and_the_manifest(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"scanner/selftest/data/{p.name}" for p in kat.kat_files()} <= names
    recorded = {f"scanner/selftest/data/recordings/linux/{p.relative_to(kat.RECORDINGS / 'linux').as_posix()}"
                for p in (kat.RECORDINGS / "linux").rglob("*") if p.is_file() and p.parent != kat.RECORDINGS / "linux"}
    assert len(recorded) > 400 and recorded - names == set()  # dot files (root's .profile) included
    manifest = json.loads(zipfile.ZipFile(wheel).read(f"scanner/selftest/{MANIFEST_NAME}"))
    with zipfile.ZipFile(wheel) as z:
        in_wheel = {n: hashlib.sha256(z.read(n)).hexdigest() for n in names
                    if n.split("/")[0] in ("scanner", "checks", "reports") and not n.endswith(MANIFEST_NAME)}
    assert manifest["files"] == in_wheel


def test_an_installed_release_qualifies_and_a_tampered_one_does_not(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(target)}

    def selftest() -> tuple[int, dict[str, object]]:
        done = subprocess.run([sys.executable, "-m", "scanner", "selftest", "--format", "json"], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        return done.returncode, json.loads(done.stdout)

    code, doc = selftest()
    steps = {s["id"]: s for s in doc["steps"]}  # type: ignore[attr-defined]
    assert (code, doc["install"], doc["verdict"]) == (0, "release", PASS), [
        s for s in steps.values() if s["status"] != PASS]
    assert doc["machine"]["install_root"] == str(target)  # type: ignore[index]
    with (target / "checks" / "linux" / "ssh.py").open("a") as fh:
        fh.write("\n# changed after installation\n")
    code, doc = selftest()
    files = next(s for s in doc["steps"] if s["id"] == "IQ-FILES")  # type: ignore[attr-defined]
    assert (code, doc["verdict"], files["status"]) == (1, FAIL, FAIL)
    assert files["actual"] == "changed: checks/linux/ssh.py"


def test_a_third_party_plugin_is_listed_apart_and_not_qualified(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.selftest import run_selftest

    (tmp_path / "acme_checks").mkdir()
    (tmp_path / "acme_checks" / "__init__.py").write_text(
        "from scanner import check, passed\n\n\n"
        "@check(id='linux.acme.banner', title='t', severity='low', area='configuration', criterion='c',\n"
        "       remediation='r')\n"
        "def banner(login_defs):\n    return passed('x', 'y')\n")
    info = tmp_path / "acme_checks-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text("[gxpscan.checks]\nacme = acme_checks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = run_selftest()
    assert [(p.name, p.distribution, p.version, p.checks) for p in result.plugins] == [
        ("acme", "acme-checks", "1.2", ("linux.acme.banner",))]
    assert not any("linux.acme.banner" in s.id for s in result.steps)  # no known answers asked of a plugin
    assert result.verdict == NOT_VERIFIED  # a development install; the plugin itself fails nothing
    doc = result.to_dict()
    jsonschema.validate(doc, SCHEMA)
    assert doc["plugins"][0]["covered"] is False
    from scanner.selftest.render import console, to_html

    assert "plugin acme (acme-checks 1.2, 1 checks): not covered by this release's qualification" in console(result)
    assert "<td>linux.acme.banner</td><td>not covered by this release's qualification</td>" in to_html(result)


def test_the_key_passphrase_reaches_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "selftest-passphrase-6f1c2a"
    monkeypatch.setenv("GXP_KEY_PASS", secret)
    assert run_cli("keygen", str(tmp_path / "k"), "--passphrase-env", "GXP_KEY_PASS")[0] == 0
    code, out, err = run_cli("selftest", "--format", "json", "--format", "oq", "--out", str(tmp_path / "o"),
                             "--sign-key", str(tmp_path / "k"), "--sign-key-passphrase-env", "GXP_KEY_PASS")
    assert code == 3, err
    assert secret not in out + err
    for f in (tmp_path / "o").iterdir():
        assert secret.encode() not in f.read_bytes()

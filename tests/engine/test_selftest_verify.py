"""``gxpscan verify DIR`` on a ``selftest --out`` directory (its seal, signature, time-stamp, files and the JSON
record against the seal), and ``selftest --tsa URL`` against the local TSA of test_tsa (``openssl ts -reply``)."""
from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from scanner import cli
from scanner.seal import canonical, sha256_hex
from scanner.selftest.render import write
from tests.engine.test_selftest import run_cli, small_result
from tests.engine.test_tsa import Authority, make_authority


def _records(tmp_path: Path, key: bool = False) -> Path:
    if key:
        assert run_cli("keygen", str(tmp_path / "k"))[0] == 0
    from scanner.seal import load_private_key

    out = tmp_path / "st"
    write(small_result(), out, ["json", "oq"], load_private_key(tmp_path / "k") if key else None)
    return out


def test_an_untouched_selftest_directory_verifies_intact(tmp_path: Path) -> None:
    out = _records(tmp_path)
    code, stdout, _ = run_cli("verify", str(out))
    assert code == cli.EXIT_OK, stdout
    digest = sha256_hex((out / "manifest-001.json").read_bytes())
    assert f"INTACT: manifest-001.json sha256 {digest}" in stdout
    assert "ok: manifest-001.json: not signed (hashes only)" in stdout
    assert f"ok: self-test of gxpscan 0.1.0 (checks fingerprint {'0' * 64}), started " in stdout
    assert "verdict not_verified" in stdout.lower()


def _change(out: Path) -> None:
    (out / "selftest.html").write_bytes((out / "selftest.html").read_bytes().replace(b"NOT_VERIFIED", b"PASS", 1))


def _add(out: Path) -> None:
    (out / "extra.txt").write_text("later\n")


def _remove(out: Path) -> None:
    (out / "selftest.json").unlink()


def _edit_manifest(out: Path) -> None:
    (out / "manifest-001.json").write_text(json.dumps(json.loads((out / "manifest-001.json").read_text()), indent=1))


def _second_manifest(out: Path) -> None:
    shutil.copy(out / "manifest-001.json", out / "manifest-002.json")


def _reseal_with_another_verdict(out: Path) -> None:
    """Someone writes a new, consistent-looking seal that states a verdict the JSON record does not hold."""
    statement = json.loads((out / "manifest-001.json").read_bytes())
    statement["predicate"]["verdict"] = "pass"
    (out / "manifest-001.json").write_bytes(canonical(statement))


def _unsealed(out: Path) -> None:
    (out / "manifest-001.json").unlink()


@pytest.mark.parametrize(("tamper", "problem"), [
    (_change, "changed: selftest.html (sealed sha256 "),
    (_add, "added: extra.txt (not in manifest-001.json)"),
    (_remove, "removed: selftest.json (sealed in manifest-001.json)"),
    (_edit_manifest, "manifest manifest-001.json: manifest-001.json: not in canonical form (edited by hand?)"),
    (_second_manifest, "added: manifest-002.json (not in manifest-001.json)"),
    (_reseal_with_another_verdict, "selftest.json: does not match its seal: verdict 'not_verified' (sealed 'pass')"),
    (_unsealed, "not sealed: no manifest (manifest-001.json)"),
])
def test_every_change_to_a_selftest_directory_is_named(tmp_path: Path, tamper, problem: str) -> None:
    out = _records(tmp_path)
    tamper(out)
    code, stdout, _ = run_cli("verify", str(out))
    assert code == cli.EXIT_NOT_INTACT, stdout
    assert f"  {problem}" in stdout
    assert "NOT INTACT: " in stdout and "self-test of gxpscan" not in stdout


def test_a_signed_selftest_verifies_with_its_key_and_not_with_another(tmp_path: Path) -> None:
    out = _records(tmp_path, key=True)
    assert run_cli("keygen", str(tmp_path / "other"))[0] == 0
    code, stdout, _ = run_cli("verify", str(out), "--pubkey", str(tmp_path / "k.pub"))
    assert code == cli.EXIT_OK, stdout
    assert "ok: manifest-001.json: signature verifies (key " in stdout
    code, stdout, _ = run_cli("verify", str(out), "--pubkey", str(tmp_path / "other.pub"))
    assert code == cli.EXIT_NOT_INTACT
    assert "manifest-001.dsse.json: signed by key " in stdout and "which is none of the --pubkey keys" in stdout
    (out / "manifest-001.dsse.json").unlink()
    code, stdout, _ = run_cli("verify", str(out))
    assert code == cli.EXIT_NOT_INTACT and "  removed: manifest-001.dsse.json (manifest-001.json was signed by" \
        in stdout


def test_an_unsigned_selftest_is_refused_when_a_key_is_pinned(tmp_path: Path) -> None:
    out = _records(tmp_path)
    assert run_cli("keygen", str(tmp_path / "k"))[0] == 0
    code, stdout, _ = run_cli("verify", str(out), "--pubkey", str(tmp_path / "k.pub"))
    assert code == cli.EXIT_NOT_INTACT
    assert "manifest-001.json: not signed, but --pubkey asks for a signed run" in stdout


# --- --tsa --------------------------------------------------------------------------------------------------------

needs_openssl = pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")


@pytest.fixture(scope="module")
def authority_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_authority(tmp_path_factory.mktemp("tsa") / "ca")


@pytest.fixture
def authority(authority_dir: Path):  # type: ignore[no-untyped-def]
    a = Authority(authority_dir)
    yield a
    a.close()


@needs_openssl
def test_selftest_tsa_stamps_the_seal_and_verify_checks_it(tmp_path: Path, authority: Authority) -> None:
    out = tmp_path / "st"
    code, _, err = run_cli("selftest", "--format", "json", "--out", str(out), "--tsa", authority.url)
    assert code == cli.EXIT_ERRORS, err  # a development install: not verified, exit 3
    assert authority.requests == 1
    assert sorted(p.name for p in out.iterdir()) == ["manifest-001.json", "manifest-001.tsr", "selftest.json"]
    assert json.loads((out / "manifest-001.json").read_bytes())["predicate"]["time_stamp_authority"] == authority.url
    cert = str(authority.dir / "tsa.pem")
    code, stdout, _ = run_cli("verify", str(out), "--tsa-cert", cert)
    assert code == cli.EXIT_OK, stdout
    assert "ok: manifest-001.json: time-stamped 20" in stdout and "(signature verified with --tsa-cert)" in stdout
    token = bytearray((out / "manifest-001.tsr").read_bytes())
    token[-40] ^= 0x01
    (out / "manifest-001.tsr").write_bytes(bytes(token))
    code, stdout, _ = run_cli("verify", str(out), "--tsa-cert", cert)
    assert code == cli.EXIT_NOT_INTACT and "  time-stamp manifest-001.tsr: " in stdout
    (out / "manifest-001.tsr").unlink()
    code, stdout, _ = run_cli("verify", str(out))
    assert code == cli.EXIT_NOT_INTACT
    assert "  removed: manifest-001.tsr (manifest-001.json was time-stamped)" in stdout


def test_trusted_time_asked_of_an_unstamped_selftest_is_refused(tmp_path: Path) -> None:
    out = _records(tmp_path)
    (tmp_path / "tsa.pem").write_bytes(b"any certificate")
    code, stdout, _ = run_cli("verify", str(out), "--tsa-cert", str(tmp_path / "tsa.pem"))
    assert code == cli.EXIT_NOT_INTACT
    assert "  manifest-001.json is not time-stamped, but --tsa-cert asks for trusted time" in stdout
    (out / "manifest-001.tsr").write_bytes(b"planted")
    code, stdout, _ = run_cli("verify", str(out))
    assert code == cli.EXIT_NOT_INTACT and "  added: manifest-001.tsr (manifest-001.json asked for no time-stamp)" \
        in stdout


def test_an_unreachable_tsa_fails_the_selftest_seal_with_exit_4(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "st"
    code, _, err = run_cli("selftest", "--format", "json", "--out", str(out), "--tsa", f"http://127.0.0.1:{port}/")
    assert code == cli.EXIT_WRITE
    assert f"could not seal {out}: time-stamp authority http://127.0.0.1:{port}/" in err
    assert "the records in it are NOT sealed" in err
    code, stdout, _ = run_cli("verify", str(out))
    assert code == cli.EXIT_NOT_INTACT and "not sealed: no manifest" in stdout


def test_tsa_needs_out() -> None:
    code, _, err = run_cli("selftest", "--tsa", "http://127.0.0.1:9/")
    assert code == cli.EXIT_INPUT and "--tsa time-stamps the sealed records: give --out DIR" in err

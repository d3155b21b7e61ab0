"""Sealed run directories: manifests, signatures, verify, tampering of every kind, the chain, e-signatures."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from scanner import cli
from scanner.seal import (
    SealError,
    canonical,
    fingerprint,
    keygen,
    load_private_key,
    read_manifest,
    scan_dir,
    seal_run,
    sha256_hex,
    sign_run,
    verify_chain,
    verify_run,
)
from scanner.store import load_record
from tests.engine.seal_factory import sealed_run, write_run
from tests.factories import make_run_info

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def signed(tmp_path, key) -> Path:
    """A run sealed and signed at scan time, re-sealed by a later report (manifest 2, signed), then signed by a
    reviewer: every kind of file a sealed run holds."""
    from scanner.cli import _write_reports

    run_dir = sealed_run(tmp_path / "run", key=key)
    _write_reports(load_record(run_dir), ["sarif"], run_dir, quiet=True)
    seal_run(run_dir, key=key)
    sign_run(run_dir, role="reviewer", meaning="Reviewed", name="Rita Reviewer", key=key)
    return run_dir


def test_a_clean_signed_run_verifies(signed, key, capsys):
    v = verify_run(signed, pubkeys=[key.public_key()])
    assert v.intact, v.problems
    assert v.manifest == "manifest-002.json"
    assert any(n.startswith("signature signature-001.dsse.json: reviewer 'Rita Reviewer'") for n in v.notes)
    pub = signed.parent / "k.pub"
    pub.write_bytes(_pem(key))
    assert cli.main(["verify", str(signed), "--pubkey", str(pub)]) == cli.EXIT_OK
    assert capsys.readouterr().out.splitlines()[-1].startswith("INTACT: manifest-002.json sha256 ")


def _pem(key: Ed25519PrivateKey) -> bytes:
    from scanner.seal import public_pem

    return public_pem(key.public_key()).encode()


def test_the_manifest_is_an_in_toto_statement_over_every_file(signed):
    m = read_manifest(signed, 1)
    assert m.statement["_type"] == "https://in-toto.io/Statement/v1"
    assert m.statement["predicateType"] == "https://gxpscan.dev/attestation/run-manifest/v1"
    assert canonical(m.statement) == m.data
    assert set(m.subjects) == {"record.jsonl", "report.json", "report.junit.xml", "oq-evidence.html"}
    assert m.subjects["record.jsonl"] == sha256_hex((signed / "record.jsonl").read_bytes())
    p = m.predicate
    assert (p["run_id"], p["version"], p["tool_version"]) == ("run-run", 1, "0.1.0")
    two = read_manifest(signed, 2)
    assert two.subjects["manifest-001.json"] == m.sha256 and two.predicate["supersedes_sha256"] == m.sha256
    assert {"manifest-001.dsse.json", "report.sarif"} <= set(two.subjects)
    env = json.loads((signed / "manifest-002.dsse.json").read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2
    data[i] = data[i] ^ 0x01 if chr(data[i] ^ 0x01).isprintable() else ord("Z")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, expected", [
    ("record.jsonl", r"changed: record\.jsonl \(sealed sha256 \w+, now \w+\)"),
    ("report.json", r"changed: report\.json "),
    ("report.junit.xml", r"changed: report\.junit\.xml "),
    ("oq-evidence.html", r"changed: oq-evidence\.html "),
    ("report.sarif", r"changed: report\.sarif "),
    ("manifest-001.json", r"changed: manifest-001\.json "),
    ("manifest-001.dsse.json", r"changed: manifest-001\.dsse\.json "),
    ("manifest-002.json", r"manifest manifest-002\.json: |signature manifest-002\.dsse\.json: "),
    ("manifest-002.dsse.json", r"signature manifest-002\.dsse\.json: "),
    ("signature-001.dsse.json", r"signature signature-001\.dsse\.json: "),
])
def test_one_changed_byte_in_any_file_is_caught(signed, key, name, expected):
    _flip(signed / name)
    v = verify_run(signed, pubkeys=[key.public_key()])
    assert not v.intact
    assert any(re.match(expected, p) for p in v.problems), v.problems


@pytest.mark.parametrize("name, expected", [
    ("record.jsonl", "removed: record.jsonl (sealed in manifest-002.json)"),
    ("report.json", "removed: report.json (sealed in manifest-002.json)"),
    ("manifest-001.json", "removed: manifest-001.json (manifest versions must run 1..2)"),
    ("manifest-002.json", "added: report.sarif (not in manifest-001.json)"),
    ("manifest-002.dsse.json", "removed: manifest-002.dsse.json (manifest-002.json was signed by key "),
    ("signature-001.dsse.json", None),  # added after the last manifest: see the README (the OQ record lists it)
])
def test_a_removed_file_is_caught(signed, key, name, expected):
    (signed / name).unlink()
    v = verify_run(signed, pubkeys=[key.public_key()])
    if expected is None:
        assert v.intact and not any("signature-001" in n for n in v.notes)
        return
    assert not v.intact
    assert any(p.startswith(expected) for p in v.problems), v.problems


@pytest.mark.parametrize("name, expected", [
    ("notes.txt", "added: notes.txt (not in manifest-002.json)"),
    ("manifest-002.tsr", "added: manifest-002.tsr (manifest-002.json asked for no time-stamp)"),
    ("manifest-009.dsse.json", "added: manifest-009.dsse.json (belongs to no manifest present)"),
    ("signature-002.dsse.json", "signature signature-002.dsse.json: not a DSSE envelope"),
])
def test_an_added_file_is_caught(signed, key, name, expected):
    (signed / name).write_text("{}")
    v = verify_run(signed, pubkeys=[key.public_key()])
    assert expected in v.problems, v.problems


def test_every_file_is_hashed_whole_across_the_read_buffer(tmp_path):
    """Files are read into one reused 1 MiB buffer: sizes around its edges hash exactly as sha256sum does."""
    mib = 1 << 20
    sizes = {"empty": 0, "one": 1, "buffer": mib, "buffer+1": mib + 1, "2.5 buffers": 5 * mib // 2 + 3}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(bytes((i * 7 + size) % 251 for i in range(size)))
    entries = scan_dir(tmp_path)
    assert {n: e.sha256 for n, e in entries.items()} == {
        n: hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in sizes}
    last = tmp_path / "2.5 buffers"
    last.write_bytes(last.read_bytes()[:-1] + b"\xff")  # a change in the last, partial block
    assert scan_dir(tmp_path)["2.5 buffers"].sha256 == hashlib.sha256(last.read_bytes()).hexdigest()
    assert scan_dir(tmp_path)["2.5 buffers"].sha256 != entries["2.5 buffers"].sha256


def test_an_added_symlink_is_named_as_one(signed):
    (signed / "link").symlink_to("/etc/passwd")
    assert "added: link (a symlink) (not in manifest-002.json)" in verify_run(signed).problems


def test_a_signature_from_another_run_is_caught(signed, tmp_path, key):
    other = sealed_run(tmp_path / "other", key=key)
    sign_run(other, role="approver", meaning="Approved", name="Al Approver", key=key)
    shutil.copy(other / "signature-001.dsse.json", signed / "signature-002.dsse.json")
    v = verify_run(signed)
    assert [p for p in v.problems if p.startswith("signature signature-002.dsse.json: covers a manifest of another "
                                                  "record (manifest-001.json")], v.problems


def test_a_manifest_signature_from_another_run_is_caught(signed, tmp_path, key):
    other = sealed_run(tmp_path / "other", key=key)
    (signed / "manifest-002.dsse.json").write_bytes((other / "manifest-001.dsse.json").read_bytes())
    assert "signature manifest-002.dsse.json: signs another manifest than manifest-002.json" in \
        verify_run(signed).problems


def test_pinned_keys_refuse_another_signer_and_an_unsigned_manifest(signed, tmp_path, key):
    stranger = Ed25519PrivateKey.generate()
    v = verify_run(signed, pubkeys=[stranger.public_key()])
    assert any(p.startswith("manifest-002.dsse.json: signed by key ") and "none of the --pubkey keys" in p
               for p in v.problems)
    assert any(p.startswith("signature signature-001.dsse.json: made with key ") for p in v.problems)
    unsigned = sealed_run(tmp_path / "unsigned")
    assert verify_run(unsigned).intact
    assert any(p.startswith("manifest-001.json: not signed, but --pubkey asks for a signed run")
               for p in verify_run(unsigned, pubkeys=[key.public_key()]).problems)


def test_a_re_sealed_forgery_is_still_caught_by_the_records_consistency(tmp_path):
    """Someone edits the record and seals it again from scratch (unsigned): the hashes agree, the record does not."""
    run_dir = sealed_run(tmp_path / "run")
    for p in run_dir.glob("manifest-*"):
        p.unlink()
    record = run_dir / "record.jsonl"
    text = record.read_text()
    text = text.replace('"raw":"permitrootlogin no\\n"', '"raw":"permitrootlogin yes\\n"', 1)
    text = text.replace('"status":"fail"', '"status":"pass"')
    record.write_text(text)
    seal_run(run_dir)
    problems = verify_run(run_dir).problems
    assert any(p.startswith("record: evidence ") and "its raw text does not hash to its sha256" in p
               for p in problems), problems
    assert any(p.startswith("report.json: its counts ") for p in problems)


def test_a_large_genuine_report_is_checked_not_refused(tmp_path):
    """A record of 300 targets with evidence at the collectors' size bound: report.json is over 16 MiB (as for a
    100-host run) and is read and reconciled with the record, not called "not a gxpscan JSON report"."""
    from scanner.model import MAX_RAW_BYTES
    from scanner.seal import MAX_SEAL_FILE

    raw = "".join(f"line {i}: setting_{i} = value {i}\n" for i in range(MAX_RAW_BYTES // 32))[:MAX_RAW_BYTES]
    run_dir = sealed_run(tmp_path / "run", statuses=("pass", "fail") * 150, formats=("json",), raw=raw)
    assert (run_dir / "report.json").stat().st_size > MAX_SEAL_FILE
    v = verify_run(run_dir)
    assert v.intact, v.problems
    report = json.loads((run_dir / "report.json").read_text())
    report["run"]["counts"]["pass"] += 1  # and it is really read: a count that differs is found
    (run_dir / "report.json").write_text(json.dumps(report, indent=2))
    seal_run(run_dir)
    assert [p for p in verify_run(run_dir).problems if p.startswith("report.json: its counts ")]


def test_a_hostile_oversize_report_is_refused_unread(tmp_path):
    """A report.json far larger than any JSON report of its record is an error that says so, not parsed."""
    from scanner.seal import MAX_SEAL_FILE, REPORT_GROWTH

    run_dir = write_run(tmp_path / "run", formats=())
    limit = MAX_SEAL_FILE + REPORT_GROWTH * (run_dir / "record.jsonl").stat().st_size
    with open(run_dir / "report.json", "wb") as fh:
        fh.write(b"[" * (limit + 1))
    seal_run(run_dir)
    assert verify_run(run_dir).problems == [
        f"report.json: larger than {limit} bytes ({REPORT_GROWTH}x the record plus {MAX_SEAL_FILE}): too large to "
        "be this record's JSON report; not read"]


def test_a_finding_naming_missing_evidence_is_caught(tmp_path):
    run_dir = write_run(tmp_path / "run", formats=())
    text = (run_dir / "record.jsonl").read_text()
    (run_dir / "record.jsonl").write_text(text.replace('"evidence":{"host1:', '"evidence":{"gone:', 1))
    seal_run(run_dir)
    assert any("names evidence host1:linux.sshd_effective#0 that the record does not hold" in p
               for p in verify_run(run_dir).problems)


def test_an_unsealed_run_is_not_intact(tmp_path):
    run_dir = write_run(tmp_path / "run")
    assert verify_run(run_dir).problems[0].startswith("not sealed: no manifest")


def test_the_record_never_changes_between_manifest_versions(tmp_path):
    run_dir = sealed_run(tmp_path / "run")
    record = run_dir / "record.jsonl"
    record.write_text(record.read_text().replace('"status":"fail"', '"status":"pass"'))
    (run_dir / "report.json").unlink()
    seal_run(run_dir)  # an attacker's re-seal on top of the honest first one
    problems = verify_run(run_dir).problems
    assert "changed: record.jsonl between manifest-001.json and manifest-002.json (a sealed record never changes)" \
        in problems


def test_a_report_rewritten_by_a_later_report_is_a_note(tmp_path, capsys):
    run_dir = sealed_run(tmp_path / "run")
    assert cli.main(["report", str(run_dir), "--format", "json", "--format", "junit", "-q"]) == cli.EXIT_FAILURES
    v = verify_run(run_dir)
    assert v.intact and v.manifest == "manifest-002.json"
    # report.json is byte-identical when rendered again only if nothing time-dependent is in it; either way fine
    assert all("rewritten after manifest-001.json" in n for n in v.notes if "rewritten" in n)


# --- the CLI: report, diff and sign verify first ------------------------------------------------------------------

def test_report_and_diff_refuse_a_tampered_run_and_no_verify_reads_it_loudly(tmp_path, capsys):
    old, new = sealed_run(tmp_path / "old", statuses=("pass",)), sealed_run(tmp_path / "new", statuses=("fail",))
    record = new / "record.jsonl"
    record.write_text(record.read_text().replace('"status":"fail"', '"status":"pass"'))
    for argv in (["report", str(new), "--format", "json"], ["diff", str(old), str(new)]):
        assert cli.main(argv) == cli.EXIT_NOT_INTACT
        captured = capsys.readouterr()
        assert captured.out == ""
        assert f"refusing to read {new}: the run is NOT INTACT" in captured.err
        assert "changed: record.jsonl (sealed sha256 " in captured.err
    assert cli.main(["report", str(new), "--format", "json", "--no-verify", "-q"]) == cli.EXIT_OK
    err = capsys.readouterr().err
    assert f"WARNING: {new} is NOT INTACT" in err
    assert "reports just written into the run directory are NOT sealed" in err
    assert not (new / "manifest-002.json").exists()


def test_sign_refuses_a_run_that_is_not_intact(tmp_path, key, capsys):
    run_dir = sealed_run(tmp_path / "run")
    keyfile = tmp_path / "k"
    keygen(keyfile)
    (run_dir / "extra").write_text("x")
    assert cli.main(["sign", str(run_dir), "--role", "approver", "--meaning", "Approved", "--name", "A",
                     "--key", str(keyfile)]) == cli.EXIT_NOT_INTACT
    assert not list(run_dir.glob("signature-*"))


def test_signatures_are_listed_in_the_run_and_cover_the_manifest(tmp_path, capsys):
    run_dir = sealed_run(tmp_path / "run")
    keyfile = tmp_path / "k"
    keygen(keyfile)
    assert cli.main(["sign", str(run_dir), "--role", "approver", "--meaning", "Reviewed and approved",
                     "--name", "Ana Approver", "--key", str(keyfile)]) == cli.EXIT_OK
    assert "signed: " in capsys.readouterr().out
    [sig] = load_record(run_dir).signatures
    manifest = (run_dir / "manifest-001.json").read_bytes()
    assert (sig.role, sig.name, sig.meaning) == ("approver", "Ana Approver", "Reviewed and approved")
    assert sig.manifest_sha256 == sha256_hex(manifest)
    assert sig.key_id == fingerprint(load_private_key(keyfile).public_key())
    assert sig.signed_at.utcoffset() == timedelta(0)
    assert load_record(run_dir).systems["host1"]["kernel"] == "6.1.0-test"
    assert cli.main(["verify", str(run_dir), "--pubkey", f"{keyfile}.pub"]) == cli.EXIT_NOT_INTACT  # manifest unsigned
    assert cli.main(["verify", str(run_dir)]) == cli.EXIT_OK


def test_a_role_outside_reviewer_and_approver_is_refused(tmp_path, key):
    run_dir = sealed_run(tmp_path / "run")
    with pytest.raises(SealError, match="role must be one of reviewer, approver"):
        sign_run(run_dir, role="owner", meaning="x", name="y", key=key)


# --- the chain --------------------------------------------------------------------------------------------------

def _chain(tmp_path, n=3):
    from datetime import datetime, timezone

    from scanner.seal import first_manifest_sha256

    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    previous = ""
    runs = []
    for i in range(n):
        run_dir = sealed_run(results / f"r{i + 1}", previous=previous, started=base + timedelta(days=i))
        previous = first_manifest_sha256(run_dir)
        runs.append(run_dir)
    return results, runs


def test_an_intact_chain_verifies(tmp_path):
    results, _runs = _chain(tmp_path)
    v = verify_chain(results)
    assert v.intact, v.problems
    assert "chain: 3 run(s), from r1 to r3" in v.notes


def test_a_chain_reads_each_record_once(tmp_path, monkeypatch):
    from scanner import store

    results, _runs = _chain(tmp_path)
    read = []
    original = store.read_record
    monkeypatch.setattr(store, "read_record", lambda path: read.append(Path(path).parent.name) or original(path))
    assert verify_chain(results).intact
    assert read == ["r1", "r2", "r3"]


def test_a_deleted_run_breaks_the_chain(tmp_path):
    results, runs = _chain(tmp_path)
    shutil.rmtree(runs[1])
    problems = verify_chain(results).problems
    assert any(p.startswith("chain: the run before r3 (manifest sha256 ") and "is missing: deleted or replaced; "
               "the run found before it is r1" in p for p in problems), problems


def test_a_deleted_first_run_breaks_the_chain(tmp_path):
    results, runs = _chain(tmp_path)
    shutil.rmtree(runs[0])
    assert any(p.startswith("chain: the run before r2") for p in verify_chain(results).problems)


def test_a_replaced_run_breaks_the_chain(tmp_path):
    results, runs = _chain(tmp_path)
    started = load_record(runs[1]).info.started
    previous = load_record(runs[1]).info.previous_manifest_sha256
    shutil.rmtree(runs[1])
    sealed_run(runs[1], statuses=("pass", "pass"), previous=previous, started=started)  # a clean-looking substitute
    problems = verify_chain(results).problems
    assert any(p.startswith("chain: the run before r3") for p in problems), problems


def test_reordered_runs_break_the_chain(tmp_path):
    from datetime import datetime, timezone

    from scanner.seal import first_manifest_sha256

    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    r1 = sealed_run(results / "r1", started=base)
    r3 = sealed_run(results / "r3", previous=first_manifest_sha256(r1), started=base + timedelta(days=2))
    sealed_run(results / "r2", previous=first_manifest_sha256(r3), started=base + timedelta(days=1))
    problems = verify_chain(results).problems
    assert any(p.startswith("chain: r2 follows r3, but r1 is the run that started just before it") for p in problems)


def test_a_tampered_run_inside_the_chain_is_named(tmp_path, capsys):
    results, runs = _chain(tmp_path)
    (runs[2] / "report.json").write_text("{}")
    assert cli.main(["verify", "--chain", str(results)]) == cli.EXIT_NOT_INTACT
    out = capsys.readouterr().out
    assert "  r3: changed: report.json (sealed sha256 " in out and out.rstrip().endswith("NOT INTACT: 2 problem(s)")


def test_scan_chains_to_the_previous_run_and_records_the_operator(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.setenv("GXPSCAN_OPERATOR", "Oscar Operator")
    argv = ["scan", "--check", "linux.time.*", "--format", "json", "-q"]
    cli.main([*argv, "-o", str(results / "a")])
    cli.main([*argv, "-o", str(results / "b"), "--operator-name", "Nina Named"])
    a, b = load_record(results / "a").info, load_record(results / "b").info
    assert a.previous_manifest_sha256 == "" and a.operator_name == "Oscar Operator"
    assert b.previous_manifest_sha256 == sha256_hex((results / "a" / "manifest-001.json").read_bytes())
    assert b.operator_name == "Nina Named"
    assert verify_chain(results).intact


# --- keys ---------------------------------------------------------------------------------------------------------

def test_keygen_writes_a_0600_pkcs8_key_and_prints_the_openssl_fingerprint(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KEY_PASS", "correct horse battery staple")
    out = tmp_path / "signer"
    assert cli.main(["keygen", str(out), "--passphrase-env", "KEY_PASS"]) == cli.EXIT_OK
    printed = capsys.readouterr().out
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert out.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", f"{out}.pub", "-outform", "DER"], capture_output=True,
                         check=True).stdout
    assert f"fingerprint: SHA256:{sha256_hex(der)}" in printed
    with pytest.raises(SealError, match="is encrypted: name the variable holding its passphrase"):
        load_private_key(out)
    assert cli.main(["keygen", str(out)]) == cli.EXIT_INPUT  # never overwritten
    assert "exists already" in capsys.readouterr().err


# --- verification without gxpscan (the README's commands, run as they stand) -------------------------------------

def _readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- verify-without-gxpscan:[^\n]*-->\n```sh\n(.*?)```", text, re.S)
    assert m, "the README's verification block is missing"
    return m.group(1)


def _auditor(run_dir: Path, pubkey: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    script = "set -euo pipefail\n" + _readme_block()
    env = {"PATH": os.environ["PATH"], "RUN": str(run_dir), "PUBKEY": str(pubkey), "TMP": str(tmp)}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(not shutil.which("jq") or not shutil.which("openssl"), reason="needs jq and openssl")
@pytest.mark.parametrize("tamper", [
    None,
    lambda d: _flip(d / "record.jsonl"),
    lambda d: _flip(d / "report.json"),
    lambda d: _flip(d / "manifest-002.json"),
    lambda d: _flip(d / "manifest-002.dsse.json"),
    lambda d: (d / "report.sarif").unlink(),
    lambda d: (d / "added.txt").write_text("x"),
])
def test_an_auditor_verifies_with_openssl_jq_and_sha256sum(signed, key, tmp_path, tamper):
    pubkey = tmp_path / "signer.pub"
    pubkey.write_bytes(_pem(key))
    work = tmp_path / "work"
    work.mkdir()
    if tamper is None:
        proc = _auditor(signed, pubkey, work)
        assert proc.returncode == 0, proc.stderr
        assert "Signature Verified Successfully" in proc.stdout
        return
    tamper(signed)
    proc = _auditor(signed, pubkey, work)
    assert proc.returncode != 0, (proc.stdout, proc.stderr)


def test_verify_does_not_import_the_transport_libraries(signed):
    code = (f"from scanner import cli; import sys; cli.main(['verify', {str(signed)!r}, '-q'])\n"
            "print(sorted(m for m in ('boto3', 'paramiko', 'winrm', 'ldap3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_run_info_round_trips_the_chain_hash():
    from scanner.model import info_from_dict, info_to_dict

    info = make_run_info(previous_manifest_sha256="a" * 64, operator_name="X")
    assert info_from_dict(info_to_dict(info)) == info


def test_the_seal_benchmark_runs_and_reports_its_figures():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "seal.py"), "--hosts", "3", "--runs", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    assert re.search(r"sealing \(hash every file, sign\): +\d+\.\d+ s = \d+\.\d+x reporting", proc.stdout)
    assert re.search(r"verify \(pinned key, consistency\): +\d+\.\d+ s", proc.stdout)


def test_report_into_a_signed_run_keeps_it_signed_only_with_the_key(tmp_path, capsys):
    keyfile = tmp_path / "k"
    keygen(keyfile)
    key = load_private_key(keyfile)
    run_dir = sealed_run(tmp_path / "run", key=key)
    assert cli.main(["report", str(run_dir), "--format", "sarif", "-q"]) == cli.EXIT_FAILURES
    assert "this run was signed; the manifest sealing the new reports is NOT signed" in capsys.readouterr().err
    assert any(p.startswith("manifest-002.json: not signed, but --pubkey asks for a signed run")
               for p in verify_run(run_dir, pubkeys=[key.public_key()]).problems)
    # sealed again with the key: the latest manifest, which seals everything before it, is signed
    assert cli.main(["report", str(run_dir), "--format", "sarif", "-q", "--sign-key", str(keyfile),
                     "--pubkey", f"{keyfile}.pub"]) == cli.EXIT_NOT_INTACT  # pinned: manifest-002 is refused first
    assert cli.main(["report", str(run_dir), "--format", "sarif", "-q", "--sign-key", str(keyfile)]) == \
        cli.EXIT_FAILURES
    v = verify_run(run_dir, pubkeys=[key.public_key()])
    assert v.intact and v.manifest == "manifest-003.json", v.problems
    assert "manifest-002.json: not signed; a later manifest seals it and is checked" in v.notes


@pytest.mark.parametrize("content, expected", [
    (b"[" * 100000 + b"]" * 100000, "manifest manifest-002.json: not JSON"),
    (b'{"_type": "https://in-toto.io/Statement/v1"}', "manifest manifest-002.json: predicate type 'None' is not "),
    (b"x" * (17 * 1024 * 1024), "manifest manifest-002.json: larger than 16777216 bytes"),
], ids=["deeply-nested", "no-predicate", "17-MiB"])
def test_a_hostile_manifest_is_a_problem_not_a_traceback(signed, content, expected):
    (signed / "manifest-002.json").write_bytes(content)
    v = verify_run(signed)
    assert any(p.startswith(expected) for p in v.problems), v.problems


def test_subject_names_are_only_compared_never_opened(signed):
    from scanner.seal import STATEMENT_TYPE

    m = json.loads((signed / "manifest-002.json").read_bytes())
    assert m["_type"] == STATEMENT_TYPE
    m["subject"].append({"name": "../../../etc/passwd", "digest": {"sha256": "0" * 64}})
    (signed / "manifest-002.json").write_bytes(canonical(m))
    problems = verify_run(signed).problems
    assert "removed: ../../../etc/passwd (sealed in manifest-002.json)" in problems


def test_the_previous_manifest_is_the_latest_started_sealed_run_but_never_the_run_itself_or_a_link(tmp_path):
    """seal.previous_manifest resolves each path once: still the run that started last, never the excluded
    run (named by another spelling of its path), a symbolic link to a run, or a run without a manifest."""
    from datetime import datetime, timezone

    from scanner.seal import first_manifest_sha256, previous_manifest

    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    sealed_run(results / "a", started=base)
    b = sealed_run(results / "b", started=base + timedelta(days=2))
    sealed_run(results / "c", started=base + timedelta(days=1))
    sealed_run(results / "z-own", started=base + timedelta(days=5))  # the run being made: excluded
    (tmp_path / "elsewhere").mkdir()
    later = sealed_run(tmp_path / "elsewhere" / "later", started=base + timedelta(days=9))
    (results / "y-link").symlink_to(later)
    (results / "x-unsealed").mkdir()
    own = tmp_path / "results" / ".." / "results" / "z-own"
    assert previous_manifest(results, exclude=own) == first_manifest_sha256(b)
    assert previous_manifest(results) == first_manifest_sha256(results / "z-own")
    assert previous_manifest(tmp_path / "missing") == ""


@pytest.fixture
def indexed_results(tmp_path, monkeypatch):
    """A results folder of four sealed runs (started a, c, b in that order; d not sealed), a private cache of
    its own, and the chain index kept from the first run on (CHAIN_INDEX_MIN = 1)."""
    from datetime import datetime, timezone

    from scanner import seal

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("GXPSCAN_NO_CACHE", raising=False)
    monkeypatch.setattr(seal, "CHAIN_INDEX_MIN", 1)
    results = tmp_path / "results"
    results.mkdir(mode=0o700)
    base = datetime(2026, 11, 1, tzinfo=timezone.utc)
    for name, days in (("a", 0), ("b", 2), ("c", 1)):
        sealed_run(results / name, started=base + timedelta(days=days))
    write_run(results / "d", formats=())
    return results


def _manifest_reads(monkeypatch) -> list[str]:
    from scanner import seal

    read: list[str] = []
    real = seal.read_manifest

    def counting(run_dir: Path, n: int):
        read.append(run_dir.name)
        return real(run_dir, n)

    monkeypatch.setattr(seal, "read_manifest", counting)
    return read


def _index_files(results: Path) -> list[Path]:
    return sorted((results.parent / "cache" / "gxpscan").glob("chain-*.json"))


def test_the_chain_index_reads_each_run_once_and_gives_the_same_run(indexed_results, monkeypatch):
    """seal.previous_manifest: a second scan of the folder stats each run's manifest and reads none of them."""
    from scanner.seal import first_manifest_sha256, previous_manifest

    read = _manifest_reads(monkeypatch)
    assert previous_manifest(indexed_results) == first_manifest_sha256(indexed_results / "b")
    assert sorted(read) == ["a", "b", "c"]
    assert len(_index_files(indexed_results)) == 1
    read.clear()
    assert previous_manifest(indexed_results) == first_manifest_sha256(indexed_results / "b")
    assert previous_manifest(indexed_results, exclude=indexed_results / "b") == first_manifest_sha256(
        indexed_results / "c")
    assert read == []


@pytest.mark.parametrize("change", ["new run", "resealed", "best removed", "best now a link"])
def test_the_chain_index_follows_what_changed_in_the_folder(indexed_results, monkeypatch, change):
    """A new run, a manifest written again, a run deleted or replaced by a symbolic link: the answer is the one
    reading every manifest gives, and only the changed manifest is read."""
    from datetime import datetime, timezone

    from scanner.seal import first_manifest_sha256, previous_manifest

    previous_manifest(indexed_results)
    read = _manifest_reads(monkeypatch)
    later = datetime(2026, 12, 1, tzinfo=timezone.utc)
    if change == "new run":
        sealed_run(indexed_results / "e", started=later)
        expected, reread = "e", ["e"]
    elif change == "resealed":  # a/manifest-001.json written again (another start time): read again
        m = json.loads((indexed_results / "a" / "manifest-001.json").read_bytes())
        m["predicate"]["started"] = later.isoformat()
        (indexed_results / "a" / "manifest-001.json").write_bytes(canonical(m))
        expected, reread = "a", ["a"]
    elif change == "best removed":
        shutil.rmtree(indexed_results / "b")
        expected, reread = "c", []
    else:
        shutil.move(indexed_results / "b", indexed_results.parent / "b")
        (indexed_results / "b").symlink_to(indexed_results.parent / "b")
        expected, reread = "c", []
    read.clear()  # only the reads of the next call
    got = previous_manifest(indexed_results)
    assert got == first_manifest_sha256(indexed_results / expected)
    assert read == reread
    monkeypatch.setenv("GXPSCAN_NO_CACHE", "1")  # the same answer as reading every manifest
    assert previous_manifest(indexed_results) == got


@pytest.mark.parametrize("spoil", ["not json", "another folder", "wrong shape", "forged entry", "writable by others"])
def test_a_doubtful_chain_index_means_reading_the_manifests_again(indexed_results, monkeypatch, spoil):
    """An index that is damaged, another folder's, of another shape, or not private is not trusted; an entry whose
    file identity does not fit its manifest is read again (a forged hash in it is never given)."""
    from scanner.seal import first_manifest_sha256, previous_manifest

    previous_manifest(indexed_results)
    (index,) = _index_files(indexed_results)
    doc = json.loads(index.read_bytes())
    if spoil == "not json":
        index.write_text("{", encoding="utf-8")
    elif spoil == "another folder":
        doc["folder"] = "/elsewhere"
        index.write_text(json.dumps(doc), encoding="utf-8")
    elif spoil == "wrong shape":
        doc["runs"] = {n: v[:6] for n, v in doc["runs"].items()}
        index.write_text(json.dumps(doc), encoding="utf-8")
    elif spoil == "forged entry":  # a later start and a made-up hash, under an identity the file does not have
        doc["runs"]["a"][4] += 1
        doc["runs"]["a"][5:] = ["2099-01-01T00:00:00+00:00", "f" * 64]
        index.write_text(json.dumps(doc), encoding="utf-8")
    else:
        index.chmod(0o666)
    read = _manifest_reads(monkeypatch)
    assert previous_manifest(indexed_results) == first_manifest_sha256(indexed_results / "b")
    assert sorted(read) == (["a"] if spoil == "forged entry" else ["a", "b", "c"])


def test_a_small_results_folder_keeps_no_chain_index(indexed_results, monkeypatch):
    from scanner import seal

    monkeypatch.setattr(seal, "CHAIN_INDEX_MIN", 32)
    assert seal.previous_manifest(indexed_results) == seal.first_manifest_sha256(indexed_results / "b")
    assert _index_files(indexed_results) == []

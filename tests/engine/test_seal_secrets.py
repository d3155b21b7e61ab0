"""A key passphrase never reaches argv, a log line, an error message or any file gxpscan writes."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "Pl4nted-Passphrase-7f3e9c"
WRONG = "Wr0ng-Passphrase-a91b22"


def _gxpscan(*argv: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert not any(PLANTED in a or WRONG in a for a in argv)  # never on the command line
    return subprocess.run([sys.executable, "-m", "scanner", "--log-level", "DEBUG", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_planted_passphrase_appears_in_no_output_and_no_file(tmp_path):
    work = tmp_path / "work"
    work.mkdir(mode=0o700)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SIGN_PASS": PLANTED, "BAD_PASS": WRONG,
           "GXPSCAN_OPERATOR": "Olga Operator"}
    runs = [
        _gxpscan("keygen", "signer", "--passphrase-env", "SIGN_PASS", cwd=work, env=env),
        _gxpscan("scan", "--check", "linux.time.*", "-o", "results/r1", "--format", "json", "--format", "junit",
                 "--format", "sarif", "--format", "oq", "--sign-key", "signer",
                 "--sign-key-passphrase-env", "SIGN_PASS", cwd=work, env=env),
        _gxpscan("report", "results/r1", "--format", "json", "--sign-key", "signer", "--sign-key-passphrase-env",
                 "SIGN_PASS", cwd=work, env=env),
        _gxpscan("sign", "results/r1", "--role", "reviewer", "--meaning", "Reviewed", "--name", "Rolf Reviewer",
                 "--key", "signer", "--key-passphrase-env", "SIGN_PASS", "--pubkey", "signer.pub", cwd=work, env=env),
        _gxpscan("verify", "results/r1", "--pubkey", "signer.pub", cwd=work, env=env),
    ]
    keygen, scan, report, sign, verify = (r.returncode for r in runs)
    assert (keygen, sign, verify) == (0, 0, 0), [r.stderr for r in runs]
    assert scan in (0, 1, 3) and report in (0, 1, 3), [r.stderr for r in runs]  # what the local host's clock shows
    assert (work / "results" / "r1" / "manifest-002.dsse.json").is_file()
    wrong = _gxpscan("sign", "results/r1", "--role", "approver", "--meaning", "Approved", "--name", "A",
                     "--key", "signer", "--key-passphrase-env", "BAD_PASS", cwd=work, env=env)
    assert wrong.returncode == 2
    assert "could not be read: not a PEM private key, or a wrong passphrase" in wrong.stderr
    missing = _gxpscan("scan", "--check", "linux.time.*", "-o", "results/r2", "--sign-key", "signer", cwd=work,
                       env=env)
    assert missing.returncode == 2 and "is encrypted: name the variable holding its passphrase" in missing.stderr
    assert not (work / "results" / "r2").exists()  # refused before anything was scanned
    for r in [*runs, wrong, missing]:
        for text in (r.stdout, r.stderr):
            assert PLANTED not in text and WRONG not in text
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        data = path.read_bytes()
        for secret in (PLANTED, WRONG):
            assert secret.encode() not in data, path
            assert secret.encode("utf-16-le") not in data, path
    assert (work / "signer").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")

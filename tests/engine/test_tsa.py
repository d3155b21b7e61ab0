"""Trusted time against a real local time-stamping authority: ``openssl ts -reply`` behind a small HTTP endpoint."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scanner import cli, tsa
from scanner.seal import SealError, seal_run, verify_run
from tests.engine.seal_factory import sealed_run, write_run

pytestmark = pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl")

TS_CONFIG = """\
[tsa]
default_tsa = tsa_config1

[tsa_config1]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/ca.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""

EXTENSIONS = """\
[tsa_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_authority(d: Path) -> Path:
    """A CA, a TSA certificate (timeStamping, critical) signed by it, and the `openssl ts` configuration."""
    d.mkdir(mode=0o700)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-subj", "/CN=gxpscan test TSA CA", "-days", "2", cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", "/CN=gxpscan test TSA", cwd=d)
    (d / "ext.cnf").write_text(EXTENSIONS)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tsa.pem", "-days", "2", "-extfile", "ext.cnf", "-extensions", "tsa_ext", cwd=d)
    (d / "tsaserial").write_text("01\n")
    (d / "ts.cnf").write_text(TS_CONFIG.format(dir=d))
    return d


class Authority:
    """An RFC 3161 endpoint on 127.0.0.1: each POSTed query is answered by `openssl ts -reply`."""

    def __init__(self, d: Path):
        self.dir = d
        self.requests = 0
        self.mode = "ok"  # ok | http500 | garbage | replay
        self.last = b""
        lock = threading.Lock()
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    authority.requests += 1
                    if authority.mode == "http500":
                        self.send_error(500)
                        return
                    query, reply = d / "query.tsq", d / "reply.tsr"
                    query.write_bytes(body)
                    subprocess.run(["openssl", "ts", "-reply", "-config", str(d / "ts.cnf"), "-queryfile",
                                    str(query), "-out", str(reply)], check=True, capture_output=True, timeout=60)
                    answer = reply.read_bytes()
                    if authority.mode == "garbage":
                        answer = b"not DER at all"
                    elif authority.mode == "replay" and authority.last:
                        answer = authority.last
                    authority.last = reply.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def authority_dir(tmp_path_factory) -> Path:
    return make_authority(tmp_path_factory.mktemp("tsa") / "ca")


@pytest.fixture
def authority(authority_dir):
    a = Authority(authority_dir)
    yield a
    a.close()


def _stamped(tmp_path: Path, authority: Authority, name: str = "run") -> Path:
    run_dir = write_run(tmp_path / name)
    seal_run(run_dir, tsa_url=authority.url)
    return run_dir


def test_a_sealed_run_gets_a_token_that_verifies_with_the_tsa_certificate(tmp_path, authority):
    run_dir = _stamped(tmp_path, authority)
    assert authority.requests == 1 and (run_dir / "manifest-001.tsr").is_file()
    v = verify_run(run_dir, tsa_certs=[(authority.dir / "tsa.pem").read_bytes()])
    assert v.intact, v.problems
    assert any("time-stamped 20" in n and "signature verified with --tsa-cert" in n for n in v.notes), v.notes
    stamp = tsa.verify_token((run_dir / "manifest-001.tsr").read_bytes(),
                             hashlib.sha256((run_dir / "manifest-001.json").read_bytes()).digest())
    assert stamp.policy == "1.3.6.1.4.1.99999.1"


def test_openssl_ts_verifies_the_token_as_the_readme_says(tmp_path, authority):
    run_dir = _stamped(tmp_path, authority)
    proc = subprocess.run(["openssl", "ts", "-verify", "-data", "manifest-001.json", "-in", "manifest-001.tsr",
                           "-CAfile", str(authority.dir / "ca.pem"), "-untrusted", str(authority.dir / "tsa.pem")],
                          cwd=run_dir, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stderr


def _flip_inside(path: Path, part: bytes) -> None:
    """Flip the lowest bit of the last digit or byte of ``part`` (a time stays a valid time: its last digit)."""
    data = path.read_bytes()
    i = data.find(part)
    assert i >= 0
    j = i + len(part) - (2 if part.endswith(b"Z") else 1)
    path.write_bytes(data[:j] + bytes([data[j] ^ 0x01]) + data[j + 1:])


def _token_parts(path: Path) -> dict[str, bytes]:
    from asn1crypto import tsp

    resp = tsp.TimeStampResp.load(path.read_bytes())
    signed = resp["time_stamp_token"]["content"]
    info = signed["encap_content_info"]["content"].parsed
    return {"gen_time": info["gen_time"].dump(), "signature": signed["signer_infos"][0]["signature"].dump(),
            "imprint": info["message_imprint"]["hashed_message"].dump()}


@pytest.mark.parametrize("part, expected", [
    ("imprint", "the token covers another hash than this manifest's"),
    ("gen_time", "the signed attributes do not bind the token's content"),
    ("signature", "the token's signature does not verify with the given TSA certificate(s)"),
])
def test_a_changed_token_is_caught(tmp_path, authority, part, expected):
    run_dir = _stamped(tmp_path, authority)
    token = run_dir / "manifest-001.tsr"
    _flip_inside(token, _token_parts(token)[part])
    problems = verify_run(run_dir, tsa_certs=[(authority.dir / "tsa.pem").read_bytes()]).problems
    assert f"time-stamp manifest-001.tsr: {expected}" in "\n".join(problems), problems


def test_a_token_of_another_manifest_or_a_removed_token_is_caught(tmp_path, authority):
    one, two = _stamped(tmp_path, authority, "one"), _stamped(tmp_path, authority, "two")
    shutil.copy(two / "manifest-001.tsr", one / "manifest-001.tsr")
    assert any("the token covers another hash than this manifest's" in p for p in verify_run(one).problems)
    (two / "manifest-001.tsr").unlink()
    assert "removed: manifest-001.tsr (manifest-001.json was time-stamped)" in verify_run(two).problems


def test_the_signature_must_verify_with_the_given_certificate(tmp_path, authority):
    run_dir = _stamped(tmp_path, authority)
    wrong = (authority.dir / "ca.pem").read_bytes()  # another key than the TSA's
    assert any("does not verify with the given TSA certificate" in p
               for p in verify_run(run_dir, tsa_certs=[wrong]).problems)


@pytest.mark.parametrize("mode, expected", [
    ("http500", "HTTP 500"),
    ("garbage", "not an RFC 3161 time-stamp response"),
    ("replay", "another nonce than the request"),
])
def test_a_tsa_that_fails_or_replays_is_refused(tmp_path, authority, mode, expected):
    if mode == "replay":
        _stamped(tmp_path, authority, "first")
    authority.mode = mode
    run_dir = write_run(tmp_path / "run")
    with pytest.raises(SealError, match=expected):
        seal_run(run_dir, tsa_url=authority.url)
    assert not (run_dir / "manifest-001.json").exists()


def test_an_unreachable_tsa_fails_the_seal_with_exit_4_and_keeps_the_run(tmp_path, capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "out"
    code = cli.main(["scan", "--check", "linux.time.*", "-o", str(out), "-q", "--tsa", f"http://127.0.0.1:{port}/"])
    assert code == cli.EXIT_WRITE
    assert "could not seal the run directory" in capsys.readouterr().err
    assert (out / "record.jsonl").is_file()


def test_scan_and_verify_from_the_command_line(tmp_path, authority, capsys):
    out = tmp_path / "out"
    cli.main(["scan", "--check", "linux.time.*", "-o", str(out), "-q", "--format", "json", "--tsa", authority.url])
    assert (out / "manifest-001.tsr").is_file()
    assert cli.main(["verify", str(out), "--tsa-cert", str(authority.dir / "tsa.pem")]) == cli.EXIT_OK
    assert "signature verified with --tsa-cert" in capsys.readouterr().out


def test_a_signed_and_stamped_run_is_sealed_again_by_report(tmp_path, authority):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    run_dir = sealed_run(tmp_path / "run", key=key)
    seal_run(run_dir, key=key, tsa_url=authority.url)
    v = verify_run(run_dir, pubkeys=[key.public_key()], tsa_certs=[(authority.dir / "tsa.pem").read_bytes()])
    assert v.intact and v.manifest == "manifest-002.json", v.problems


def test_asking_for_trusted_time_refuses_a_run_without_any_token(tmp_path, authority):
    run_dir = sealed_run(tmp_path / "run")
    cert = (authority.dir / "tsa.pem").read_bytes()
    assert "no manifest is time-stamped, but --tsa-cert asks for trusted time" in \
        verify_run(run_dir, tsa_certs=[cert]).problems
    seal_run(run_dir, tsa_url=authority.url)  # a later, stamped version is enough
    assert verify_run(run_dir, tsa_certs=[cert]).intact


def test_no_changed_byte_of_a_token_escapes_as_anything_but_a_tsa_error(tmp_path, authority):
    """Every byte flipped: a TSAError or, outside what the TSA signed (the embedded certificates), a valid token;
    never another exception. Inside the TSTInfo, the signed attributes and the signature: always refused."""
    from asn1crypto import tsp

    run_dir = _stamped(tmp_path, authority)
    token = (run_dir / "manifest-001.tsr").read_bytes()
    digest = hashlib.sha256((run_dir / "manifest-001.json").read_bytes()).digest()
    cert = (authority.dir / "tsa.pem").read_bytes()
    signed = tsp.TimeStampResp.load(token)["time_stamp_token"]["content"]
    signer = signed["signer_infos"][0]
    covered = []
    for part in (signed["encap_content_info"]["content"].parsed.dump(), signer["signed_attrs"].dump(),
                 signer["signature"].contents):
        start = token.find(part)
        assert start >= 0
        covered.append(range(start, start + len(part)))
    # every other byte of what is signed, every 16th byte elsewhere (the embedded certificates): bounded time
    positions = sorted({i for r in covered for i in r[::2]} | set(range(0, len(token), 16)))
    for i in positions:
        changed = token[:i] + bytes([token[i] ^ 0x41]) + token[i + 1:]
        try:
            tsa.verify_token(changed, digest, [cert])
        except tsa.TSAError:
            continue
        assert not any(i in r for r in covered), i

"""`gxpscan scan --challenge` end to end: selection, refusal before contact, --plan, the record, reports, secrets,
and one target at a time per test account. The challenges (tests/engine/challenge_plugin.py) talk to a real TCP
line server started here."""
from __future__ import annotations

import json
import socketserver
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from scanner import cli
from scanner.cli import EXIT_FAILURES, EXIT_INPUT, EXIT_OK
from scanner.model import result_from_dict, result_to_dict
from scanner.registry import Registry

PASSWORD = "Planted-Challenge-Secret-42"
PW_ENV = "GXP_TEST_CHALLENGE_SCAN_PW"


class LineServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, *, hello: bytes = b"REFUSED", lockout: bool = True, unlock: bool = True) -> None:
        self.hello, self.lockout, self.unlock = hello, lockout, unlock
        self.lines: list[str] = []
        self.failures: dict[str, int] = {}
        self.busy, self.most_busy = 0, 0
        self.guard = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def answer(self, line: str) -> bytes:
        words = line.split(" ")
        if words[0] == "HELLO":
            return self.hello
        if words[0] == "LOGON":
            if words[2] == "wrong":
                self.failures[words[1]] = self.failures.get(words[1], 0) + 1
                return b"REFUSED"
            return b"LOCKED" if self.lockout and self.failures.get(words[1], 0) >= 2 else b"WELCOME"
        if words[0] == "UNLOCK":
            if not self.unlock:
                return b"DENIED"
            self.failures.pop(words[1], None)
            return b"UNLOCKED"
        return b"WHAT"


class _Handler(socketserver.StreamRequestHandler):
    server: LineServer

    def handle(self) -> None:
        line = self.rfile.readline(256).decode().rstrip("\n")
        with self.server.guard:
            self.server.lines.append(line)
            self.server.busy += 1
            self.server.most_busy = max(self.server.most_busy, self.server.busy)
        time.sleep(0.05)  # long enough for a second target's challenge to overlap, were it allowed to
        with self.server.guard:
            reply = self.server.answer(line)
            self.server.busy -= 1
        self.wfile.write(reply + b"\n")


@pytest.fixture
def server(request):
    srv = LineServer(**getattr(request, "param", {}))
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(autouse=True)
def registry(monkeypatch):
    monkeypatch.setattr(cli, "_load_registry",
                        lambda platforms=None, patterns=None: Registry.load(["tests.engine.challenge_plugin"]))
    monkeypatch.setenv(PW_ENV, PASSWORD)


def inventory(tmp_path: Path, endpoint: str, names=("h1",), **extra) -> str:
    account = {"challenge_account": "gxptest", "challenge_password_env": PW_ENV}
    targets = [{"name": n, "type": "linux", "connection": "local", "tls_endpoints": [endpoint],
                **{**account, **extra}} for n in names]
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({"version": 1, "targets": [{k: v for k, v in t.items() if v is not None}
                                                          for t in targets]}))
    return str(path)


def scan(tmp_path, inv, *more, checks="*.challenge.*") -> tuple[int, Path]:
    out = tmp_path / "out"
    code = cli.main(["scan", "-i", inv, "-c", checks, "-o", str(out), "--no-history", *more])
    return code, out


def record(out: Path) -> dict:
    assert cli.main(["report", str(out), "--format", "json", "-o", str(out / "r")]) in (EXIT_OK, EXIT_FAILURES)
    return json.loads((out / "r" / "report.json").read_text())


def test_without_challenge_nothing_acts(tmp_path, server, capsys):
    code, _ = scan(tmp_path, inventory(tmp_path, server.endpoint))
    assert code == EXIT_INPUT and "no check matches the selection" in capsys.readouterr().err
    assert server.lines == []


@pytest.mark.parametrize("server, status, code", [
    ({"hello": b"REFUSED"}, "pass", EXIT_OK),
    ({"hello": b"WELCOME"}, "fail", EXIT_FAILURES),
], indirect=["server"])
def test_a_safe_challenge_is_recorded_with_its_steps(tmp_path, server, status, code):
    rc, out = scan(tmp_path, inventory(tmp_path, server.endpoint), "--challenge", "safe",
                   "--format", "json", "--format", "junit", "--format", "oq")
    assert rc == code and server.lines == ["HELLO weak"]  # the intrusive one was not run
    doc = json.loads((out / "report.json").read_text())
    schema = json.loads((Path(cli.__file__).parent / "schemas" / "result.schema.json").read_text())
    jsonschema.validate(doc, schema)
    [f] = doc["findings"]
    assert (f["check"], f["status"], f["kind"], f["impact"]) == ("linux.challenge.test_hello_refused", status,
                                                                 "challenge", "safe")
    [step] = f["steps"]
    assert (step["action"], step["expected"], step["ok"], step["sent"]) == (
        f"send a weak hello to {server.endpoint}", "the server answers REFUSED", status == "pass", "HELLO weak")
    assert result_from_dict(f).steps[0].ok is (status == "pass")
    assert result_to_dict(result_from_dict(f)) == f
    oq = (out / "oq-evidence.html").read_text()
    assert 'class="challenge-steps"' in oq and f"send a weak hello to {server.endpoint}" in oq
    assert "challenge steps (safe):" in (out / "report.junit.xml").read_text()


@pytest.mark.parametrize("server, status, message", [
    ({}, "pass", "locked"),
    ({"lockout": False}, "fail", "not locked: WELCOME"),
    ({"unlock": False}, "error", "clean-up failed, restore by hand: unlock gxptest on the test server"),
], indirect=["server"])
def test_an_intrusive_challenge_acts_on_the_test_account_only_and_restores_it(tmp_path, server, status, message):
    rc, out = scan(tmp_path, inventory(tmp_path, server.endpoint), "--challenge", "intrusive", "--format", "json")
    doc = json.loads((out / "report.json").read_text())
    lock = [f for f in doc["findings"] if f["check"] == "linux.challenge.test_lockout"][0]
    assert lock["status"] == status and lock["message"].startswith(message)
    assert [s["cleanup"] for s in lock["steps"]] == [False, False, False, True]
    assert {line.split(" ")[1] for line in server.lines if not line.startswith("HELLO")} == {"gxptest"}
    assert sum(line.endswith(" wrong") for line in server.lines) == 2  # never more than the threshold
    everything = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert PASSWORD not in everything and "LOGON gxptest ***" in everything


@pytest.mark.parametrize("extra, says", [
    ({"challenge_account": None}, "targets[h1].challenge_account: required"),
    ({"challenge_account": "scanner", "user": "scanner"}, "targets[h1].challenge_account: scanner is the account"),
    ({"challenge_password_env": "GXP_TEST_CHALLENGE_UNSET"}, "environment variable GXP_TEST_CHALLENGE_UNSET is not"),
])
def test_intrusive_without_a_usable_test_account_is_refused_before_any_contact(tmp_path, server, capsys, extra, says):
    rc, out = scan(tmp_path, inventory(tmp_path, server.endpoint, **extra), "--challenge", "intrusive")
    assert rc == EXIT_INPUT and says in capsys.readouterr().err
    assert server.lines == [] and not out.exists()


def test_intrusive_on_remote_workers_is_refused(tmp_path, server, capsys):
    rc, _ = scan(tmp_path, inventory(tmp_path, server.endpoint), "--challenge", "intrusive",
                 "--executor", "tcp://127.0.0.1:1")
    assert rc == EXIT_INPUT and "runs on this machine only" in capsys.readouterr().err and server.lines == []


def test_plan_lists_every_step_and_contacts_nothing(tmp_path, server, capsys):
    rc, out = scan(tmp_path, inventory(tmp_path, server.endpoint), "--challenge", "intrusive", "--plan")
    printed = capsys.readouterr().out
    assert rc == EXIT_OK and server.lines == [] and not out.exists()
    assert f"1. send a weak hello to {server.endpoint} -> expected: the server answers REFUSED" in printed
    assert "4. clean-up: unlock gxptest -> expected: UNLOCKED" in printed
    assert "5 step(s) planned; nothing was contacted" in printed and PASSWORD not in printed


def test_plan_needs_challenge(tmp_path, server, capsys):
    rc, _ = scan(tmp_path, inventory(tmp_path, server.endpoint), "--plan")
    assert rc == EXIT_INPUT and "--plan needs --challenge" in capsys.readouterr().err


def test_one_target_at_a_time_per_test_account(tmp_path, server):
    names = ("h1", "h2", "h3")
    rc, out = scan(tmp_path, inventory(tmp_path, server.endpoint, names=names, host="shared-host"),
                   "--challenge", "intrusive", "-j", "3", checks="linux.challenge.test_lockout")
    assert rc == EXIT_OK and len(server.lines) == 3 * 4
    assert server.most_busy == 1  # the three targets name the same host and account: never concurrent


def test_checks_lists_the_challenges_with_impact_and_platform(capsys):
    assert cli.main(["checks", "--challenges", "--json"]) == EXIT_OK
    listed = {c["id"]: (c["impact"], c["platforms"], c["params"]) for c in json.loads(capsys.readouterr().out)}
    assert listed == {"linux.challenge.test_hello_refused": ("safe", ["linux"], {}),
                      "linux.challenge.test_lockout": ("intrusive", ["linux"], {"lockout_threshold": 2})}
    assert cli.main(["checks", "--challenges", "--platform", "aws"]) == EXIT_OK
    assert "0 challenges" in capsys.readouterr().out

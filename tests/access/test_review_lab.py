"""``gxpscan access-review`` end to end against a real OpenSSH lab host (tests/lab/sshlab.py): review, decide and
sign; add a user and a sudo rule on the host; review again with --previous: the diff shows exactly the new user and
the privilege gained, and the account decided "remove" that is still there is a finding. A second target with a
planted password (password_env) that cannot be reached is an error, and the password is in no output."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from scanner.cli import main
from tests.conftest import lab_unavailable
from tests.lab.sshlab import SSHLab, require_tools

SECRET_ENV, SECRET = "GXP_ACCESS_REVIEW_PW", "Planted-Review-Secret-51f0"
USAGE = {"stale", "never_used"}  # depend on the host's logon records, not on what the test changed


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    reason = require_tools()
    if reason:
        lab_unavailable(reason)
    lab = SSHLab(tmp_path_factory.mktemp("sshlab-review"))
    try:
        lab.add("review", "default")
        lab.wait_ready()
        lab.write_known_hosts()
        yield lab
    finally:
        lab.close()


def add_account(etc: Path, name: str, uid: int) -> None:
    for file, line in (("passwd", f"{name}:x:{uid}:{uid}:{name}:/home/{name}:/bin/bash"),
                       ("shadow", f"{name}:$6$salt$hash:20000:0:99999:7:::"), ("group", f"{name}:x:{uid}:"),
                       ("gshadow", f"{name}:!::")):
        with open(etc / file, "a") as fh:
            fh.write(line + "\n")


def fill(csv_text: str, decide) -> str:
    got = list(csv.reader(io.StringIO(csv_text, newline="")))
    header = got[0]
    for row in got[1:]:
        row[header.index("decision")], row[header.index("comment")] = decide(row[header.index("account")])
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(got)
    return out.getvalue()


def outputs(*dirs: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for d in dirs for p in sorted(d.iterdir()))


def test_review_decide_change_the_host_review_again(lab, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET)
    etc = lab.profile("default") / "etc"
    add_account(etc, "analyst", 3001)
    host = lab.hosts["review"]
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"version": 1, "targets": [
        {"name": "review", "type": "linux", "connection": "ssh", "host": host.address, "user": "gxpscan",
         "key_file": str(lab.user_key), "known_hosts": str(lab.known_hosts), "become": "sudo",
         "connect_timeout": 5, "policy": {"stale_account_days": 30}},
        {"name": "gone", "type": "linux", "connection": "ssh", "host": lab.unreachable(), "user": "gxpscan",
         "password_env": SECRET_ENV, "known_hosts": str(lab.known_hosts), "connect_timeout": 2}]}))
    r1, r2 = tmp_path / "review1", tmp_path / "review2"
    assert main(["keygen", str(tmp_path / "qa")]) == 0

    assert main(["access-review", str(inventory), "-o", str(r1)]) == 3  # "gone" is an error: fail closed
    out1 = capsys.readouterr()
    assert "  ERROR gone: " in out1.out
    doc1 = json.loads((r1 / "access-review.json").read_text())
    names1 = {a["name"]: a for s in doc1["systems"] if s["system"] == "review" for a in s["accounts"]}
    assert {"root", "gxpscan", "analyst", "games"} <= set(names1) and "newbie" not in names1
    assert names1["analyst"]["privileged"] is False and names1["gxpscan"]["privileged"] is True
    assert doc1["stale_account_days"] == {"review": 30, "gone": 90}
    assert main(["verify", str(r1)]) == 0

    decisions = tmp_path / "decisions.csv"
    decisions.write_text(fill((r1 / "access-review.csv").read_bytes().decode(),
                              lambda name: ("remove", "no games on a GxP server, CHG-1") if name == "games"
                              else ("keep", "")), newline="")
    assert main(["access-review", "decide", str(r1), "--decisions", str(decisions), "--name", "Quinn Reviewer",
                 "--meaning", "Access reviewed; decisions approved", "--key", str(tmp_path / "qa")]) == 0
    decided = json.loads((r1 / "access-review.json").read_text())
    assert {d["name"]: d["decision"] for d in decided["decisions"]}["games"] == "remove"
    assert len(decided["decisions"]) == len(names1)
    capsys.readouterr()

    add_account(etc, "newbie", 3002)
    rule = etc / "sudoers.d" / "analyst"
    rule.write_text("analyst ALL=(ALL) ALL\n")
    rule.chmod(0o440)
    assert main(["access-review", str(inventory), "-o", str(r2), "--previous", str(r1)]) == 1  # games still there
    out2 = capsys.readouterr()
    doc2 = json.loads((r2 / "access-review.json").read_text())
    assert [(c["kind"], c["name"]) for c in doc2["findings"]] == [("still_present", "games")]
    assert out2.out.splitlines()[1].startswith("  FINDING decided remove, still present: review/games ")
    changed = sorted((c["kind"], c["name"]) for c in doc2["changes"] if c["kind"] not in USAGE
                     and c["system"] == "review")
    assert changed == [("new", "newbie"), ("privilege_gained", "analyst")]
    gained = next(c for c in doc2["changes"] if c["kind"] == "privilege_gained")
    assert "analyst ALL=(ALL) ALL" in gained["detail"]
    assert main(["verify", str(r2)]) == 0
    rest = capsys.readouterr()
    for text in (outputs(r1, r2), out1.out, out1.err, out2.out, out2.err, rest.out, rest.err):
        assert SECRET not in text

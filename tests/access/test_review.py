"""The access review on factories: the diff, the decisions, the outputs (JSON schema, CSV, HTML) and the CLI
(from a sealed run written with factories: nothing connects here; tests/access/test_review_lab.py collects from a
real SSH host)."""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from reports import access_csv, access_html
from reports.text import for_document
from scanner.access.decisions import DecisionError, RawDecision, parse_yaml, validate
from scanner.access.model import AccountType
from scanner.access.review import (
    AccountDecision,
    ChangeKind,
    Decision,
    Review,
    build_review,
    compare,
    exit_status,
    review_from_dict,
    review_to_dict,
    usage_changes,
)
from scanner.cli import main
from scanner.inventory import schema
from scanner.runner import TargetOutcome
from scanner.seal import seal_run
from scanner.store import RecordWriter
from tests.access.factories import AT, make_account, make_grant, make_system
from tests.factories import make_run_info, make_target

HOSTILE = ['=HYPERLINK("http://x","y")', "+SUM(1)", "-2+3", "@cmd", 'quo"te', "com,ma", "new\nline", "\tTAB",
           "'apostrophe", "esc\x1b[0m"]


def make_review(*systems, **overrides) -> Review:
    values = dict(review_id="R1", created=AT, tool_version="0.1.0", operator="qa@host", operator_name="Q. A.",
                  inventory="inv.yaml", inventory_sha256="1" * 64, source="collected from the targets",
                  stale_days={s.system: 90 for s in systems}, systems=systems)
    values.update(overrides)
    return Review(**values)


def kinds(changes) -> list[tuple[str, str, str]]:
    return sorted((c.kind.name, c.name, c.detail) for c in changes)


# --- the diff -----------------------------------------------------------------------------------------------------

ALICE = make_account("alice", id="uid:1001")
SUDO = make_grant("sudo", "sudo rule 'alice ALL=(ALL) ALL' (/etc/sudoers:3)")


@pytest.mark.parametrize("old, new, expected", [
    ([ALICE], [ALICE], []),
    ([], [ALICE], [("NEW", "alice", "person, enabled yes")]),
    ([ALICE], [], [("REMOVED", "alice", "person, enabled yes (was)")]),
    ([ALICE], [replace(ALICE, grants=(SUDO,))],
     [("PRIVILEGE_GAINED", "alice", "sudo: sudo rule 'alice ALL=(ALL) ALL' (/etc/sudoers:3)")]),
    ([replace(ALICE, grants=(SUDO, make_grant("uid 0", "uid 0")))], [replace(ALICE, grants=(SUDO,))],
     [("PRIVILEGE_LOST", "alice", "uid 0: uid 0 (was)")]),
    ([ALICE], [replace(ALICE, enabled=False)], [("DISABLED", "alice", "enabled: yes -> no")]),
    ([replace(ALICE, enabled=None)], [ALICE], [("ENABLED", "alice", "enabled: unknown -> yes")]),
    ([ALICE], [replace(ALICE, type=AccountType.SHARED, type_reason="policy shared_account_patterns")],
     [("TYPE_CHANGED", "alice", "person -> shared (policy shared_account_patterns)")]),
    ([ALICE], [replace(ALICE, name="alice2")], [("RENAMED", "alice2", "renamed from 'alice'")]),
    # the id is the identity: the same name with another id is one account removed and one added
    ([ALICE], [replace(ALICE, id="uid:1002")],
     [("NEW", "alice", "person, enabled yes"), ("REMOVED", "alice", "person, enabled yes (was)")]),
])
def test_compare_shows_exactly_what_changed_on_each_account(old, new, expected):
    assert kinds(compare([make_system(*old)], [make_system(*new)])) == sorted(expected)


def test_a_system_whose_list_is_an_error_is_not_compared_and_no_account_reads_as_removed():
    now = make_system(error="linux.passwd: permission denied")
    got = compare([make_system(ALICE)], [now])
    assert kinds(got) == [("NOT_COMPARED", "", "the access list is an error now: linux.passwd: permission denied")]


def test_a_system_not_in_the_previous_review_has_every_account_new_and_a_dropped_one_is_named():
    got = compare([make_system(ALICE, system="old")], [make_system(ALICE, system="h2")])
    assert kinds(got) == [("NEW", "alice", "person, enabled yes (the system was not in the previous review)"),
                          ("NOT_COMPARED", "", "in the previous review, not in this one")]


@pytest.mark.parametrize("account, expected", [
    (make_account("a", last_logon=AT - timedelta(days=91), last_logon_known=True),
     [("STALE", "a", f"last logon {(AT - timedelta(days=91)).isoformat()}, 91 days ago (policy "
                     "stale_account_days: 90)")]),
    (make_account("a", last_logon=AT - timedelta(days=90), last_logon_known=True), []),
    (make_account("a", last_logon_known=True), [("NEVER_USED", "a", "enabled, never logged on")]),
    (make_account("a", last_logon_known=True, enabled=False), []),  # disabled: not a risk of use
    (make_account("a", last_logon_known=True, enabled=None), [("NEVER_USED", "a", "enabled, never logged on")]),
    (make_account("a", last_logon_known=True, locked=True, type=AccountType.SERVICE), []),
    (make_account("a", last_logon_known=True, locked=True, type=AccountType.BUILTIN), []),
    (make_account("a", last_logon_known=True, locked=None, type=AccountType.BUILTIN),
     [("NEVER_USED", "a", "enabled, never logged on")]),
    (make_account("a", last_logon_known=True, locked=True), [("NEVER_USED", "a", "enabled, never logged on")]),
    (make_account("a"), []),  # last logon unknown: the extractor's note says so
])
def test_usage_against_the_systems_policy(account, expected):
    assert kinds(usage_changes([make_system(account)], {"host1": 90}, AT)) == expected


def test_stale_days_are_per_system():
    a = make_account("a", last_logon=AT - timedelta(days=40), last_logon_known=True)
    assert [c.kind for c in usage_changes([make_system(a)], {"host1": 30}, AT)] == [ChangeKind.STALE]
    assert usage_changes([make_system(a)], {"host1": 60}, AT) == []


def test_a_remove_decision_still_present_is_a_finding_listed_first_and_the_exit_status_says_so():
    bob = make_account("bob", id="uid:1002")
    previous = make_review(make_system(ALICE, bob), decisions=(
        AccountDecision("host1", "uid:1002", "bob", Decision.REMOVE, "left, HR-1", "d.csv:3"),
        AccountDecision("host1", "uid:1001", "alice", Decision.KEEP, "", "d.csv:2")))
    current = make_review(make_system(ALICE, bob, make_account("carol", id="uid:1003")))
    got = build_review(current, previous, None, AT)
    assert [(c.kind, c.name) for c in got.changes] == [(ChangeKind.STILL_PRESENT, "bob"), (ChangeKind.NEW, "carol")]
    assert got.findings[0].detail == "decided remove in the previous review (left, HR-1); still present, enabled yes"
    assert exit_status(got) == "findings"
    gone = build_review(make_review(make_system(ALICE)), previous, None, AT)
    assert [c.kind for c in gone.changes] == [ChangeKind.REMOVED] and exit_status(gone) == "ok"


def test_an_error_or_missing_list_fails_closed():
    assert exit_status(make_review(make_system(error="x"))) == "errors"
    assert exit_status(make_review(make_system(ALICE), missing=("h2: no list",))) == "errors"
    assert exit_status(make_review(make_system(ALICE))) == "ok"


# --- JSON ---------------------------------------------------------------------------------------------------------

def full_review() -> Review:
    bob = make_account("bob", id="uid:1002", grants=(SUDO,), mfa=False, last_logon=AT - timedelta(days=200),
                       last_logon_known=True, password_changed=AT - timedelta(days=10))
    previous = make_review(make_system(ALICE, bob), decisions=(
        AccountDecision("host1", "uid:1002", "bob", Decision.REMOVE, "left", "d.csv:3"),))
    base = make_review(make_system(ALICE, bob), make_system(system="h2", error="down"), missing=("h3: none",),
                       notes=("n",))
    review = build_review(base, previous, None, AT)
    return replace(review, decisions=(AccountDecision("host1", "uid:1001", "alice", Decision.KEEP, "", "f:2"),))


def test_the_json_form_validates_against_the_published_schema_and_reads_back_equal():
    review = full_review()
    doc = json.loads(json.dumps(review_to_dict(review)))
    jsonschema.validate(doc, schema("access-review"))
    assert review_from_dict(doc) == review
    assert doc["summary"] == {"systems": 2, "systems_error": 2, "accounts": 2, "privileged": 1, "findings": 1,
                              "changes": 2, "decisions": 1}  # bob stale, h2 not compared


@pytest.mark.parametrize("path, value, message", [
    ("format", "x", "review.format: not gxpscan-access-review/1"),
    ("decisions", [{"system": "h", "id": "i", "name": "n", "decision": "delete", "comment": "", "source": "s"}],
     "review.decisions[0].decision: 'delete' is not one of ['keep', 'remove', 'change']"),
    ("systems", [{"system": 1}], "review.systems[0].collected_at: missing"),
])
def test_a_review_file_that_is_not_what_gxpscan_writes_is_refused_with_its_path(path, value, message):
    doc = review_to_dict(full_review())
    doc[path] = value
    with pytest.raises(ValueError, match=re.escape(message)):
        review_from_dict(doc)


# --- CSV and HTML -------------------------------------------------------------------------------------------------

def hostile_review() -> Review:
    accounts = [make_account(n, '=sys"1', id=f"id-{i}\x07", groups=(n, "g,2"), grants=(make_grant("sudo", n),))
                for i, n in enumerate(HOSTILE)]
    return make_review(make_system(*accounts, system='=sys"1'))


def test_csv_neutralises_formulas_and_reads_back_to_the_same_values():
    review = hostile_review()
    out = io.StringIO()
    access_csv.render(review, out)
    text = out.getvalue()
    got = list(csv.reader(io.StringIO(text, newline="")))
    assert got[0] == list(access_csv.ROW_COLUMNS)
    assert len(got) == len(HOSTILE) + 1
    for row, name in zip(got[1:], HOSTILE, strict=True):
        for cell in row:  # nothing a spreadsheet runs
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert access_csv.unsheet(row[2]) == for_document(name)  # a control shows escaped: "esc\\x1b[0m"
        assert access_csv.unsheet(row[0]) == '=sys"1'
        assert row[12] == f"{access_csv.sheet_cell(name + '; g,2')}"
    assert "'=HYPERLINK(" in text and "'+SUM(1)" in text and "'-2+3" in text and "'@cmd" in text
    assert "''apostrophe" in text


def test_html_escapes_every_value():
    review = hostile_review()
    review = replace(review, systems=(replace(review.systems[0], accounts=review.systems[0].accounts + (
        make_account("<script>alert(1)</script>", id="x\x1b[31m"),)),))
    for page in (access_html.review_html(review), access_html.record_html(review)):
        assert "<script>" not in page and "\x1b" not in page
    page = access_html.review_html(review)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "x\\x1b[31m" in page
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;)" in page or "=HYPERLINK(&quot;http://x&quot;" in page


def test_the_record_names_the_clauses_as_data_with_their_procedural_part():
    from scanner import frameworks
    from scanner.access.clauses import review_clauses

    clauses = review_clauses(frameworks.load_catalogs())
    assert [(c.framework, c.clause) for c in clauses] == [
        ("part11", "11.10(d)"), ("part11", "11.10(g)"), ("annex11", "12.1"), ("annex11", "12.3"),
        ("iso27001-2022", "5.15"), ("iso27001-2022", "5.16"), ("iso27001-2022", "5.18"), ("iso27001-2022", "8.2")]
    page = access_html.record_html(make_review(make_system(ALICE), clauses=clauses))
    assert "Limiting system access to authorized individuals" in page and "Privileged access rights" in page
    assert page.count("<td>procedural</td>") == 2 and page.count("<td>partial</td>") == 6
    with pytest.raises(ValueError, match=r"clause 99 is not in framework catalog part11"):
        review_clauses(frameworks.load_catalogs(), "- {framework: part11, clause: '99', evidence: partial, "
                                                   "shows: x, procedural: y}")


# --- decisions ----------------------------------------------------------------------------------------------------

def csv_of(review: Review, fill) -> str:
    out = io.StringIO()
    access_csv.render(review, out)
    got = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    for i, row in enumerate(got[1:]):
        row[14], row[15] = fill(i, row)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(got)
    return buf.getvalue()


def test_decisions_round_trip_through_the_csv_with_hostile_names():
    review = hostile_review()
    text = csv_of(review, lambda i, _r: ("remove", f"gone {i}") if i % 2 else ("keep", ""))
    got = validate(review, access_csv.read_decisions(text, "d.csv"), for_document)
    assert [(d.name, d.decision.value, d.comment) for d in got] == [
        (n, "remove" if i % 2 else "keep", f"gone {i}" if i % 2 else "") for i, n in enumerate(HOSTILE)]
    # "new\nline" is in three cells of its row (account, why, groups): the row after it starts three lines later
    assert [d.source for d in got][:8] == ["d.csv:2", "d.csv:3", "d.csv:4", "d.csv:5", "d.csv:6", "d.csv:7",
                                           "d.csv:8", "d.csv:12"]


def test_csv_decisions_with_faults_name_every_one_by_file_and_line():
    review = make_review(make_system(ALICE, make_account("bob", id="uid:1002"), make_account("eve", id="u3"),
                                     make_account("dan", id="u4")))
    text = csv_of(review, lambda i, _r: [("keep", ""), ("remove", ""), ("delete", "x"), ("", "")][i])
    text += "host1,linux,mallory,uid:9,person,,,,,,,,,,keep,\r\n"
    with pytest.raises(DecisionError) as exc:
        validate(review, access_csv.read_decisions(text, "d.csv"))
    assert exc.value.problems == (
        "d.csv:3: decision remove for 'bob' needs a comment (why, and the ticket or request)",
        "d.csv:4: unknown decision 'delete' for 'eve': write keep, remove or change",
        "d.csv:6: unknown account: no account with id 'uid:9' on system 'host1' in review R1",
        "1 account(s) of the review have no decision: host1/dan (u4)")


def test_a_row_moved_to_another_account_or_given_twice_is_refused():
    review = make_review(make_system(ALICE, make_account("bob", id="uid:1002")))
    raw = [RawDecision("f:2", "host1", "uid:1001", "bob", "keep", ""),
           RawDecision("f:3", "host1", "uid:1002", "bob", "keep", ""),
           RawDecision("f:4", "host1", "uid:1002", None, "change", "drop sudo")]
    with pytest.raises(DecisionError) as exc:
        validate(review, raw)
    assert exc.value.problems[:2] == (
        "f:2: the account with id 'uid:1001' on 'host1' is 'alice', not 'bob' (a row edited or moved?)",
        "f:4: a second decision for 'bob' on 'host1' (first at f:3)")


def test_yaml_decisions_with_lines():
    review = make_review(make_system(ALICE, make_account("bob", id="uid:1002")))
    text = ("- {system: host1, id: 'uid:1001', account: alice, decision: keep}\n"
            "- system: host1\n  id: 'uid:1002'\n  decision: change\n  comment: drop sudo, CHG-7\n")
    got = validate(review, parse_yaml(text, "d.yaml"))
    assert [(d.name, d.decision, d.comment, d.source) for d in got] == [
        ("alice", Decision.KEEP, "", "d.yaml:1"), ("bob", Decision.CHANGE, "drop sudo, CHG-7", "d.yaml:2")]
    with pytest.raises(DecisionError) as exc:
        parse_yaml("- {system: h, id: i, decision: keep, colour: red}\n- [1]\n", "d.yaml")
    assert exc.value.problems == ("d.yaml:1: unknown key 'colour'",
                                  "d.yaml:2: not a mapping (system, id, account, decision, comment)")


# --- the CLI on a sealed run made of factories -------------------------------------------------------------------

SECRET = "Planted-Secret-7c1e9"


def sealed_run(path: Path, *systems, missing: tuple[str, ...] = ()) -> Path:
    w = RecordWriter(path / "record.jsonl", make_run_info(id=f"run-{path.name}"))
    for s in systems:
        w.add(TargetOutcome(make_target(s.system), (), {}, access=s))
    for name in missing:
        w.add(TargetOutcome(make_target(name), (), {}))
    w.close()
    seal_run(path)
    return path


@pytest.fixture
def key(tmp_path):
    assert main(["keygen", str(tmp_path / "k")]) == 0
    return tmp_path / "k"


def decide(review_dir: Path, key: Path, fill, tmp_path: Path, *extra: str) -> int:
    review = review_from_dict(json.loads((review_dir / "access-review.json").read_text()))
    (tmp_path / "filled.csv").write_text(csv_of(review, fill), newline="")
    return main(["access-review", "decide", str(review_dir), "--decisions", str(tmp_path / "filled.csv"),
                 "--name", "Quinn Reviewer", "--meaning", "Access reviewed; decisions approved", "--key", str(key),
                 *extra])


def test_review_from_a_run_decide_sign_then_the_next_review_shows_changes_and_a_remove_still_present(
        tmp_path, key, capsys, monkeypatch):
    monkeypatch.setenv("GXP_PW", SECRET)
    bob = make_account("bob", id="uid:1002")
    run1 = sealed_run(tmp_path / "run1", make_system(ALICE, bob))
    r1 = tmp_path / "review1"
    assert main(["access-review", "--from-run", str(run1), "-o", str(r1)]) == 0
    assert main(["verify", str(r1)]) == 0
    assert (r1 / "access-review-record.pdf").read_bytes().startswith(b"%PDF-")
    assert sorted(p.name for p in r1.iterdir()) == [
        "access-review-record.html", "access-review-record.pdf", "access-review.csv", "access-review.html",
        "access-review.json", "manifest-001.json", "record.jsonl"]
    # not approved yet: refused as a previous review
    run2 = sealed_run(tmp_path / "run2", make_system(replace(ALICE, grants=(SUDO,)), bob,
                                                     make_account("carol", id="uid:1003")))
    capsys.readouterr()
    assert main(["access-review", "--from-run", str(run2), "-o", str(tmp_path / "no"), "--previous", str(r1)]) == 2
    assert "has no decisions recorded; it is not an approved review" in capsys.readouterr().err
    assert decide(r1, key, lambda i, _r: [("keep", ""), ("remove", "left the company, HR-42")][i], tmp_path) == 0
    out = capsys.readouterr().out
    assert "signed: " in out and "reviewer 'Quinn Reviewer'" in out and "2 decision(s) recorded" in out
    assert main(["verify", str(r1)]) == 0
    verify_out = capsys.readouterr().out
    assert "signature signature-001.dsse.json: reviewer 'Quinn Reviewer'" in verify_out
    decided = json.loads((r1 / "access-review.json").read_text())
    assert [(d["name"], d["decision"], d["comment"], d["source"]) for d in decided["decisions"]] == [
        ("alice", "keep", "", "filled.csv:2"), ("bob", "remove", "left the company, HR-42", "filled.csv:3")]
    assert (r1 / "decisions-input.csv").read_bytes() == (tmp_path / "filled.csv").read_bytes()
    # a second decision on the same review is refused
    assert decide(r1, key, lambda i, _r: ("keep", ""), tmp_path) == 2
    capsys.readouterr()
    r2 = tmp_path / "review2"
    assert main(["access-review", "--from-run", str(run2), "-o", str(r2), "--previous", str(r1)]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[1] == ("  FINDING decided remove, still present: host1/bob (uid:1002): decided remove in the "
                        "previous review (left the company, HR-42); still present, enabled yes")
    assert "  new account: host1/carol (uid:1003): person, enabled yes" in lines
    assert ("  privilege gained: host1/alice (uid:1001): sudo: sudo rule 'alice ALL=(ALL) ALL' (/etc/sudoers:3)"
            in lines)
    doc = json.loads((r2 / "access-review.json").read_text())
    jsonschema.validate(doc, schema("access-review"))
    assert doc["previous"]["review_id"] == decided["review_id"]
    assert doc["previous"]["signatures"][0].startswith("reviewer Quinn Reviewer, ")
    assert [c["kind"] for c in doc["findings"]] == ["still_present"]
    assert sorted((c["kind"], c["name"]) for c in doc["changes"]) == [("new", "carol"), ("privilege_gained", "alice")]
    for f in [*r1.iterdir(), *r2.iterdir()]:
        assert SECRET not in f.read_text(errors="replace")


def test_a_target_without_a_list_or_with_an_error_list_fails_closed(tmp_path, capsys):
    run = sealed_run(tmp_path / "run", make_system(ALICE), make_system(system="h2", error="linux.passwd: denied"),
                     missing=("h3",))
    out = tmp_path / "review"
    assert main(["access-review", "--from-run", str(run), "-o", str(out)]) == 3
    text = capsys.readouterr().out
    assert "  ERROR h2: linux.passwd: denied" in text
    assert "  ERROR h3: the run holds no access list for it (scanned without its account facts)" in text
    doc = json.loads((out / "access-review.json").read_text())
    assert doc["summary"]["systems_error"] == 2
    page = (out / "access-review.html").read_text()
    assert "h3: the run holds no access list" in page and "h2: linux.passwd: denied" in page
    assert main(["access-review", "--from-run", str(run), "-o", str(out)]) == 2  # a review directory is new
    assert "exists and is not an empty directory; a review directory is new" in capsys.readouterr().err


def test_a_run_that_is_not_intact_is_refused(tmp_path, capsys):
    run = sealed_run(tmp_path / "run", make_system(ALICE))
    (run / "record.jsonl").write_text((run / "record.jsonl").read_text().replace("alice", "alicf"))
    assert main(["access-review", "--from-run", str(run), "-o", str(tmp_path / "r")]) == 6
    assert "the run is NOT INTACT" in capsys.readouterr().err


def test_a_tampered_review_is_refused_for_decisions(tmp_path, key, capsys):
    run = sealed_run(tmp_path / "run", make_system(ALICE))
    r = tmp_path / "r"
    assert main(["access-review", "--from-run", str(run), "-o", str(r)]) == 0
    (r / "access-review.json").write_text((r / "access-review.json").read_text().replace("alice", "mallory"))
    assert decide(r, key, lambda i, _r: ("keep", ""), tmp_path) == 6


def test_the_console_escapes_hostile_names(tmp_path, capsys):
    evil = make_account("evil\x1b[2J\u202e", id="u\x07", last_logon_known=True)
    run = sealed_run(tmp_path / "run", make_system(evil))
    assert main(["access-review", "--from-run", str(run), "-o", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "  never used: host1/evil\\x1b[2J\\u202e (u\\x07): enabled, never logged on" in out


def test_an_unsealed_run_is_read_with_a_note_and_a_pinned_key_refuses_it(tmp_path, capsys):
    run = tmp_path / "run"
    w = RecordWriter(run / "record.jsonl", make_run_info())
    w.add(TargetOutcome(make_target("host1"), (), {}, access=make_system(ALICE)))
    w.close()
    assert main(["access-review", "--from-run", str(run), "-o", str(tmp_path / "r")]) == 0
    doc = json.loads((tmp_path / "r" / "access-review.json").read_text())
    assert doc["notes"][0] == f"the run {run} is not sealed: its integrity is not proven"
    assert "NOT sealed" in doc["source"]
    assert main(["keygen", str(tmp_path / "k")]) == 0
    assert main(["access-review", "--from-run", str(run), "-o", str(tmp_path / "r2"),
                 "--pubkey", str(tmp_path / "k.pub")]) == 2


def test_yaml_decisions_through_the_cli_and_a_faulty_file_records_nothing(tmp_path, key, capsys):
    run = sealed_run(tmp_path / "run", make_system(ALICE, make_account("bob", id="uid:1002")))
    r = tmp_path / "r"
    assert main(["access-review", "--from-run", str(run), "-o", str(r)]) == 0
    before = sorted(p.name for p in r.iterdir())
    bad = tmp_path / "d.yaml"
    bad.write_text("- {system: host1, id: 'uid:1001', decision: keep}\n"
                   "- {system: host1, id: 'uid:1002', decision: remove}\n")
    args = ["access-review", "decide", str(r), "--name", "Q", "--meaning", "Approved", "--key", str(key)]
    capsys.readouterr()
    assert main([*args, "--decisions", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "d.yaml:2: decision remove for 'bob' needs a comment (why, and the ticket or request)" in err
    assert sorted(p.name for p in r.iterdir()) == before
    bad.write_text("- {system: host1, id: 'uid:1001', decision: keep}\n"
                   "- {system: host1, id: 'uid:1002', decision: remove, comment: 'left, HR-9'}\n")
    assert main([*args, "--decisions", str(bad)]) == 0
    assert (r / "decisions-input.yaml").read_text() == bad.read_text()
    assert "signature-001.dsse.json" in {p.name for p in r.iterdir()}
    assert main(["verify", str(r)]) == 0


@pytest.mark.parametrize("argv, message", [
    (["access-review", "inv.yaml"], "give the new review directory: --output DIR"),
    (["access-review", "-o", "x"], "give one INVENTORY to collect from (or --from-run RUN_DIR)"),
    (["access-review", "inv.yaml", "-o", "x", "--decisions", "d.csv"],
     "access-review (collecting) does not take --decisions"),
    (["access-review", "decide", "dir", "--decisions", "d.csv"], "access-review decide needs --name, --meaning, --key"),
    (["access-review", "decide", "dir", "-o", "x"], "access-review decide does not take --output"),
])
def test_usage_errors_are_named(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_schema_is_published(capsys):
    assert main(["schema", "access-review"]) == 0
    assert json.loads(capsys.readouterr().out)["title"] == "gxpscan access review (access-review.json)"


def test_the_schema_names_every_kind_of_change_and_decision():
    defs = schema("access-review")
    assert defs["$defs"]["change"]["properties"]["kind"]["enum"] == [k.name.lower() for k in ChangeKind]
    decision = defs["properties"]["decisions"]["items"]["properties"]["decision"]["enum"]
    assert decision == [d.value for d in Decision]

"""The shortcuts of the iac scan path (issue 10, speed) give exactly what the long way gives: the parser's one-match
lines and labels, evidence JSON written without thawing, each file read once, directories resolved once."""
from __future__ import annotations

import copy
import gc
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from scanner.collectors import iac
from scanner.collectors.iac import _build, _hcl
from scanner.collectors.iac import _hclparse as hp
from scanner.collectors.iac._values import MAX_DEPTH
from scanner.connectors.iac import FileRefused, IacConnector
from scanner.model import Finding, Location, Platform, ResourceNotes, Status, Target, thaw
from scanner.runner import with_notes
from tests.collectors.iac_repo import scan, verdicts, write
from tests.factories import count_calls

DEEP = "b {\n" * MAX_DEPTH + "a = 1\n" + "}\n" * MAX_DEPTH

#: Lines the one-match path takes, lines it must leave to the token-by-token parse, and errors both must give alike.
SNIPPETS = [
    'a = "x"\n', 'a = ""\n', 'a = "x" # c\n', 'a = "x"\r\n', 'a = "x"   \n\n\n  b = 2\n', "a = 1", "a = 1.5e3\n",
    "a = 1.5.x\n", "a = 12abc\n", "a = 5-3\n", "a = true\n", "a = false\n", "a = null\n", "a = true.x\n",
    "a = for\n", "a = b.c.d\n", "a = b-c.d\n", "a = b - c\n", "a = b.0\n", "a = b[0]\n", "a = b.*.c\n",
    "a = b[*].c\n", "a = f(x)\n", "a = f (x)\n", "a = b . c\n", 'a = "${x}"\n', 'a = "5%"\n', 'a = "$5"\n',
    'a = "\\n"\n', 'a = "x" "y"\n', "a = x ? y : z\n", "a == 1\n", "a = =\n", "a => b\n", "a \r= 1\n",
    "\u00e9t\u00e9 = 1\n", "a = 1\nb = 2 c\n", "x { a = 1 }\n", "x {\n  a = 1 }\n", "x {\n  a = 1\n",
    'x "l1" l2 "l\\n" {\n  a = 1\n}\n', 'x "a" /* c */ "b" {\n}\n', 'x "a"\n"b" {\n}\n', 'x "${a}" {\n}\n',
    'resource "aws_s3_bucket" "b" {\n  bucket = "n"\n\n  # gxpscan:waive x\n  acl = var.acl # c\n'
    '  tags = {\n    a = "b"\n  }\n  rule {\n    s = "Enabled"\n  }\n}\n',
    "a = <<EOT\nx\nEOT\n", DEEP,
    # block headers taken in one match (``_HEADER``), and the lines around them it must leave to the token parse
    'x "a" "b" {  \n  a = 1\n}\n', 'x "a"  {\r\n  a = 1\r\n}\r\n', "x {\n}\n}\n", "x {\n}  y = 1\n", "x {\n} # c\n",
    "x {\n  y {\n  }}\n", "x {\n}\n# c\n// d\ny = 1\n", "x {\n}", 'x "a" {\n', 'x "a" {\n  a = 1\n  ', "x {\n  }\n",
    'x "" {\n}\n', 'x "a"{\n}\n', 'x"a" {\n}\n', "x {\n\n\n  a = 1\n\n}\n\n\ny {\n}\n", "x { # c\n}\n",
    "x {\n  a = 1\n} y {\n}\n", "x {\n  a = [\n  1]\n}\n", "x {\n  y {\n    z {\n    }\n  }\n}\n",
    "b {\n" * (MAX_DEPTH + 1) + "}\n" * (MAX_DEPTH + 1), "x {\n}\n  # c\ny = 1\n", "x {\n}\n\n//c\n", "x {\n} \n \n",
    'a = "x"\nb = "x"\nc = 1\nd = 1\ne = ""\nf = ""\n', "b {\n" * MAX_DEPTH + 'a = "x"\n' + "}\n" * MAX_DEPTH,
    "b {\n" * (MAX_DEPTH - 1) + "a = c.d\n" + "}\n" * (MAX_DEPTH - 1),
    # hostile text: a forged quote, brace or comment inside a label or value, lone CR, NUL, a forged waiver line
    'x "a\\"b" {\n}\n', 'x "a\rb" {\n}\n', 'x "a\x00" {\n}\n', 'x "a#b" "}" {\n}\n', 'a = "x # }"\n',
    'a = "\x00"\n', "x {\r}\r\n", 'x "a" { # }\n}\n', 'a = "x"\r# gxpscan:waive aws.s3.versioning\n',
    'a = "x\n# gxpscan:waive aws.s3.versioning"\n', "x {\n}\x00\n",
]


def parsed(text: str, fast: bool) -> Any:
    try:
        return hp.Parser(text, fast=fast).file()
    except hp.ParseError as exc:
        return ("error", str(exc), exc.line)


@pytest.mark.parametrize("text", SNIPPETS, ids=[f"{i}:{t[:24]!r}" for i, t in enumerate(SNIPPETS)])
def test_the_parsers_one_match_lines_make_the_same_tree_or_error_as_the_token_by_token_parse(text: str) -> None:
    assert parsed(text, fast=True) == parsed(text, fast=False)


def test_the_one_match_path_is_taken_for_the_commonest_lines_and_keeps_the_depth_limit() -> None:
    body = hp.parse('resource "aws_s3_bucket" "b" {\n  bucket = "n"\n  n = 14\n  on = true\n'
                    '  r = aws_kms_key.k.arn\n}\n')
    (block,) = body.blocks
    assert (block.labels, block.start, block.end) == (("aws_s3_bucket", "b"), 1, 6)
    assert [(a.name, a.expr, a.line) for a in block.body.attributes] == [
        ("bucket", hp.Template(("n",)), 2), ("n", hp.Literal("14", number=True), 3), ("on", hp.Literal(True), 4),
        ("r", hp.GetAttr(hp.GetAttr(hp.Variable("aws_kms_key"), "k"), "arn"), 5)]
    assert parsed(DEEP, fast=True) == ("error", f"nested deeper than {MAX_DEPTH} levels", MAX_DEPTH + 1)
    lexed: list[int] = []  # where the parser made a token: not on the one-match line
    parser = hp.Parser('a = "x"\nb = f(x)\n')
    original = parser._lex

    def spy(pos: int) -> hp.Token:
        lexed.append(pos)
        return original(pos)

    parser._lex = spy  # type: ignore[method-assign]
    assert [a.name for a in parser.file().attributes] == ["a", "b"]
    assert lexed[0] == len('a = "x"\n') and min(lexed) == lexed[0] and len(lexed) > 5


@pytest.mark.parametrize("fast", [True, False])
def test_the_token_bound_holds_on_the_one_match_path_too(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hp, "MAX_TOKENS", 50)
    assert parsed("a = 1\n" * 20, fast)[:2] == ("error", "more than 50 tokens in one file")
    assert parsed('resource "a" "b" {\n}\n' * 10, fast)[:2] == ("error", "more than 50 tokens in one file")


def test_evidence_json_is_the_text_thawing_gives(tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "n"\n}\n'
                                'resource "aws_s3_bucket_versioning" "b" {\n  bucket = aws_s3_bucket.b.id\n'
                                '  versioning_configuration {\n    status = var.nope\n  }\n}\n'
                                'resource "aws_kms_key" "k" {\n  enable_key_rotation = true\n}\n'
                                'resource "aws_security_group" "sg" {\n  ingress {\n    from_port = 22\n'
                                '    to_port = 22\n    protocol = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n'})
    target = Target("code", Platform.IAC, {"path": [str(tmp_path)], "root": str(tmp_path)}, {})
    names = [d for d in iac.FACTS if d not in iac.RUNTIME_FACTS]
    facts = iac.collect(IacConnector(target), target, names)
    written = 0
    for name, fact in facts.items():
        if not fact.ok or name == iac.SYSTEM:
            continue
        expected = json.dumps(thaw(fact.value), default=str, sort_keys=True)
        assert iac.to_json(fact.value) == expected
        assert fact.evidence[0].raw == expected[:len(fact.evidence[0].raw)]
        written += 1
    assert written > 10
    notes = facts[iac.NOTES].value
    assert json.loads(iac.to_json(notes))["locations"]["aws_kms_key.k"] == {
        "path": "main.tf", "start_line": 10, "end_line": 12}


def test_evidence_json_gives_a_dataclass_its_own_dict_and_keeps_other_keys_as_text() -> None:
    where = Location("main.tf", 3, 5)
    assert iac._plain(where) is vars(where)  # no copy made in Python: the encoder reads it and sorts its keys
    keyed = MappingProxyType({2: "b", 10: "a"})  # not text: written as their str, sorted as text
    assert iac.to_json({"m": keyed, "w": where}) == (
        '{"m": {"10": "a", "2": "b"}, "w": {"end_line": 5, "path": "main.tf", "start_line": 3}}')
    assert iac.to_json(MappingProxyType({"z": 1, "a": where})) == (
        '{"a": {"end_line": 5, "path": "main.tf", "start_line": 3}, "z": 1}')


def test_the_collectors_working_dataclasses_compile_only_their_init() -> None:
    """Each generated method is compiled at every start; nothing compares or prints these working values."""
    from scanner.collectors.iac import _cfn, _plan
    from scanner.collectors.iac._values import Block

    kinds = [iac.Scan, _build.Built, _cfn.Template, _hcl.Problems, _hcl.HclFile, _hcl.ResourceDecl, _hcl.Module,
             _plan.Configured, Block]
    assert [sorted({"__init__", "__eq__", "__repr__"} & set(vars(k))) for k in kinds] == [["__init__"]] * 9


def test_each_terraform_file_is_read_once_though_depends_on_is_read_from_its_lines(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"a.tf": 'resource "aws_kms_key" "k" {\n  enable_key_rotation = true\n}\n',
                     "b.tf": 'resource "aws_ebs_encryption_by_default" "on" {\n  enabled = true\n}\n'
                             'resource "aws_ebs_volume" "v" {\n  availability_zone = "us-east-1a"\n  size = 8\n'
                             '  depends_on = [aws_ebs_encryption_by_default.on]\n}\n'})
    reads: list[str] = []
    original = IacConnector.read

    def counting(self: IacConnector, path: Path, *, head: bool = False) -> bytes:
        reads.append(Path(path).name)
        return original(self, path, head=head)

    monkeypatch.setattr(IacConnector, "read", counting)
    out = scan(tmp_path, checks=("aws.kms.key_rotation", "aws.ebs.volume_encryption"))
    assert sorted(reads) == ["a.tf", "b.tf"]
    # and the parsed files are let go once the facts are made (the collector's garbage walk does not see them)
    target = Target("code", Platform.IAC, {"path": [str(tmp_path)], "root": str(tmp_path)}, {})
    conn = IacConnector(target)
    facts = iac.collect(conn, target, ["aws.kms_keys", iac.NOTES])
    assert (conn.memo, len(facts["aws.kms_keys"].value.items)) == ({}, 1)
    # the volume waits for encryption by default (read from its lines): encrypted, as AWS would create it
    assert verdicts(out, "aws.ebs.volume_encryption") == {"aws_ebs_volume.v": "pass"}
    assert verdicts(out, "aws.kms.key_rotation") == {"aws_kms_key.k": "pass"}


def test_real_paths_resolved_a_directory_at_a_time_are_the_real_paths(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    write(root, {"d/x.tf": "", "e/y.tf": "", "f.tf": ""})
    outside = write(tmp_path / "outside", {"secret.tf": ""})
    os.symlink(root / "d", root / "linked")  # a symlinked directory inside the root
    os.symlink(root / "d" / "x.tf", root / "e" / "alias.tf")  # a symlinked file inside the root
    os.symlink(outside, root / "away")  # a directory leaving the root
    os.symlink(outside / "secret.tf", root / "leak.tf")  # a file leaving the root
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    for rel in ("d/x.tf", "e/y.tf", "f.tf", "linked/x.tf", "e/alias.tf", "d/../f.tf", "linked/../f.tf", "d/."):
        path = root / rel
        assert conn.confined(path) == Path(os.path.realpath(path)), rel
        assert conn.confined(path) == Path(os.path.realpath(path)), rel  # again, from the directory cache
    for rel in ("away/secret.tf", "leak.tf"):
        with pytest.raises(FileRefused, match="leads outside the root"):
            conn.confined(root / rel)
    resolved: list[str] = []
    realpath = os.path.realpath

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        resolved.append(os.fspath(path))
        return realpath(path, *args, **kwargs)

    monkeypatch.setattr(os.path, "realpath", counting)
    write(root, {"g/1.tf": "", "g/2.tf": "", "g/3.tf": ""})
    assert [conn.confined(root / "g" / n).name for n in ("1.tf", "2.tf", "3.tf")] == ["1.tf", "2.tf", "3.tf"]
    assert resolved == [str(root / "g")]  # the directory once, not each file


def test_the_cyclic_collector_is_paused_while_code_is_read_and_then_as_it_was(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"main.tf": 'resource "aws_kms_key" "k" {\n  enable_key_rotation = true\n}\n'})
    target = Target("code", Platform.IAC, {"path": [str(tmp_path)], "root": str(tmp_path)}, {})
    seen: list[bool] = []
    build = _build.build

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return build(*args, **kwargs)

    monkeypatch.setattr(_build, "build", spy)
    assert gc.isenabled()
    facts = iac.collect(IacConnector(target), target, ["aws.kms_keys"])
    assert (seen, gc.isenabled()) == ([False], True)
    assert facts["aws.kms_keys"].ok
    gc.disable()  # a caller that paused it itself keeps it paused
    try:
        iac.collect(IacConnector(target), target, ["aws.kms_keys"])
        assert (seen, gc.isenabled()) == ([False, False], False)
    finally:
        gc.enable()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(_build, "build", broken)
    with pytest.raises(RuntimeError, match="boom"):
        iac.collect(IacConnector(target), target, ["aws.kms_keys"])
    assert gc.isenabled()


def test_a_finding_placed_at_its_location_is_copied_not_rebuilt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(copy, "copy", None)  # by its fields, not by the generic copy protocol
    finding = Finding(Status.FAIL, "aws_kms_key.k", "rotation off", {"key": {"rotation": False}, "ids": [1, 2]})
    at = Location("main.tf", 3, 5)
    notes = ResourceNotes(MappingProxyType({"aws_kms_key.k": at}), MappingProxyType({}))
    placed = with_notes(finding, notes)
    assert (placed.status, placed.resource, placed.message, placed.location) == (
        Status.FAIL, "aws_kms_key.k", "rotation off", at)
    assert placed.observed is finding.observed  # frozen once, by the check
    assert thaw(placed.observed) == {"key": {"rotation": False}, "ids": [1, 2]}
    assert finding.location is None
    assert with_notes(placed, notes) is placed


def _facts_text(root: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every fact the iac collector makes of ``root`` (value and evidence), with one parse or the other."""
    with monkeypatch.context() as m:
        m.setattr(hp, "parse", lambda text: hp.Parser(text, fast=fast).file())
        target = Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {})
        facts = iac.collect(IacConnector(target), target, iac.FACTS)
    return {name: (fact.error, fact.inapplicable, json.dumps(thaw(fact.value), sort_keys=True, default=str),
                   [(e.source, e.raw, e.sha256) for e in fact.evidence]) for name, fact in facts.items()}


def _benchmark_corpus(root: Path) -> Path:
    from benchmarks import iac as bench  # the generator of the benchmark's corpus

    bench.write_hcl(root, bench.resources(300), 30)
    return root


@pytest.mark.parametrize("corpus", ["fixtures", "benchmark"])
def test_the_one_match_parse_makes_the_same_trees_and_facts_as_the_token_by_token_parse(
        corpus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[1] / "fixtures" / "iac" if corpus == "fixtures" \
        else _benchmark_corpus(tmp_path / "hcl")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".tf", ".tfvars"))
    assert len(files) >= 5
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert parsed(text, fast=True) == parsed(text, fast=False), path
    fast, slow = _facts_text(root, True, monkeypatch), _facts_text(root, False, monkeypatch)
    assert fast == slow
    notes = json.loads(fast[iac.NOTES][2])
    assert len(notes["locations"]) >= (300 if corpus == "benchmark" else 5)
    # the listing of the files scanned (their paths taken from the parsed files) is the connector's
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    listed = iac.scan_code(conn, "us-east-1", "000000000000", "aws").files
    assert listed == [conn.rel(p) for p in conn.files(root)] and len(listed) >= len(files)


def test_the_benchmark_corpus_is_parsed_with_few_token_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting, not timing: on the corpus of ``benchmarks/iac.py`` block headers, closing braces, plain attributes
    and new lines are each one match, so the parser lexes a token only for the rest (lists here, and the end)."""
    root = _benchmark_corpus(tmp_path / "hcl")
    lexed = {True: 0, False: 0}
    original = hp.Parser._lex

    def counting(self: hp.Parser, pos: int) -> hp.Token:
        lexed[self.fast] += 1
        return original(self, pos)

    monkeypatch.setattr(hp.Parser, "_lex", counting)
    files = sorted(root.glob("*.tf"))
    for path in files:
        for fast in (True, False):
            hp.Parser(path.read_text(encoding="utf-8"), fast=fast).file()
    lists = sum(path.read_text(encoding="utf-8").count("[") for path in files)
    assert lexed[True] <= len(files) + 6 * lists
    assert lexed[True] * 15 < lexed[False]


def test_the_benchmark_corpus_is_parsed_with_few_parser_calls_a_line(tmp_path: Path) -> None:
    """Counting, not timing: a plain attribute, a block header and a closing brace are each handled inside the body
    loop (a block opened by a header read by the same loop), so the parser's own methods (the token bound aside) run
    fewer than two times an attribute or block (a call or more a line each, before: near five)."""
    parser_code = {f.__code__ for f in vars(hp.Parser).values() if callable(f) and f is not hp.Parser._count}
    calls, written, _ = _corpus_parsed(tmp_path, lambda code: code in parser_code)
    assert written > 1000 and calls < 2 * written


def _corpus_parsed(tmp_path: Path, counted: Callable[[Any], bool]) -> tuple[int, int, list[hp.Body]]:
    """The benchmark corpus parsed: the calls of the code objects ``counted`` picks, the attributes and blocks
    written, and the bodies."""
    root = _benchmark_corpus(tmp_path / "hcl")
    texts = [path.read_text(encoding="utf-8") for path in sorted(root.glob("*.tf"))]
    calls = [0]

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and counted(frame.f_code):
            calls[0] += 1

    sys.setprofile(profile)
    try:
        bodies = [hp.parse(text) for text in texts]
    finally:
        sys.setprofile(None)

    def nodes(body: hp.Body) -> int:
        return len(body.attributes) + sum(1 + nodes(b.body) for b in body.blocks)

    return calls[0], sum(nodes(body) for body in bodies), bodies


@pytest.mark.parametrize("node", [hp.Template(("x",)), hp.Template(()), hp.Literal(True), hp.Literal(None),
                                  hp.Template(("a", "b")), hp.Literal("7", number=True)])
def test_a_leaf_evaluated_without_the_depth_count_still_stops_at_the_depth_bound(node: hp.Expr) -> None:
    from scanner.collectors.iac import _hcl
    from scanner.collectors.iac._values import Unknown

    scope = _hcl.Scope(_hcl.Module(Path(".")), "", {})
    shallow, deep = _hcl.Eval(scope, depth=MAX_DEPTH - 1), _hcl.Eval(scope, depth=MAX_DEPTH)
    expected = {hp.Template(("x",)): "x", hp.Template(()): "", hp.Literal(True): True, hp.Literal(None): None,
                hp.Template(("a", "b")): "ab", hp.Literal("7", number=True): 7}[node]
    got = shallow.value(node)
    assert (got, type(got)) == (expected, type(expected))
    assert shallow.depth == MAX_DEPTH - 1
    assert deep.value(node) == Unknown(f"nested deeper than {MAX_DEPTH} levels")


def test_equal_leaves_of_one_file_are_one_node() -> None:
    body = hp.parse('a = "x"\nb = "x"\nc = 14\nx {\n  d = 14\n  e = "x"\n  f = "y"\n}\n')
    (a, b, c), inner = body.attributes, body.blocks[0].body.attributes
    assert (a.expr, c.expr) == (hp.Template(("x",)), hp.Literal("14", number=True))
    assert a.expr is b.expr is inner[1].expr and c.expr is inner[0].expr
    assert inner[2].expr == hp.Template(("y",)) and [x.line for x in (a, b, c, *inner)] == [1, 2, 3, 5, 6, 7]


@pytest.mark.parametrize("reported", ["real", "zero", "smaller"])
@pytest.mark.parametrize("length", [0, 99, 100, 101, 250])
def test_a_file_is_read_whole_up_to_the_bound_whatever_size_it_reports(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reported: str, length: int) -> None:
    """The read buffer is the file's size (not ``max_file_bytes``): a file that grew after its size was taken,
    or reports none (st_size 0), is still read whole, and one above the bound is still refused."""
    data = bytes(range(256))[:length]
    path = tmp_path / "main.tf"
    path.write_bytes(data)
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(tmp_path)], "root": str(tmp_path),
                                                     "max_file_bytes": 100}, {}))
    real_fstat = os.fstat

    def fstat(fd: int) -> Any:
        st = real_fstat(fd)
        size = {"real": st.st_size, "zero": 0, "smaller": st.st_size // 3}[reported]
        return os.stat_result((*tuple(st)[:6], size, *tuple(st)[7:]))

    monkeypatch.setattr(os, "fstat", fstat)
    if length > 100:
        with pytest.raises(FileRefused, match="larger than 100 bytes"):
            conn.read(path)
        assert conn.read(path, head=True) == data[:100]
    else:
        assert conn.read(path) == data


def test_a_small_file_is_read_with_a_buffer_of_its_size_not_of_the_bound(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "main.tf").write_text("a = 1\n")
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(tmp_path)], "root": str(tmp_path),
                                                     "max_file_bytes": 256 * 2**20}, {}))
    asked: list[int] = []
    real_read = os.read

    def read(fd: int, n: int) -> bytes:
        asked.append(n)
        return real_read(fd, n)

    monkeypatch.setattr(os, "read", read)
    assert conn.read(tmp_path / "main.tf") == b"a = 1\n"
    assert asked == [7, 1]  # the file's size and one more, then the end of the file


def test_the_benchmark_corpus_is_parsed_with_few_nodes_made_by_a_python_constructor(tmp_path: Path) -> None:
    """Counting, not timing: attributes, blocks and bodies are named tuples made in one C call, and a plain value
    (``true``, ``"Enabled"``, ``aws_s3_bucket.logs.id``) is one node for every line of every file that writes it,
    so node constructors run far fewer times than there are attributes and blocks."""
    hp._leaf.cache_clear()
    parser_init = hp.Parser.__init__.__code__
    made, written, bodies = _corpus_parsed(tmp_path,
                                           lambda code: code.co_name == "__init__" and code is not parser_init)
    assert written > 1000 and 0 < made < written / 2
    assert type(bodies[0]) is hp.Body and isinstance(bodies[0], tuple)


def test_a_trails_log_bucket_is_the_buckets_own_item_made_once(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = _benchmark_corpus(tmp_path / "hcl")
    made = count_calls(monkeypatch, _build.Builder, "_bucket")
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    code = iac.scan_code(conn, "us-east-1", "000000000000", "aws")
    built = _build.build(code.blocks, _build.Where("000000000000", "us-east-1", "aws"))
    buckets = built.facts["aws.s3_buckets"].items
    trails = built.facts["aws.cloudtrail_trails"].items
    assert len(trails) > 0 and made[0] == len(buckets) == sum(b.type == "aws_s3_bucket" for b in code.blocks)
    logs = next(b for b in buckets if b.name == "gxp-bench-trail-logs")
    assert {(t.bucket_policy, t.bucket_public_access_block) for t in trails} == {
        (logs.policy, logs.public_access_block)}


def test_a_files_lines_are_split_only_for_waivers_and_depends_on(tmp_path: Path) -> None:
    write(tmp_path, {"a.tf": 'resource "aws_kms_key" "k" {\n  enable_key_rotation = true\n}\n',
                     "b.tf": 'resource "aws_kms_key" "w" {\n  # gxpscan:waive aws.kms.key_rotation reason=r '
                             'approver=a expires=2099-01-01\n  enable_key_rotation = false\n}\n',
                     "c.tf": 'resource "aws_ebs_volume" "v" {\n  size = 8\n  depends_on = [aws_kms_key.k]\n}\n'})
    target = Target("code", Platform.IAC, {"path": [str(tmp_path)], "root": str(tmp_path)}, {})
    conn = IacConnector(target)
    code = iac.scan_code(conn, "us-east-1", "000000000000", "aws")
    split = {f.rel: "lines" in vars(f) for f in _hcl.parsed_files(conn).values()}
    assert split == {"a.tf": False, "b.tf": True, "c.tf": True}
    by_address = {b.address: b for b in code.blocks}
    assert by_address["aws_ebs_volume.v"].depends_on == ("aws_kms_key.k",)
    assert [w.check for w in by_address["aws_kms_key.w"].waivers] == ["aws.kms.key_rotation"]


def test_only_short_values_are_kept_shared_across_files() -> None:
    hp._leaf.cache_clear()
    long = "x" * (hp._SHARED_TEXT + 1)
    first, second = hp.parse(f'a = "{long}"\nb = "short"\n'), hp.parse(f'a = "{long}"\nb = "short"\n')
    assert first == second and first.attributes[0].expr == hp.Template((long,))
    assert first.attributes[1].expr is second.attributes[1].expr
    assert first.attributes[0].expr is not second.attributes[0].expr
    assert hp._leaf.cache_info().currsize == 1


def test_files_are_listed_and_read_with_one_open_each_and_no_stat_of_their_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting system calls, not timing: a listed file is told from a symlink by its directory entry, and read by
    one ``open`` without following a symlink at its directory's real path (resolved once a directory); only a
    symlink goes the long way, refused as before when it leaves the root."""
    root = tmp_path / "repo"
    write(root, {"a.tf": "a\n", "b.tf": "b\n", "d/c.tf": "c\n", "d/e.tf": "e\n", "d/skip.txt": ""})
    outside = write(tmp_path / "outside", {"secret.tf": "s\n"})
    os.symlink(root / "a.tf", root / "d" / "alias.tf")
    os.symlink(outside / "secret.tf", root / "leak.tf")
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    calls: list[str] = []  # the system calls made, those of os.path.realpath as one "realpath"
    for name in ("stat", "lstat", "open", "fdopen", "realpath"):
        owner = os.path if name == "realpath" else os
        original = getattr(owner, name)

        def counting(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            depth = len(calls)
            try:
                return _original(*args, **kwargs)
            finally:
                del calls[depth:]  # what realpath does inside is its own

        monkeypatch.setattr(owner, name, counting)
    listed = list(conn.files(root))
    assert [conn.rel(p) for p in listed] == ["a.tf", "b.tf", "d/alias.tf", "d/c.tf", "d/e.tf"]
    assert conn.refused == [("leak.tf", f"leads outside the root ({outside / 'secret.tf'}); not followed")]
    # the base's stat (a directory?), then only the two symlinks (told from their directory entries), resolved
    assert calls == ["stat", "lstat", "realpath", "lstat", "realpath"]
    calls.clear()
    assert [conn.read(p) for p in listed] == [b"a\n", b"b\n", b"a\n", b"c\n", b"e\n"]
    # one open a file, the symlink's second at the real path it leads to; each directory resolved once
    assert calls == ["realpath", "open", "open", "realpath", "open", "realpath", "open", "open", "open"]
    with pytest.raises(FileRefused, match=r"^leads outside the root \(.*secret.tf\); not followed$"):
        conn.read(root / "leak.tf")


def test_a_directorys_files_by_suffix_are_those_its_glob_gives_in_the_same_order(tmp_path: Path) -> None:
    root = write(tmp_path / "repo", {"b.tf": "", "a.tf": "", ".hidden.tf": "", "B.tf": "", "x.TF": "", ".tf": "",
                                     "v.auto.tfvars": "", "terraform.tfvars": "", "notes.tf.txt": "",
                                     "dir.tf/inner.tf": ""})
    os.symlink(tmp_path / "elsewhere.tf", root / "link.tf")  # dangling: listed all the same (the read refuses it)
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    for suffix in (".tf", ".auto.tfvars", ".tfvars"):
        assert conn.named(root, suffix) == sorted(root.glob("*" + suffix)), suffix
    assert [p.name for p in conn.named(root, ".tf")] == [".hidden.tf", ".tf", "B.tf", "a.tf", "b.tf", "dir.tf",
                                                         "link.tf"]
    assert conn.named(root / "a.tf", ".tf") == conn.named(root / "missing", ".tf") == []


def test_single_instance_resources_are_evaluated_by_one_evaluator_of_their_module(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting objects, not timing: an evaluator (``Eval``) is made per resource instance only for instances of
    ``count``/``for_each`` (which bind ``count.index``/``each``), not for each of the single-instance resources."""
    code = "".join(f'resource "aws_kms_key" "k{i}" {{\n  enable_key_rotation = true\n  rule {{\n    a = 1\n  }}\n}}\n'
                   for i in range(5))
    code += 'resource "aws_kms_key" "n" {\n  count = 2\n  description = "n${count.index}"\n}\n'
    write(tmp_path, {"main.tf": code})
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(tmp_path)], "root": str(tmp_path)}, {}))
    made = count_calls(monkeypatch, _hcl.Eval, "__init__")
    blocks = _hcl.terraform_blocks(conn, tmp_path, (), "", "us-east-1", _hcl.Problems())
    assert [(b.address, b.attrs) for b in blocks] == [
        *((f"aws_kms_key.k{i}", {"enable_key_rotation": True, "rule": [{"a": 1}]}) for i in range(5)),
        ("aws_kms_key.n[0]", {"description": "n0"}), ("aws_kms_key.n[1]", {"description": "n1"})]
    assert made[0] == 4  # the module's one, the count's, and one for each of the two counted instances


def test_a_read_confines_the_real_path_as_the_long_way_does_whatever_the_path_given(tmp_path: Path) -> None:
    """The one-open read takes a path's directory's real path; a path outside the root that is a symlink leading
    into it is still read, and one leading elsewhere is refused naming where it leads (as ``confined`` does)."""
    root = write(tmp_path / "repo", {"a.tf": "a\n", "m/x.tf": "x\n"})
    outside = write(tmp_path / "outside", {"secret.tf": "s\n"})
    os.symlink(root / "a.tf", outside / "in.tf")
    os.symlink(root / "m", outside / "in")
    conn = IacConnector(Target("code", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    assert [conn.read(p) for p in (outside / "in.tf", outside / "in" / "x.tf", outside / "../repo/a.tf")] == [
        b"a\n", b"x\n", b"a\n"]
    for path, leads in ((outside / "secret.tf", outside / "secret.tf"), (root / "m" / ".." / ".." / "outside" / "x",
                                                                         outside / "x")):
        with pytest.raises(FileRefused) as refused:
            conn.read(path)
        assert str(refused.value) == f"leads outside the root ({leads}); not followed"
        assert str(refused.value) == _refusal(conn, path)


def _refusal(conn: IacConnector, path: Path) -> str:
    try:
        conn.confined(path)
    except FileRefused as exc:
        return str(exc)
    return ""


def test_paths_relative_to_the_root_slash_are_those_pathlib_gives() -> None:
    conn = IacConnector(Target("code", Platform.IAC, {"path": ["/"], "root": "/"}, {}))
    assert [conn.rel(Path(p)) for p in ("/", "/tmp/a.tf", "//tmp/a.tf", "/tmp/../etc")] == [
        ".", "tmp/a.tf", "//tmp/a.tf", "etc"]  # "//" is a root of its own (POSIX): not relative to "/"


@pytest.mark.parametrize(("text", "refused"), [
    ('a = 1\r\n', None),
    ('r "x" "y" {\r\n  a = true # c\r\n}\r\n', None),
    ('a = "x\r"\n', None),
    ('a = "\x1b[2J"\n', None),
    ('b { a = 1\n}\n', None),
    ('a = 1\rb = 2\n', "expected a new line"),  # a bare CR is no line end: no forged second attribute
    ('a\x00 = 1\n', "U+0000"),
    ('a = 1\x00\n', "U+0000"),
    ('a = "x\\"\nb = 1"\n', "new line in a quoted string"),
    ('a = "x" # }\n}\n', "expected an attribute or a block"),
    ('r "s3" "b" {\n  versioning = true\u2028 acl = "public"\n}\n', "U+2028"),
])
def test_hostile_text_reads_the_same_by_the_one_match_lines_and_by_the_tokens(text: str, refused: str | None) -> None:
    """Carriage returns, NUL, escape sequences, a quote that would forge a line, a line separator: the one-match
    path gives the token path's tree, or refuses with its error (split on ``\\n`` only)."""
    got = []
    for fast in (True, False):
        try:
            got.append(hp.Parser(text, fast=fast).file())
        except hp.ParseError as exc:
            got.append(str(exc))
    assert got[0] == got[1]
    if refused is None:
        assert isinstance(got[0], hp.Body) and got[0] != hp.Body((), ())
    else:
        assert isinstance(got[0], str) and refused in got[0]

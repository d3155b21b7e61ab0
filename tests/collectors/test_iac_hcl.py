"""Our HCL parser (scanner/collectors/iac/_hclparse.py) and the static evaluation on it: each construct Terraform
files use parses and evaluates to the value Terraform gives it, or stays unknown (then the check is ``error``,
never ``pass``); malformed and hostile files are an error with their line, bounded in depth and size."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.collectors.iac import _hclparse as hp
from scanner.collectors.iac._hcl import MAX_ITEMS, Failed, Problems, Scope, load_module, root_variables
from scanner.collectors.iac._values import Unknown
from scanner.connectors.iac import IacConnector
from scanner.model import Platform, Target
from tests.collectors.iac_repo import result, scan, verdicts, write

PRELUDE = '''
variable "names" {
  default = ["a", "b", "a"]
}
variable "tags" {
  default = { env = "prod", team = "qa" }
}
variable "unset" {}
locals {
  buckets = [{ name = "x", versioned = true }, { name = "y", versioned = false }]
}
resource "aws_s3_bucket" "many" {
  count  = 2
  bucket = "gxp-${count.index}"
}
'''


def evaluate(root: Path, expr: str) -> Any:
    """The value of ``expr`` as a local of a module holding PRELUDE."""
    write(root, {"main.tf": PRELUDE + "locals {\n  probe = " + expr + "\n}\n"})
    conn = IacConnector(Target("t", Platform.IAC, {"path": [str(root)], "root": str(root)}, {}))
    problems = Problems()
    module = load_module(conn, root, problems)
    assert problems.items == []
    return Scope(module, "", root_variables(conn, module, (), problems)).local("probe")


@pytest.mark.parametrize(("expr", "expected"), [
    # literals, strings, templates, heredocs, comments
    ('1.5e1 + 2', 17.0), ("null", None), ('"a\\tb\\u00e9 $${x} %%{y}"', "a\tb\u00e9 ${x} %{y}"),
    ('"${var.tags.env}-${1 + 1}"', "prod-2"),
    ('<<-EOT\n    {\n      "k": "${var.tags["team"]}"\n    }\n  EOT', '{\n  "k": "qa"\n}\n'),
    ("<<EOT\nraw \\n ${upper(\"x\")}\nEOT", "raw \\n X\n"),
    ("[1, /* two */ 2, # three\n 3, // end\n]", [1, 2, 3]),
    # operators, precedence, conditionals, access
    ("1 + 2 * 3 - 4 / 2 % 3", 5.0), ("!(1 > 2) && 2 >= 2 || false", True), ("-2 * -3", 6),
    ('var.tags.env == "prod" ? "p" : "o"', "p"), ("local.buckets[1].name", "y"), ("local.buckets.0.name", "x"),
    ('{ (var.tags.env) = 1, "k" : 2, plain = 3 }', {"prod": 1, "k": 2, "plain": 3}),
    # for expressions
    ("[for n in var.names : upper(n)]", ["A", "B", "A"]),
    ("[for i, n in var.names : i if n == \"a\"]", [0, 2]),
    ('{for k, v in var.tags : v => k}', {"prod": "env", "qa": "team"}),
    ("{for n in var.names : n => n...}", {"a": ["a", "a"], "b": ["b"]}),
    ("{for b in local.buckets : b.name => b.versioned if b.versioned}", {"x": True}),
    # splats
    ("local.buckets[*].name", ["x", "y"]), ("local.buckets.*.versioned", [True, False]), ("null[*]", []),
    ('var.tags[*].env', ["prod"]), ("aws_s3_bucket.many[*].bucket", ["gxp-0", "gxp-1"]),
    # the common pure functions
    ('merge(var.tags, { team = "it" })', {"env": "prod", "team": "it"}), ("concat(var.names, [\"c\"])",
                                                                           ["a", "b", "a", "c"]),
    ('lookup(var.tags, "nope", "dflt")', "dflt"), ('lookup(var.tags, "env")', "prod"),
    ("try(local.buckets[5].name, var.tags.nope, \"fallback\")", "fallback"),
    ('coalesce("", null, "c")', "c"), ("toset(var.names)", ["a", "b"]), ("tolist(var.names)", ["a", "b", "a"]),
    ("length(var.tags)", 2), ('format("%s-%d-%v%%", "a", 7, true)', "a-7-true%"),
    ('jsonencode({ a = [1, "b"] })', '{"a":[1,"b"]}'), ('lower("AbC")', "abc"), ('upper("AbC")', "ABC"),
    ('contains(var.names, "b")', True), ('contains(var.names, "z")', False), ("element(var.names, 4)", "b"),
    ("concat([[1], [2]]...)", [1, 2]),
])
def test_each_construct_evaluates_to_the_value_terraform_gives_it(tmp_path: Path, expr: str, expected: Any) -> None:
    assert evaluate(tmp_path, expr) == expected


@pytest.mark.parametrize(("expr", "reason"), [
    ("var.unset", "var.unset has no default and no value in a tfvars file"),
    ('"%{ if var.tags.env == "prod" }p%{ endif }"', "template directive is not evaluated statically"),
    ("[for n in var.unset : n]", "var.unset has no default and no value in a tfvars file"),
    ("[for n in var.names : n if n == var.unset]", "var.unset has no default and no value in a tfvars file"),
    ("try(var.unset, \"fallback\")", "var.unset has no default and no value in a tfvars file"),
    ("data.aws_caller_identity.me[*].account_id", "data source aws_caller_identity.me is read at plan time"),
    ("timestamp()", "function timestamp() is not evaluated statically"),
    ('contains(var.unset, "a")', "var.unset has no default and no value in a tfvars file"),
    ('element(aws_s3_bucket.many[*].arn, 1) == "x"', "aws_s3_bucket.many[1]: its id or ARN is known only after apply"),
    ("{for n in var.names : n => 1}", "for expression makes the key 'a' twice"),
    ('contains(aws_s3_bucket.many[*].arn, "arn:aws:s3:::gxp-0")', "contains() of an id or ARN known only after apply"),
    ("length(aws_s3_bucket.many[0].arn)", "length() of an id or ARN known only after apply"),
    ('element([], 0)', "element() failed: IndexError"), ('format("%05d", 1)', "format() failed: ValueError"),
])
def test_what_cannot_be_decided_stays_unknown_with_its_reason(tmp_path: Path, expr: str, reason: str) -> None:
    got = evaluate(tmp_path, expr)
    assert isinstance(got, Unknown) and not isinstance(got, list)
    assert got.reason == reason


def test_a_for_expression_and_a_splat_decide_a_check_and_an_undecidable_value_is_an_error_not_a_pass(
        tmp_path: Path) -> None:
    write(tmp_path, {"main.tf": '''
variable "keys" {
  default = { audit = true, scratch = false }
}
variable "rotate" {}
locals {
  rotation = { for name, on in var.keys : name => on }
  all      = [for k in aws_kms_key.k[*].enable_key_rotation : k]
}
resource "aws_kms_key" "k" {
  for_each            = local.rotation
  enable_key_rotation = each.value
}
resource "aws_kms_key" "all" {
  enable_key_rotation = alltrue(local.all)
}
resource "aws_kms_key" "picked" {
  enable_key_rotation = contains([for k, v in local.rotation : k if v], "audit")
}
resource "aws_kms_key" "undecided" {
  enable_key_rotation = contains([for k in keys(local.rotation) : k], var.rotate)
}
'''})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {
        'aws_kms_key.k["audit"]': "pass", 'aws_kms_key.k["scratch"]': "fail", "aws_kms_key.all": "error",
        "aws_kms_key.picked": "pass", "aws_kms_key.undecided": "error"}
    assert "function alltrue() is not evaluated statically" in result(
        out, "aws.kms.key_rotation", "aws_kms_key.all").message
    assert "function keys() is not evaluated statically" in result(
        out, "aws.kms.key_rotation", "aws_kms_key.undecided").message


def test_try_moves_past_errors_only_an_unknown_first_argument_stays_unknown(tmp_path: Path) -> None:
    assert isinstance(evaluate(tmp_path, "local.buckets[9]"), Failed)
    assert not isinstance(evaluate(tmp_path, "var.unset"), Failed)


def test_blocks_keep_their_line_ranges_through_one_line_blocks_heredocs_and_comments() -> None:
    body = hp.parse('# head\nresource "a" "one" { x = 1 }\n\nresource "a" "two" {\n  policy = <<-EOT\n'
                    '    } not the end {\n    EOT\n  /* }\n  */\n  nested {\n    y = "}"\n  }\n}\n')
    assert [(b.labels, b.start, b.end) for b in body.blocks] == [(("a", "one"), 2, 2), (("a", "two"), 4, 13)]
    assert [(b.kind, b.start, b.end) for b in body.blocks[1].body.blocks] == [("nested", 10, 12)]


@pytest.mark.parametrize(("text", "line", "message"), [
    ('x = "no end\ny = 1\n', 1, "new line in a quoted string"),
    ("a {\n  x = <<EOT\n  never closed\n", 2, "heredoc <<EOT is not closed"),
    ("a {\n  x = 1 /* open\n}\n", 2, "comment /* is not closed"),
    ("a {\n  x = 1\n  y = = 2\n}\n", 3, "expected a value, found '='"),
    ("a {\n  x = 1 y = 2\n}\n", 2, "expected a new line, found a name"),
    ('a "b" {\n  x = [1, 2\n}\n', 3, "expected ']', found '}'"),
    ("x = \"\\q\"\n", 1, "unknown escape \\q"),
    ("x = 1\n\u202e = 2\n", 2, "unexpected character U+202E"),
    ("x = \"${\"\n", 1, "new line in a quoted string"),
    ('x = "%{ if true }\n', 1, "new line in a quoted string"),
])
def test_a_malformed_file_is_an_error_at_its_line(text: str, line: int, message: str) -> None:
    with pytest.raises(hp.ParseError) as info:
        hp.parse(text)
    assert (str(info.value), info.value.line) == (message, line)


@pytest.mark.parametrize("expr", [
    "[" * 100_000 + "]" * 100_000, "(" * 100_000 + "1" + ")" * 100_000, "!" * 100_000 + "true",
    "-" * 100_000 + "1", "true ? " * 100_000 + "1" + " : 2" * 100_000, '"${' * 50_000 + "1" + '}"' * 50_000,
    "{a = " * 100_000 + "1" + "}" * 100_000, "f(" * 100_000 + ")" * 100_000,
])
def test_deep_nesting_of_every_kind_is_refused_at_its_line_without_exhausting_the_stack(expr: str) -> None:
    with pytest.raises(hp.ParseError) as info:
        hp.parse("# one\nx = " + expr + "\n")
    assert (str(info.value), info.value.line) == ("nested deeper than 64 levels", 2)


def test_deeply_nested_blocks_are_refused_too() -> None:
    with pytest.raises(hp.ParseError) as info:
        hp.parse("a {\n" * 1000 + "}\n" * 1000)
    assert (str(info.value), info.value.line) == ("nested deeper than 64 levels", 65)


def test_pathological_heredocs_and_long_operator_chains_stay_bounded(tmp_path: Path) -> None:
    many = "".join(f'resource "aws_kms_key" "k{i}" {{\n  description = <<-EOT\n  EOTX EOT_ x{i}\n  EOT\n'
                   f'  enable_key_rotation = true\n}}\n' for i in range(2000))
    chain = 'resource "aws_kms_key" "chain" {\n  enable_key_rotation = ' + " + ".join(["1"] * 50_000) + " > 0\n}\n"
    unclosed = 'resource "aws_kms_key" "open" {\n  description = <<EOT\n' + "EOTX\n" * 100_000
    write(tmp_path, {"many.tf": many, "chain.tf": chain, "unclosed.tf": unclosed})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",), max_file_bytes=2**22)
    got = verdicts(out, "aws.kms.key_rotation")
    assert len(got) == 2002 and {got[f"aws_kms_key.k{i}"] for i in range(2000)} == {"pass"}
    assert (got["aws_kms_key.chain"], got["aws_kms_key.open"]) == ("error", "error")
    assert "nested deeper than 64 levels" in result(out, "aws.kms.key_rotation", "aws_kms_key.chain").message
    assert "target code: unclosed.tf line 2: does not parse: heredoc <<EOT is not closed" in out.warnings


def test_collections_made_by_expressions_are_bounded(tmp_path: Path) -> None:
    doubled = "\n".join(f"  l{i + 1} = concat(local.l{i}, local.l{i})" for i in range(20))
    write(tmp_path, {"main.tf": f'locals {{\n  l0 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n{doubled}\n}}\n'
                                'resource "aws_kms_key" "big" {\n  enable_key_rotation = length(local.l20) > 0\n}\n'
                                'resource "aws_kms_key" "ok" {\n  enable_key_rotation = length(local.l10) > 0\n}\n'})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {"aws_kms_key.big": "error", "aws_kms_key.ok": "pass"}
    assert f"concat() makes more than {MAX_ITEMS} elements" in result(
        out, "aws.kms.key_rotation", "aws_kms_key.big").message


def test_a_secret_in_a_file_that_does_not_parse_is_not_copied_into_any_message(tmp_path: Path) -> None:
    secret = "gxpSecret4711"
    write(tmp_path, {"good.tf": 'resource "aws_kms_key" "good" {\n  enable_key_rotation = true\n}\n',
                     "bad.tf": f'resource "aws_db_instance" "db" {{\n  password = "x" {secret}\n}}\n',
                     "bad2.tf": f'resource "aws_db_instance" "db2" {{\n  password {secret} = 1\n}}\n'})
    out = scan(tmp_path, checks=("aws.kms.key_rotation", "aws.rds.storage_encryption"))
    assert verdicts(out, "aws.rds.storage_encryption") == {"aws_db_instance.db": "error",
                                                           "aws_db_instance.db2": "error"}
    assert "target code: bad.tf line 2: does not parse: expected a new line, found a name" in out.warnings
    assert "target code: bad2.tf line 2: does not parse: expected a label or '{', found '='" in out.warnings
    shown = repr((out.warnings, [(r.message, r.observed) for r in out.results], out.evidence))
    assert secret not in shown


def test_a_file_of_too_many_tokens_is_an_error_for_its_resources(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hp, "MAX_TOKENS", 500)
    write(tmp_path, {"good.tf": 'resource "aws_kms_key" "good" {\n  enable_key_rotation = true\n}\n',
                     "many.tf": 'resource "aws_kms_key" "many" {\n  enable_key_rotation = true\n  tags = ['
                                + "1, " * 300 + "]\n}\n"})
    out = scan(tmp_path, checks=("aws.kms.key_rotation",))
    assert verdicts(out, "aws.kms.key_rotation") == {"aws_kms_key.good": "pass", "aws_kms_key.many": "error"}
    assert "target code: many.tf line 3: does not parse: more than 500 tokens in one file" in out.warnings

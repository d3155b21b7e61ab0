"""A JSON inventory is read by the standard library's JSON reader (issue 10: a scan of code imports no YAML parser),
and that reading gives exactly what the strict YAML loader gives, value or error, for every text it takes."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scanner.yamlload import MAX_DEPTH, YamlError, load_json_or_yaml, load_yaml

REPO = Path(__file__).resolve().parents[2]

TEXTS = [
    '{"version": 1, "targets": [{"name": "a", "type": "iac", "path": ["x"], "port": 22, "ratio": 0.5}]}',
    '  \n{"user": "CORP\\\\scanner", "path": "a\\/b", "tab": "\\t", "e": "\\u00e9", "n": null, "t": true}\n',
    '[1, -0, 12345678901234567890, 2.50, "x"]',
    '{"a": 1e5, "b": 1.5E3, "c": -2.0e-1}',  # exponents: strings to YAML 1.1
    '{"a": NaN, "b": Infinity}',  # not JSON; strings to YAML
    '{"a": 1, "a": 2}',  # duplicate key: YAML's error with line and path
    '{"a": {"b": 1, "b": 1}}',
    '{"a": "\\ud83d\\ude00"}',  # a surrogate pair: refused by YAML, joined by JSON
    '{"a": "\u0007"}',  # a raw control character: JSON refuses it, YAML too
    '{"a": "\ufffe"}',  # a character YAML refuses (JSON would take it)
    '{"a": [1, 2,]}',  # not JSON (trailing comma): YAML's reading
    '{"a": 1} {"b": 2}',
    '{a: 1, "b": yes}',  # a YAML flow mapping
    "[" * MAX_DEPTH + "1" + "]" * MAX_DEPTH,
    "[" * (MAX_DEPTH + 1) + "1" + "]" * (MAX_DEPTH + 1),  # too deep: YAML's error
    '{"k": ' * MAX_DEPTH + "{}" + "}" * MAX_DEPTH,
    '{"k": ' * MAX_DEPTH + '{"x": 1}' + "}" * MAX_DEPTH,
    "[" * 5000 + "]" * 5000,  # deeper than JSON's recursion: YAML's error
]


def _outcome(load: object, text: str) -> tuple[str, object]:
    try:
        return "value", repr(load(text))  # type: ignore[operator]
    except YamlError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_the_json_reading_is_the_yaml_reading(text: str) -> None:
    assert _outcome(load_json_or_yaml, text) == _outcome(load_yaml, text)


def test_the_cases_are_what_they_say() -> None:
    assert load_json_or_yaml(TEXTS[1])["user"] == "CORP\\scanner"
    assert load_json_or_yaml(TEXTS[3]) == {"a": "1e5", "b": "1.5E3", "c": -0.2}
    with pytest.raises(YamlError, match="invalid Unicode character escape"):  # JSON would take it
        load_json_or_yaml(TEXTS[7])
    with pytest.raises(YamlError, match="duplicate key 'a'"):
        load_json_or_yaml(TEXTS[5])
    with pytest.raises(YamlError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_json_or_yaml(TEXTS[14])
    with pytest.raises(YamlError, match=f"nested deeper than {MAX_DEPTH} levels"):
        load_json_or_yaml(TEXTS[16])


SCRIPT = textwrap.dedent("""
    import json, sys
    from scanner.inventory import load_inventory
    inv = load_inventory(sys.argv[1])
    print(json.dumps({"yaml": "yaml" in sys.modules, "targets": [t.name for t in inv.targets]}))
""")


@pytest.mark.parametrize(("name", "text", "yaml"), [
    ("inv.json", json.dumps({"version": 1, "targets": [{"name": "code", "type": "iac", "path": "."}]}), False),
    ("inv.yaml", "version: 1\ntargets:\n  - {name: code, type: iac, path: .}\n", True),
])
def test_a_json_inventory_is_read_without_a_yaml_parser(tmp_path: Path, name: str, text: str, yaml: bool) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / name)], capture_output=True, text=True,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "GXPSCAN_NO_CACHE": "1"}, timeout=60, check=True)
    assert json.loads(done.stdout) == {"yaml": yaml, "targets": ["code"]}

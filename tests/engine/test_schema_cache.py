"""Schema verdicts kept between runs (scanner/schemacache.py): an inventory or risk matrix that validated without
fault is not validated again while its JSON, the schema and the code are the same; an edited document is
validated again, a faulty one every time, a document that is not exactly JSON never from the cache, and a cache
file that is not private to us is not trusted."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from scanner import inventory, risk
from scanner.inventory import InventoryError, load_inventory
from scanner.model import Severity

DOC: dict[str, Any] = {"version": 1, "targets": [
    {"name": "web1", "type": "linux", "connection": "ssh", "host": "web1.example", "user": "scan"}]}


class Counting:
    """Counts full schema validations (the step the cache saves) of one module's validator."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.calls = 0
        real = getattr(module, name)

        def counted(data: Any) -> list[str]:
            self.calls += 1
            result: list[str] = real(data)
            return result

        monkeypatch.setattr(module, name, counted)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GXPSCAN_NO_CACHE", raising=False)
    return tmp_path / "xdg" / "gxpscan" / "validated.json"


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_valid_inventory_is_validated_once_then_taken_from_the_cache(
        cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting(monkeypatch, inventory, "_validate")
    src = write(tmp_path / "inv.json", DOC)
    first = load_inventory(src)
    assert counting.calls == 1
    assert cache_home.stat().st_mode & 0o777 == 0o600
    assert cache_home.parent.stat().st_mode & 0o777 == 0o700
    second = load_inventory(src)
    assert counting.calls == 1  # not validated again
    assert second == first


def test_an_edited_inventory_is_validated_again_and_a_fault_refused_with_a_warm_cache(
        cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting(monkeypatch, inventory, "_validate")
    src = write(tmp_path / "inv.json", DOC)
    load_inventory(src)
    edited = json.loads(json.dumps(DOC))
    edited["targets"][0]["host"] = "web2.example"
    load_inventory(write(src, edited))
    assert counting.calls == 2  # a valid edit: validated again
    edited["targets"][0]["port"] = "22"  # a string where the schema wants an integer
    for expected_calls in (3, 4):  # a fault is never kept: validated, and refused, every time
        with pytest.raises(InventoryError) as info:
            load_inventory(write(src, edited))
        assert counting.calls == expected_calls
        assert any(p.startswith("targets[0].port: '22' is not of type 'integer'") for p in info.value.problems)


def test_the_same_values_of_another_json_type_are_validated_again(
        cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``true`` and ``1`` compare equal in Python; the key must still tell them apart (a port of ``true`` is
    refused)."""
    counting = Counting(monkeypatch, inventory, "_validate")
    doc = json.loads(json.dumps(DOC))
    doc["targets"][0]["port"] = 1
    load_inventory(write(tmp_path / "inv.json", doc))
    doc["targets"][0]["port"] = True
    with pytest.raises(InventoryError, match="True is not of type 'integer'"):
        load_inventory(write(tmp_path / "inv.json", doc))
    assert counting.calls == 2


def test_a_yaml_date_is_never_taken_from_the_cache(cache_home: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """An unquoted YAML date is no JSON value: no key, validated (and refused by the schema) every time."""
    counting = Counting(monkeypatch, inventory, "_validate")
    src = tmp_path / "inv.yaml"
    src.write_text("version: 1\ntargets:\n  - {name: web1, type: linux, connection: local}\nwaivers:\n"
                   "  - {check: linux.ssh.root_login, target: web1, reason: r, approved_by: qa,"
                   " expires: 2099-01-01}\n", encoding="utf-8")
    for expected_calls in (1, 2):
        with pytest.raises(InventoryError) as info:
            load_inventory(src)
        assert counting.calls == expected_calls
        assert any(p.startswith("waivers[0].expires:") for p in info.value.problems)
    assert not cache_home.exists()


@pytest.mark.parametrize("spoil", ["group-writable", "symlink"])
def test_a_cache_file_that_is_not_private_is_not_trusted(cache_home: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, spoil: str) -> None:
    counting = Counting(monkeypatch, inventory, "_validate")
    src = write(tmp_path / "inv.json", DOC)
    load_inventory(src)
    if spoil == "group-writable":
        os.chmod(cache_home, 0o620)
    else:
        real = tmp_path / "elsewhere.json"
        cache_home.rename(real)
        cache_home.symlink_to(real)
    load_inventory(src)
    assert counting.calls == 2


def test_no_cache_when_gxpscan_no_cache_is_set(cache_home: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXPSCAN_NO_CACHE", "1")
    counting = Counting(monkeypatch, inventory, "_validate")
    src = write(tmp_path / "inv.json", DOC)
    load_inventory(src)
    load_inventory(src)
    assert counting.calls == 2
    assert not cache_home.exists()


def test_the_default_risk_matrix_is_validated_once_and_an_edited_one_again(
        cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting(monkeypatch, risk, "_schema_problems")
    first = risk.default_matrix()
    second = risk.default_matrix()
    assert counting.calls == 1
    assert second == first
    data = json.loads(json.dumps({"matrix": {s.value: {i.value: first.cells[(s, i)].value for i in risk.Impact}
                                              for s in Severity}}))
    data["matrix"]["high"]["low"] = "severe"  # no such level
    with pytest.raises(risk.RiskMatrixError, match=r"matrix\.high\.low"):
        risk.parse_matrix(data, "site.json")
    assert counting.calls == 2


def test_jsonschema_code_is_read_once_a_process_for_every_key(
        cache_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan keys two documents (its inventory, the default risk matrix): jsonschema's code (some 145 KB) is read
    and hashed once, and each key is the one reading it again would give."""
    import hashlib
    import importlib.util
    import sys

    from scanner import schemacache

    where = Path(next(iter(importlib.util.find_spec("jsonschema").submodule_search_locations or ())))
    code = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(where.glob("*.py")))).digest()
    schemacache._jsonschema_digest.cache_clear()
    globs: list[Path] = []
    real_glob = Path.glob
    monkeypatch.setattr(Path, "glob", lambda self, pattern: globs.append(self) or real_glob(self, pattern))
    keys = [schemacache._key(doc, {"type": "object"}, Path(inventory.__file__)) for doc in (DOC, {"other": 1})]
    assert globs == [where]
    expected = hashlib.sha256()
    for part in (b"gxpscan-validated/1", json.dumps(DOC, sort_keys=True, ensure_ascii=False).encode(),
                 b'{"type": "object"}', Path(inventory.__file__).read_bytes(), Path(schemacache.__file__).read_bytes()):
        expected.update(hashlib.sha256(part).digest())
    expected.update(code)
    expected.update(hashlib.sha256(sys.version.encode()).digest())
    assert keys[0] == expected.hexdigest() and keys[1] != keys[0]

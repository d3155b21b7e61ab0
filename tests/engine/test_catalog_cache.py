"""The cache of the packaged catalogs' validated parse (scanner/frameworks.py): used only for the exact bytes it
was made from, only when the folder and the file are ours and nobody else can write them; a modified catalog is
still validated and refused with its file; a user's catalogs and ``selftest`` never use it."""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scanner import frameworks
from scanner.frameworks import CatalogError

PACKAGED = Path(frameworks.__file__).resolve().parent.parent / "checks" / "frameworks"


@pytest.fixture
def catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of the packaged catalogs, loaded as the packaged ones, and an empty cache home."""
    copy = tmp_path / "frameworks"
    shutil.copytree(PACKAGED, copy)
    monkeypatch.setattr(frameworks, "_catalog_dir", lambda: copy)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GXPSCAN_NO_CACHE", raising=False)
    frameworks._packaged.cache_clear()
    yield copy
    frameworks._packaged.cache_clear()


class Counting:
    """Counts full schema validations (the slow step the cache saves)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = frameworks._schema_problems

        def counted(data: Any) -> list[str]:
            self.calls += 1
            return real(data)

        monkeypatch.setattr(frameworks, "_schema_problems", counted)


def fresh_load(**kw: Any) -> dict[str, frameworks.Catalog]:
    frameworks._packaged.cache_clear()
    return frameworks.load_catalogs(**kw)


def cache_file(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "gxpscan" / "catalogs.json"


def test_second_start_takes_the_validated_parse_from_the_cache(catalogs: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    counting = Counting(monkeypatch)
    first = fresh_load()
    files = len(list(catalogs.glob("*.yaml")))
    assert counting.calls == files == 5
    cached = cache_file(tmp_path)
    assert cached.stat().st_mode & 0o777 == 0o600
    assert (cached.parent.stat().st_mode & 0o777) == 0o700
    second = fresh_load()
    assert counting.calls == files  # nothing validated against the schema again
    assert second == first  # the same typed catalogs, the same SHA-256 per file
    assert [c.sha256 for c in second.values()] == [c.sha256 for c in first.values()]


def test_a_modified_packaged_catalog_is_validated_and_refused_with_its_file(catalogs: Path) -> None:
    fresh_load()  # a warm cache of the unmodified bytes
    part11 = catalogs / "part11.yaml"
    part11.write_text(part11.read_text(encoding="utf-8").replace("automatable: partial", "automatable: mostly", 1),
                      encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        fresh_load()
    assert str(info.value).startswith("part11.yaml: invalid catalog:")
    assert "automatable: 'mostly' is not one of" in str(info.value)


def _plant(tmp_path: Path, catalogs: Path) -> Path:
    """A cache with the right key whose parse says something the files do not: a clause title changed."""
    fresh_load()
    cached = cache_file(tmp_path)
    doc = json.loads(cached.read_text(encoding="utf-8"))
    doc["catalogs"]["part11.yaml"]["clauses"][0]["title"] = "PLANTED"
    cached.write_text(json.dumps(doc), encoding="utf-8")
    return cached


def _first_title() -> str:
    return fresh_load()["part11"].clauses[0].title


def test_the_cache_is_keyed_by_the_bytes_it_was_made_from(catalogs: Path, tmp_path: Path) -> None:
    _plant(tmp_path, catalogs)
    assert _first_title() == "PLANTED"  # proves the planted file is read when it is trusted
    (catalogs / "part11.yaml").write_bytes((catalogs / "part11.yaml").read_bytes() + b"\n# changed\n")
    assert _first_title() != "PLANTED"  # other bytes: validated again, from the files


@pytest.mark.parametrize("spoil", ["group_writable_file", "other_writable_dir", "symlinked_file", "foreign_owner",
                                   "not_json", "other_format"])
def test_an_untrustworthy_cache_is_ignored(catalogs: Path, tmp_path: Path, spoil: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cached = _plant(tmp_path, catalogs)
    if spoil == "group_writable_file":
        cached.chmod(0o620)
    elif spoil == "other_writable_dir":
        cached.parent.chmod(0o702)
    elif spoil == "symlinked_file":
        elsewhere = tmp_path / "elsewhere.json"
        cached.rename(elsewhere)
        cached.symlink_to(elsewhere)
    elif spoil == "foreign_owner":
        monkeypatch.setattr(os, "geteuid", lambda: 4242)  # the file belongs to someone else than this user
    elif spoil == "not_json":
        cached.write_bytes(b"\xff{")
    elif spoil == "other_format":
        doc = json.loads(cached.read_text(encoding="utf-8"))
        cached.write_text(json.dumps({**doc, "format": "gxpscan-catalog-cache/0"}), encoding="utf-8")
    counting = Counting(monkeypatch)
    assert _first_title() != "PLANTED"
    assert counting.calls == 5


def test_selftest_and_user_catalogs_never_use_the_cache(catalogs: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _plant(tmp_path, catalogs)
    counting = Counting(monkeypatch)
    assert fresh_load(use_cache=False)["part11"].clauses[0].title != "PLANTED"
    assert frameworks.load_catalogs(catalogs)["part11"].clauses[0].title != "PLANTED"
    assert counting.calls == 10


def test_no_cache_when_asked(catalogs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GXPSCAN_NO_CACHE", "1")
    fresh_load()
    assert not cache_file(tmp_path).exists()

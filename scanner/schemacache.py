"""Schema verdicts kept between runs: a document that validated without fault against a JSON Schema is not
validated again while nothing the verdict depends on changed.

Every scan validated its inventory and the default risk matrix with jsonschema; importing jsonschema and
validating took a fifth of the time of scanning a small Terraform tree. :func:`problems` keeps the key of each
document validated without fault in a private cache (``$XDG_CACHE_HOME/gxpscan/validated.json``, the folder and
the protections of the catalog cache, scanner/frameworks.py: ours, writable by nobody else, no symbolic link,
bounded). The key is the SHA-256 over the document as canonical JSON, the schema, the code of the module that
turns errors into messages, jsonschema's code and the Python version; a document that is not exactly JSON data
(a YAML date, a non-string key, NaN) is never cached. Faults are never cached: a faulty document is validated,
and reported, every time.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scanner.privatecache import cache_dir, read_private_json, write_private

_FORMAT = "gxpscan-validated/1"
_FILE = "validated.json"
#: The keys of this many documents validated last are kept (64 hex digits each).
_KEEP = 64
_MAX_BYTES = 64 * 1024


def problems(doc: Any, schema: dict[str, Any], validate: Callable[[Any], list[str]], code: str | Path) -> list[str]:
    """``validate(doc)`` (the schema's faults, as messages), or none when this exact ``doc`` validated without
    fault before against this ``schema`` with the code of ``code`` (the caller's module file)."""
    cache = cache_dir()
    key = _key(doc, schema, Path(code)) if cache is not None else None
    if cache is None or key is None:
        return validate(doc)
    valid = _valid(cache)
    if key in valid:
        return []
    found = validate(doc)
    if not found:
        write_private(cache, _FILE, json.dumps({"format": _FORMAT, "valid": valid[-(_KEEP - 1):] + [key]}))
    return found


@functools.cache
def _jsonschema_digest() -> bytes:
    """SHA-256 of jsonschema's code, read once a process: a scan asks it for its inventory and its risk matrix."""
    spec = importlib.util.find_spec("jsonschema")
    where = spec.submodule_search_locations if spec is not None else None
    if not where:
        raise ImportError("jsonschema")
    return hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(next(iter(where))).glob("*.py")))).digest()


def _key(doc: Any, schema: dict[str, Any], code: Path) -> str | None:
    """SHA-256 over what the verdict on ``doc`` depends on, or None when ``doc`` is not exactly JSON data (values
    JSON text would not tell apart) or a part cannot be read."""
    try:
        text = json.dumps(doc, sort_keys=True, ensure_ascii=False, allow_nan=False)
        if json.loads(text) != doc:
            return None
        parts = [_FORMAT.encode(), text.encode("utf-8", "surrogatepass"),
                 json.dumps(schema, sort_keys=True).encode(), code.read_bytes(), Path(__file__).read_bytes()]
        jsonschema = _jsonschema_digest()
    except (TypeError, ValueError, OSError, UnicodeError, ImportError, RecursionError):
        return None
    digest = hashlib.sha256()
    for part in parts:
        digest.update(hashlib.sha256(part).digest())
    digest.update(jsonschema)
    digest.update(hashlib.sha256(sys.version.encode()).digest())
    return digest.hexdigest()


def _valid(cache: Path) -> list[str]:
    """The keys kept, from a cache file that is ours and writable by nobody else; empty for anything else."""
    doc = read_private_json(cache, _FILE, _MAX_BYTES)
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("valid"), list):
        return []
    return [k for k in doc["valid"] if isinstance(k, str)]

"""``gxpscan verify DIR`` on a ``selftest --out`` directory: its seal (manifest-001.json over every file, the
signature and the time-stamp when there are any) and its records (selftest.json against what the seal states).

A self-test directory has no run record; it is sealed once, by ``render.write``, with its own predicate type. The
signature, time-stamp and file checks are the ones of a run (``scanner.seal``)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from scanner.seal import (
    Manifest,
    SealError,
    Verification,
    _read_small,
    _statement,
    check_files,
    check_signer,
    check_time_stamp,
    manifest_name,
    scan_dir,
)
from scanner.selftest.render import JSON_NAME, MANIFEST_PREDICATE


def is_selftest_dir(path: Path) -> bool:
    """Whether ``path`` holds a manifest-001.json that says it seals a self-test. Anything unreadable is no: the
    run verify then reports what is wrong with it."""
    try:
        doc = json.loads(_read_small(path / manifest_name(1)))
    except (OSError, SealError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("predicateType") == MANIFEST_PREDICATE


#: the statement fields selftest.json must repeat (its key, the seal predicate's key)
_SAME = (("tool_version", "tool_version"), ("verdict", "verdict"), ("checks_fingerprint", "checks_fingerprint"),
         ("started", "started"), ("manifest_sha256", "release_manifest_sha256"))


def verify_selftest(out_dir: str | Path, *, pubkeys: Sequence[Ed25519PublicKey] = (),
                    tsa_certs: Sequence[bytes] = ()) -> Verification:
    """Check a self-test directory completely: the seal, its signature and time-stamp, every file, and
    selftest.json against the seal."""
    out_dir = Path(out_dir)
    v = Verification(out_dir)
    try:
        entries = scan_dir(out_dir)
    except OSError as exc:
        v.problems.append(f"cannot read the directory: {exc.strerror or exc}")
        return v
    name = manifest_name(1)
    try:
        data = _read_small(out_dir / name)
        m = Manifest(name, 1, data, _statement(data, name, MANIFEST_PREDICATE))
    except (SealError, OSError) as exc:
        v.problems.append(f"manifest {name}: {exc}")
        return v
    v.manifest, v.manifest_sha256 = m.name, m.sha256
    check_signer(out_dir, m, entries, pubkeys, v, True)
    check_time_stamp(out_dir, m, entries, tsa_certs, v)
    if tsa_certs and not m.predicate.get("time_stamp_authority"):
        v.problems.append(f"{name} is not time-stamped, but --tsa-cert asks for trusted time")
    check_files(m, entries, (), v)
    if not m.subjects:
        v.problems.append(f"{name} seals no record")
    p = m.predicate
    if JSON_NAME in m.subjects and JSON_NAME in entries and entries[JSON_NAME].sha256 == m.subjects[JSON_NAME]:
        try:
            doc = json.loads(_read_small(out_dir / JSON_NAME))
            differ = [f"{key} {str(doc.get(key))[:80]!r} (sealed {str(p.get(sealed))[:80]!r})"
                      for key, sealed in _SAME if doc.get(key) != p.get(sealed)]
        except (OSError, SealError, ValueError, RecursionError, AttributeError):
            differ = ["not a gxpscan self-test JSON record"]
        if differ:
            v.problems.append(f"{JSON_NAME}: does not match its seal: {'; '.join(differ)}")
    if not v.problems:
        v.notes.append(f"self-test of gxpscan {str(p.get('tool_version'))[:40]} (checks fingerprint "
                       f"{str(p.get('checks_fingerprint'))[:64]}), started {str(p.get('started'))[:40]}: verdict "
                       f"{str(p.get('verdict'))[:40]}")
    return v

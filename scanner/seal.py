"""Sealing a run directory: a manifest of SHA-256 hashes over every file, signed, time-stamped, chained.

Layout of a sealed run directory (every name below is written by gxpscan through ``scanner.safefs``)::

    record.jsonl, report.*, oq-evidence.html, ...   the run's files
    manifest-001.json          an in-toto Statement v1 (canonical JSON): one subject per file with its sha256
    manifest-001.dsse.json     a DSSE envelope over manifest-001.json, signed with Ed25519 (when a key is given)
    manifest-001.tsr           an RFC 3161 time-stamp response over sha256(manifest-001.json) (with --tsa)
    manifest-002.json          written when `gxpscan report` adds or rewrites reports: covers every file then
                               present, manifest-001's files included, and names manifest-001's hash
    signature-001.dsse.json    an electronic signature (`gxpscan sign`): a DSSE envelope over an in-toto
                               Statement whose one subject is the manifest it signs

The record (``record.jsonl``) never changes once sealed: every manifest version must give it the same hash.
Reports may be rewritten by a later version. ``verify_run`` checks all of it; ``verify_chain`` checks the hash
chain across the runs of one results directory (each record names the first manifest of the run before it).
"""
from __future__ import annotations

import binascii
import hashlib
import io
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from scanner.model import RunInfo, SignatureRecord
from scanner.safefs import OutputDir, OutputError, write_all
from scanner.value import frozen

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    from scanner.store import Record

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
MANIFEST_PREDICATE = "https://gxpscan.dev/attestation/run-manifest/v1"
SIGNATURE_PREDICATE = "https://gxpscan.dev/attestation/e-signature/v1"
RECORD_NAME = "record.jsonl"
ROLES = ("reviewer", "approver")
#: Largest manifest, envelope, token or signature file read (a run has a few dozen files).
MAX_SEAL_FILE = 16 * 1024 * 1024
#: report.json is the record's content again, indented and with more characters escaped (``json_text``: a 3-byte
#: character becomes a 6-byte ``\\uXXXX``), plus each target's clause coverage: a genuine one is about 2.4x the
#: record for a fleet of Windows hosts (measured on 50), and never near this many times it (plus MAX_SEAL_FILE for a
#: small record). Anything larger is refused before it is parsed.
REPORT_GROWTH = 8

_MANIFEST = re.compile(r"manifest-(\d{3,6})\.json")
_ENVELOPE = re.compile(r"manifest-(\d{3,6})\.dsse\.json")
_TOKEN = re.compile(r"manifest-(\d{3,6})\.tsr")
_SIGNATURE = re.compile(r"signature-(\d{3,6})\.dsse\.json")
#: A file name gxpscan seals: printable, no backslash (sha256sum would escape it), no path tricks.
_SEALABLE = re.compile(r"[A-Za-z0-9._+@=,-][A-Za-z0-9._+@=, -]*")


class SealError(Exception):
    """A run could not be sealed or signed, or a key could not be used. One line, without any secret."""


# --- primitives ------------------------------------------------------------------------------------------------

def canonical(obj: Any) -> bytes:
    """The one byte form of a JSON value that gxpscan hashes and signs: sorted keys, no spaces, ASCII only."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what is actually signed."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 (hex) of the public key's DER SubjectPublicKeyInfo, as
    ``openssl pkey -pubin -in KEY.pub -outform DER | sha256sum`` prints it."""
    from cryptography.hazmat.primitives import serialization  # cryptography: only where keys are used

    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return sha256_hex(der)


def public_pem(key: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _b64encode(data: bytes) -> str:
    import base64  # only a signed run's envelopes use it: not imported by every scan

    return base64.b64encode(data).decode()


def _b64decode(text: Any) -> bytes:
    """Strict base64 (binascii.Error on any character outside the alphabet); TypeError for a non-string."""
    import base64

    return base64.b64decode(text, validate=True)


def envelope(payload: bytes, key: Ed25519PrivateKey) -> dict[str, Any]:
    """A DSSE envelope over ``payload`` (an in-toto Statement), signed with ``key``."""
    sig = key.sign(pae(PAYLOAD_TYPE, payload))
    return {"payload": _b64encode(payload), "payloadType": PAYLOAD_TYPE,
            "signatures": [{"keyid": fingerprint(key.public_key()), "sig": _b64encode(sig)}]}


def open_envelope(data: bytes, key: Ed25519PublicKey) -> bytes:
    """The payload of a DSSE envelope whose signature verifies with ``key``; SealError otherwise."""
    from cryptography.exceptions import InvalidSignature

    try:
        env = json.loads(data)
        payload = _b64decode(env["payload"])
        kind = env["payloadType"]
        sigs = env["signatures"]
        if not isinstance(kind, str) or not isinstance(sigs, list) or not sigs:
            raise ValueError
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise SealError("not a DSSE envelope") from None
    if kind != PAYLOAD_TYPE:
        raise SealError(f"payload type {kind[:60]!r} is not {PAYLOAD_TYPE}")
    wanted = fingerprint(key)
    for entry in sigs:
        try:
            if entry.get("keyid") not in ("", wanted):
                continue
            key.verify(_b64decode(entry["sig"]), pae(kind, payload))
            return payload
        except (InvalidSignature, KeyError, TypeError, AttributeError, binascii.Error, ValueError):
            continue
    raise SealError(f"no signature in the envelope verifies with key {wanted[:16]}")


# --- keys --------------------------------------------------------------------------------------------------------

def passphrase_from_env(name: str | None) -> bytes | None:
    """The passphrase held in environment variable ``name`` (never taken from the command line)."""
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise SealError(f"environment variable {name} (the key passphrase) is not set or empty")
    return value.encode("utf-8")


def keygen(path: str | Path, passphrase: bytes | None = None) -> tuple[Path, Path, str]:
    """A new Ed25519 key pair: ``path`` (PKCS#8 PEM, 0600, encrypted when a passphrase is given) and ``path.pub``
    (SubjectPublicKeyInfo PEM). Returns (private, public, fingerprint). Never overwrites a file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    key = Ed25519PrivateKey.generate()
    algorithm: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm)
    public = public_pem(key.public_key()).encode()
    pub_path = path.with_name(path.name + ".pub")
    with OutputDir.open(path.parent) as directory:
        for name, data in ((path.name, private), (pub_path.name, public)):
            try:
                fd = directory.create(name)
            except FileExistsError:
                raise SealError(f"{path.parent / name} exists already; a key file is never overwritten") from None
            except OSError as exc:
                raise OutputError(f"could not write {path.parent / name}: {exc.strerror or exc}") from None
            try:
                write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
    return path, pub_path, fingerprint(key.public_key())


def load_private_key(path: str | Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SealError(f"cannot read key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=passphrase)
    except TypeError:
        if passphrase is None:
            raise SealError(f"key {path} is encrypted: name the variable holding its passphrase "
                            "(--...-passphrase-env NAME)") from None
        raise SealError(f"key {path} is not encrypted, but a passphrase was given") from None
    except ValueError:
        raise SealError(f"key {path} could not be read: not a PEM private key, or a wrong passphrase") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SealError(f"key {path} is not an Ed25519 key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SealError(f"cannot read public key {path}: {exc.strerror or exc}") from None
    return _public_key(data, str(path))


def _public_key(data: bytes, where: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise SealError(f"{where}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SealError(f"{where}: not an Ed25519 public key")
    return key


# --- reading a run directory -------------------------------------------------------------------------------------

@frozen
class Entry:
    """One name in a run directory: a regular file with its hash, or something else (``kind``)."""

    name: str
    sha256: str = ""
    kind: str = "file"  # file | symlink | directory | other


def scan_dir(run_dir: Path) -> dict[str, Entry]:
    """Every name in ``run_dir`` (one level: a run directory has no subdirectories), hashing regular files.
    Nothing is followed: a symbolic link is reported as one."""
    out: dict[str, Entry] = {}
    buffer = bytearray(1 << 20)
    dfd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for name in sorted(os.listdir(dfd)):
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                out[name] = Entry(name, kind="symlink")
            elif stat.S_ISDIR(st.st_mode):
                out[name] = Entry(name, kind="directory")
            elif not stat.S_ISREG(st.st_mode):
                out[name] = Entry(name, kind="other")
            else:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                with os.fdopen(fd, "rb", buffering=0) as fh:
                    out[name] = Entry(name, _file_sha256(fh, buffer))
    finally:
        os.close(dfd)
    return out


def _file_sha256(fh: io.RawIOBase, buffer: bytearray) -> str:
    """SHA-256 (hex) of an unbuffered file, read into one reused buffer (no bytes object per block)."""
    digest = hashlib.sha256()
    view = memoryview(buffer)
    while n := fh.readinto(buffer):
        digest.update(view[:n])
    return digest.hexdigest()


def _read_small(path: Path, limit: int = MAX_SEAL_FILE, why: str = "") -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise SealError(f"{path.name}: larger than {limit} bytes{why}")
    return data


def _numbers(names: Iterable[str], pattern: re.Pattern[str]) -> dict[int, str]:
    out = {}
    for name in names:
        m = pattern.fullmatch(name)
        if m:
            out[int(m.group(1))] = name
    return out


def manifest_name(n: int) -> str:
    return f"manifest-{n:03d}.json"


def is_seal_artifact(name: str) -> bool:
    return any(p.fullmatch(name) for p in (_MANIFEST, _ENVELOPE, _TOKEN, _SIGNATURE))


@frozen
class Manifest:
    name: str
    version: int
    data: bytes
    statement: Mapping[str, Any]

    @property
    def sha256(self) -> str:
        return sha256_hex(self.data)

    @property
    def predicate(self) -> Mapping[str, Any]:
        pred = self.statement.get("predicate")
        return pred if isinstance(pred, dict) else {}

    @property
    def subjects(self) -> dict[str, str]:
        out = {}
        for s in self.statement.get("subject") or ():
            if isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("digest"), dict):
                out[s["name"]] = str(s["digest"].get("sha256", ""))
        return out


def _statement(data: bytes, where: str, predicate_type: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        raise SealError(f"{where}: not JSON") from None
    if not isinstance(obj, dict) or obj.get("_type") != STATEMENT_TYPE:
        raise SealError(f"{where}: not an in-toto Statement v1")
    if obj.get("predicateType") != predicate_type:
        raise SealError(f"{where}: predicate type {str(obj.get('predicateType'))[:80]!r} is not {predicate_type}")
    if not isinstance(obj.get("subject"), list) or not isinstance(obj.get("predicate"), dict):
        raise SealError(f"{where}: subject or predicate missing")
    if canonical(obj) != data:
        raise SealError(f"{where}: not in canonical form (edited by hand?)")
    return obj


def read_manifest(run_dir: Path, n: int) -> Manifest:
    name = manifest_name(n)
    data = _read_small(run_dir / name)
    return Manifest(name, n, data, _statement(data, name, MANIFEST_PREDICATE))


def manifests(run_dir: Path) -> dict[int, str]:
    """Manifest version -> file name, for the manifests present."""
    try:
        names = os.listdir(run_dir)
    except OSError:
        return {}
    return _numbers(names, _MANIFEST)


def first_manifest_sha256(run_dir: Path) -> str:
    """The hash the next run in the same results directory chains to: the run's first manifest."""
    return sha256_hex(_read_small(run_dir / manifest_name(1)))


#: A results folder of at least this many entries keeps its chain index (``previous_manifest``) in the private
#: cache; a smaller one is read whole each time (a few milliseconds), and leaves no file behind.
CHAIN_INDEX_MIN = 32
_CHAIN_FORMAT = 1
_CHAIN_MAX_BYTES = 64 * 1024 * 1024


def previous_manifest(results_dir: Path, exclude: Path | None = None) -> str:
    """The first-manifest hash of the most recently started sealed run in ``results_dir`` ("" when none): never
    ``exclude`` (the run being made, under any spelling of its path), a symbolic link to a run, a run without a
    first manifest or one that cannot be read.

    Each run's first manifest is read once. A folder of ``CHAIN_INDEX_MIN`` entries or more keeps what each gave in
    the private cache (scanner/privatecache.py), one index per folder: for each run, the identity of the file
    (device, inode, size, modification and change times in ns), then its start time and hash (both None when it is
    not usable); the next scan stats each run's manifest and reads only those that are new or changed. Reading
    every manifest at every scan cost some 0.1 ms a run: 30-47 ms in a folder of 300 runs, 260-380 ms at 3,000,
    seconds after a year of hourly scans (``benchmarks/results_dir.py``). Any doubt about the index (not ours,
    damaged, another folder's, an entry of another shape or that does not fit its file) means reading the manifest
    again. gxpscan never rewrites a first manifest; one rewritten in place by hand within one tick of a file system
    with coarse times, at the same size, would keep its old link here, which ``verify --chain`` then reports."""
    try:
        base = results_dir.resolve()
        excluded = exclude.resolve() if exclude is not None else None
        with os.scandir(base) as entries:
            names = [e.name for e in entries if not _is_link(e)]
    except (OSError, RuntimeError):
        return ""
    cache, index_name = _chain_index_place(base)
    known = _read_chain_index(cache, index_name, base) if cache is not None else {}
    index: dict[str, list[Any]] = {}
    folder, first = str(base), manifest_name(1)  # paths joined as text: a Path per run cost more than its stat
    skipped = excluded.name if excluded is not None and excluded.parent == base else None
    for name in names:
        if name == skipped:
            continue
        try:
            st = os.lstat(os.path.join(folder, name, first))
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        identity = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        kept = known.get(name)
        index[name] = kept if _fits(kept, identity) else [*identity, *_chain_link(base / name)]
    if cache is not None and index != known and (len(names) >= CHAIN_INDEX_MIN or known):
        from scanner.privatecache import write_private

        write_private(cache, index_name, json.dumps({"format": _CHAIN_FORMAT, "folder": str(base), "runs": index}))
    links = [(entry[5], entry[6]) for entry in index.values() if entry[5] is not None]
    return max(links)[1] if links else ""


def _fits(kept: Any, identity: list[int]) -> TypeGuard[list[Any]]:
    """A kept entry of the chain index that is of its shape and names this very file."""
    return (type(kept) is list and len(kept) == 7 and kept[:5] == identity
            and ((type(kept[5]) is str and type(kept[6]) is str) or kept[5] is kept[6] is None))


def _is_link(entry: os.DirEntry[str]) -> bool:
    """A symbolic link, or an entry gone since it was listed (neither is a run of this folder)."""
    try:
        return entry.is_symlink()
    except OSError:
        return True


def _chain_link(run_dir: Path) -> tuple[str | None, str | None]:
    """(start time, hash) of a run's first manifest; (None, None) when it cannot be read or is not a manifest."""
    try:
        m = read_manifest(run_dir, 1)
    except (SealError, OSError):
        return None, None
    return str(m.predicate.get("started", "")), m.sha256


def _chain_index_place(base: Path) -> tuple[Path | None, str]:
    """The private cache folder (None: no cache) and the file name of the chain index of the results folder
    ``base``."""
    from scanner.privatecache import cache_dir

    return cache_dir(), f"chain-{sha256_hex(str(base).encode('utf-8', 'surrogateescape'))[:32]}.json"


def _read_chain_index(cache: Path, index_name: str, base: Path) -> dict[str, Any]:
    """The kept index of ``base`` (run name -> entry, each checked when used: ``_fits``); empty when there is none,
    it is not ours, or it is another folder's."""
    from scanner.privatecache import read_private_json

    doc = read_private_json(cache, index_name, _CHAIN_MAX_BYTES)
    if not isinstance(doc, dict) or doc.get("format") != _CHAIN_FORMAT or doc.get("folder") != str(base):
        return {}
    runs = doc.get("runs")
    return runs if isinstance(runs, dict) else {}


# --- sealing -----------------------------------------------------------------------------------------------------

@frozen
class Sealed:
    run_dir: Path
    name: str
    version: int
    sha256: str
    signed_by: str = ""  # fingerprint, or "" when unsigned
    time_stamped: bool = False
    warnings: tuple[str, ...] = ()


def _write_new(directory: OutputDir, name: str, data: bytes) -> None:
    try:
        fd = directory.create(name)
    except FileExistsError:
        raise SealError(f"{directory.path / name} exists already (another gxpscan sealing this run?)") from None
    except OSError as exc:
        raise OutputError(f"could not write {directory.path / name}: {exc.strerror or exc}") from None
    try:
        write_all(fd, data)
        os.fsync(fd)
    except OSError as exc:
        raise OutputError(f"could not write {directory.path / name}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def time_stamp(tsa_url: str, manifest: bytes, timeout: float = 30.0) -> bytes:
    """An RFC 3161 token over sha256(manifest) from the TSA at ``tsa_url`` (SealError when there is none)."""
    from scanner import tsa

    try:
        return tsa.request_token(tsa_url, hashlib.sha256(manifest).digest(), timeout=timeout)
    except tsa.TSAError as exc:
        raise SealError(f"time-stamp authority {tsa.endpoint(tsa_url)}: {exc}") from None


def seal_run(run_dir: str | Path, *, key: Ed25519PrivateKey | None = None, tsa_url: str | None = None,
             tsa_timeout: float = 30.0, now: datetime | None = None) -> Sealed:
    """Write the next manifest version over every file in ``run_dir`` (signed with ``key``, time-stamped by the
    TSA at ``tsa_url``). The run's own record supplies the run id, the tool version and the chain hash."""
    from scanner.store import read_record

    run_dir = Path(run_dir)
    entries = scan_dir(run_dir)
    for entry in entries.values():
        if entry.kind != "file":
            raise SealError(f"{run_dir / entry.name}: a {entry.kind}, not a file; a run directory holds files only")
        if not _SEALABLE.fullmatch(entry.name) or entry.name.endswith(".tmp"):
            raise SealError(f"{run_dir}: file name {entry.name!r} cannot be sealed (a leftover or a stranger)")
    if RECORD_NAME not in entries:
        raise SealError(f"{run_dir}: no {RECORD_NAME}; not a run directory")
    info = read_record(run_dir / RECORD_NAME, header_only=True).run.info
    versions = _numbers(entries, _MANIFEST)
    version = max(versions, default=0) + 1
    supersedes = sha256_hex(_read_small(run_dir / versions[version - 1])) if version > 1 else ""
    predicate: dict[str, Any] = {
        "run_id": info.id, "tool_version": info.tool_version, "version": version,
        "sealed_at": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "started": info.started.isoformat(), "previous_manifest_sha256": info.previous_manifest_sha256,
        "supersedes_sha256": supersedes, "record_sha256": entries[RECORD_NAME].sha256,
        "time_stamp_authority": tsa_url or "",
    }
    if key is not None:
        predicate["signer"] = {"key_id": fingerprint(key.public_key()), "public_key": public_pem(key.public_key())}
    statement = {"_type": STATEMENT_TYPE, "predicateType": MANIFEST_PREDICATE, "predicate": predicate,
                 "subject": [{"name": e.name, "digest": {"sha256": e.sha256}} for e in entries.values()]}
    data = canonical(statement)
    token = time_stamp(tsa_url, data, tsa_timeout) if tsa_url else b""
    name = manifest_name(version)
    with OutputDir.open(run_dir, create=False) as directory:
        _write_new(directory, name, data)
        if key is not None:
            _write_new(directory, f"manifest-{version:03d}.dsse.json", canonical(envelope(data, key)))
        if token:
            _write_new(directory, f"manifest-{version:03d}.tsr", token)
    return Sealed(run_dir, name, version, sha256_hex(data),
                  fingerprint(key.public_key()) if key is not None else "", bool(token))


def sign_run(run_dir: str | Path, *, role: str, meaning: str, name: str, key: Ed25519PrivateKey,
             now: datetime | None = None) -> tuple[str, SignatureRecord]:
    """Append an electronic signature over the run's latest manifest. Returns (file name, the record)."""
    run_dir = Path(run_dir)
    if role not in ROLES:
        raise SealError(f"role must be one of {', '.join(ROLES)}")
    if not meaning.strip() or not name.strip():
        raise SealError("a signature needs the signer's printed name and the meaning of the signature")
    versions = manifests(run_dir)
    if not versions:
        raise SealError(f"{run_dir}: not sealed (no manifest); nothing to sign")
    latest = read_manifest(run_dir, max(versions))
    signed_at = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    pub = key.public_key()
    record = SignatureRecord(role=role, name=name.strip(), meaning=meaning.strip(), signed_at=signed_at,
                             key_id=fingerprint(pub), manifest_sha256=latest.sha256)
    statement = {
        "_type": STATEMENT_TYPE, "predicateType": SIGNATURE_PREDICATE,
        "subject": [{"name": latest.name, "digest": {"sha256": latest.sha256}}],
        "predicate": {"run_id": str(latest.predicate.get("run_id", "")), "role": record.role, "name": record.name,
                      "meaning": record.meaning, "signed_at": signed_at.isoformat(), "key_id": record.key_id,
                      "public_key": public_pem(pub), "manifest": latest.name,
                      "manifest_sha256": latest.sha256},
    }
    env = canonical(envelope(canonical(statement), key))
    with OutputDir.open(run_dir, create=False) as directory:
        for _ in range(3):  # two signers at once: the second takes the next number
            number = max(_numbers(os.listdir(run_dir), _SIGNATURE), default=0) + 1
            file_name = f"signature-{number:03d}.dsse.json"
            try:
                _write_new(directory, file_name, env)
                return file_name, record
            except SealError:
                continue
    raise SealError(f"{run_dir}: could not find a free signature file name")


@frozen
class SignatureFile:
    name: str
    record: SignatureRecord
    subject: str  # the manifest file name it covers
    public_key: Ed25519PublicKey
    run_id: str


def _signature_file(run_dir: Path, name: str) -> SignatureFile:
    """Parse (but do not trust) one signature file: the key inside it is checked by verify."""
    data = _read_small(run_dir / name)
    try:
        env = json.loads(data)
        payload = _b64decode(env["payload"])
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise SealError(f"{name}: not a DSSE envelope") from None
    st = _statement(payload, f"{name} (payload)", SIGNATURE_PREDICATE)
    p = st["predicate"]
    try:
        key = _public_key(str(p["public_key"]).encode(), f"{name}: public_key")
        record = SignatureRecord(role=str(p["role"]), name=str(p["name"]), meaning=str(p["meaning"]),
                                 signed_at=datetime.fromisoformat(str(p["signed_at"])), key_id=str(p["key_id"]),
                                 manifest_sha256=str(p["manifest_sha256"]))
        subject = st["subject"][0]["name"]
        if not isinstance(subject, str):
            raise TypeError
    except (KeyError, TypeError, ValueError, IndexError):
        raise SealError(f"{name}: not a gxpscan signature (a field is missing or of the wrong type)") from None
    open_envelope(data, key)
    return SignatureFile(name, record, subject, key, str(p.get("run_id", "")))


def read_signatures(run_dir: str | Path) -> tuple[SignatureRecord, ...]:
    """The signature manifestations of a run, in file order. A file that cannot be read is left out here;
    ``verify_run`` reports it (readers verify first)."""
    run_dir = Path(run_dir)
    try:
        names = os.listdir(run_dir)
    except OSError:
        return ()
    out = []
    for _n, name in sorted(_numbers(names, _SIGNATURE).items()):
        try:
            out.append(_signature_file(run_dir, name).record)
        except (SealError, OSError):
            continue
    return tuple(out)


# --- verifying ---------------------------------------------------------------------------------------------------

@dataclass
class Verification:
    """What verify found. ``problems`` make the run not intact; ``notes`` are facts the reader should know."""

    target: Path
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manifest: str = ""
    manifest_sha256: str = ""
    #: the record's run information, when verify could read the record (verify_chain reads no record twice)
    run_info: RunInfo | None = None
    #: the whole record when verify read it intact (the history indexes it without reading it twice)
    record: Record | None = None

    @property
    def intact(self) -> bool:
        return not self.problems


def _short(digest: str) -> str:
    return digest[:16] if digest else "(none)"


def _why(exc: BaseException, name: str) -> str:
    text = str(exc)
    return text[len(name) + 2:] if text.startswith(f"{name}: ") else text


def _pinned(key_id: str, pinned: Sequence[Ed25519PublicKey]) -> bool:
    return any(fingerprint(k) == key_id for k in pinned)


def verify_run(run_dir: str | Path, *, pubkeys: Sequence[Ed25519PublicKey] = (),
               tsa_certs: Sequence[bytes] = ()) -> Verification:
    """Check a sealed run directory completely: every manifest version, every hash, every signature, every
    time-stamp token, and the record's internal consistency. With ``pubkeys`` every manifest must be signed by
    one of them, and every electronic signature must be made with one of them."""
    run_dir = Path(run_dir)
    v = Verification(run_dir)
    try:
        entries = scan_dir(run_dir)
    except OSError as exc:
        v.problems.append(f"cannot read the run directory: {exc.strerror or exc}")
        return v
    versions = _numbers(entries, _MANIFEST)
    if not versions:
        v.problems.append("not sealed: no manifest (manifest-001.json) in the run directory; it was never sealed "
                          "or the manifest was removed")
        _check_record(run_dir, None, v)
        return v
    expected = list(range(1, max(versions) + 1))
    for n in expected:
        if n not in versions:
            v.problems.append(f"removed: {manifest_name(n)} (manifest versions must run 1..{max(versions)})")
    loaded: list[Manifest] = []
    for n in sorted(versions):
        try:
            loaded.append(read_manifest(run_dir, n))
        except (SealError, OSError) as exc:
            v.problems.append(f"manifest {manifest_name(n)}: {_why(exc, manifest_name(n))}")
    if not loaded:
        return v
    latest = loaded[-1]
    v.manifest, v.manifest_sha256 = latest.name, latest.sha256
    run_id = str(loaded[0].predicate.get("run_id", ""))
    covered: set[str] = set()
    previous: Manifest | None = None
    for m in loaded:
        _check_manifest(run_dir, m, previous, run_id, entries, pubkeys, tsa_certs, v, m is loaded[-1])
        covered |= {m.name, f"manifest-{m.version:03d}.dsse.json", f"manifest-{m.version:03d}.tsr"}
        previous = m
    # files now present against the latest manifest
    sealed = latest.subjects
    signature_names = set(_numbers(entries, _SIGNATURE).values())
    check_files(latest, entries, signature_names, v)
    # earlier versions: the record never changes; a re-seal never drops a file
    for m in loaded[:-1]:
        for name, digest in m.subjects.items():
            later = sealed.get(name)
            if later is None:
                v.problems.append(f"removed: {name} (sealed in {m.name}, missing from {latest.name})")
            elif later != digest:
                if name == RECORD_NAME or is_seal_artifact(name):
                    v.problems.append(f"changed: {name} between {m.name} and {latest.name} (a sealed "
                                      f"{'record' if name == RECORD_NAME else 'seal file'} never changes)")
                else:
                    v.notes.append(f"{name} was rewritten after {m.name} (by a later report); sealed again in "
                                   f"{latest.name}")
    if tsa_certs and not any(m.predicate.get("time_stamp_authority") for m in loaded):
        v.problems.append("no manifest is time-stamped, but --tsa-cert asks for trusted time")
    for name in sorted(signature_names):
        _check_signature(run_dir, name, loaded, run_id, pubkeys, v)
    for name in sorted(entries):
        if (_ENVELOPE.fullmatch(name) or _TOKEN.fullmatch(name)) and name not in covered:
            v.problems.append(f"added: {name} (belongs to no manifest present)")
    _check_record(run_dir, run_id, v)
    return v


def check_files(latest: Manifest, entries: Mapping[str, Entry], unsealed: Iterable[str], v: Verification) -> None:
    """The files present against the ones ``latest`` seals: removed, changed, added. ``latest``'s own seal files
    and the names in ``unsealed`` (made after it) need not be sealed."""
    sealed = latest.subjects
    own = {latest.name, f"manifest-{latest.version:03d}.dsse.json", f"manifest-{latest.version:03d}.tsr",
           *unsealed}
    for name in sorted(set(sealed) | set(entries)):
        entry = entries.get(name)
        if name in sealed:
            if entry is None:
                v.problems.append(f"removed: {name} (sealed in {latest.name})")
            elif entry.kind != "file":
                v.problems.append(f"changed: {name} is now a {entry.kind} (sealed as a file in {latest.name})")
            elif entry.sha256 != sealed[name]:
                v.problems.append(f"changed: {name} (sealed sha256 {_short(sealed[name])}, "
                                  f"now {_short(entry.sha256)})")
        elif name not in own and entry is not None:
            what = "" if entry.kind == "file" else f" (a {entry.kind})"
            v.problems.append(f"added: {name}{what} (not in {latest.name})")


def _check_manifest(run_dir: Path, m: Manifest, previous: Manifest | None, run_id: str,
                    entries: Mapping[str, Entry], pubkeys: Sequence[Ed25519PublicKey],
                    tsa_certs: Sequence[bytes], v: Verification, latest: bool) -> None:
    p = m.predicate
    if p.get("version") != m.version:
        v.problems.append(f"{m.name}: says it is version {p.get('version')!r}; renamed or moved")
    if p.get("run_id") != run_id:
        v.problems.append(f"{m.name}: belongs to run {str(p.get('run_id'))[:80]!r}, not {run_id!r}")
    want = previous.sha256 if previous else ""
    if previous is not None and p.get("supersedes_sha256") != want:
        v.problems.append(f"{m.name}: does not follow {previous.name} (names {_short(str(p.get('supersedes_sha256')))}"
                          f", {previous.name} is {_short(want)}): a manifest was replaced")
    if previous is not None and m.subjects.get(previous.name) != previous.sha256:
        v.problems.append(f"{m.name}: does not seal {previous.name} as it is now")
    check_signer(run_dir, m, entries, pubkeys, v, latest)
    check_time_stamp(run_dir, m, entries, tsa_certs, v)


def check_signer(run_dir: Path, m: Manifest, entries: Mapping[str, Entry], pubkeys: Sequence[Ed25519PublicKey],
                 v: Verification, latest: bool) -> None:
    """The DSSE envelope of manifest ``m`` against the signer its predicate names (and ``pubkeys``)."""
    p = m.predicate
    env_name = f"manifest-{m.version:03d}.dsse.json"
    signer = p.get("signer")
    if isinstance(signer, dict):
        if env_name not in entries:
            v.problems.append(f"removed: {env_name} ({m.name} was signed by key {_short(str(signer.get('key_id')))})")
        else:
            try:
                key = _public_key(str(signer.get("public_key", "")).encode(), f"{m.name}: signer")
                if fingerprint(key) != signer.get("key_id"):
                    raise SealError(f"{m.name}: the signer's key id does not match its key")
                payload = open_envelope(_read_small(run_dir / env_name), key)
                if payload != m.data:
                    raise SealError(f"{env_name}: signs another manifest than {m.name}")
                if pubkeys and not _pinned(fingerprint(key), pubkeys):
                    v.problems.append(f"{env_name}: signed by key {_short(fingerprint(key))}, which is none of the "
                                      "--pubkey keys")
                else:
                    v.notes.append(f"{m.name}: signature verifies (key {fingerprint(key)}"
                                   f"{'' if pubkeys else ', taken from the manifest: give --pubkey to pin it'})")
            except (SealError, OSError) as exc:
                v.problems.append(f"signature {env_name}: {_why(exc, env_name)}")
    else:
        if env_name in entries:
            v.problems.append(f"added: {env_name} ({m.name} names no signer)")
        if pubkeys and latest:
            v.problems.append(f"{m.name}: not signed, but --pubkey asks for a signed run (the latest manifest, "
                              "which seals everything before it, must be signed)")
        elif pubkeys:
            v.notes.append(f"{m.name}: not signed; a later manifest seals it and is checked")
        else:
            v.notes.append(f"{m.name}: not signed (hashes only)")


def check_time_stamp(run_dir: Path, m: Manifest, entries: Mapping[str, Entry], tsa_certs: Sequence[bytes],
                     v: Verification) -> None:
    """The RFC 3161 token of manifest ``m`` when its predicate names a TSA (and none when it names none)."""
    p = m.predicate
    tsr_name = f"manifest-{m.version:03d}.tsr"
    if p.get("time_stamp_authority"):
        if tsr_name not in entries:
            v.problems.append(f"removed: {tsr_name} ({m.name} was time-stamped)")
        else:
            from scanner import tsa

            try:
                stamp = tsa.verify_token(_read_small(run_dir / tsr_name), hashlib.sha256(m.data).digest(),
                                         tsa_certs)
                how = "signature verified with --tsa-cert" if tsa_certs else \
                    "message imprint matches; give --tsa-cert to check the authority's signature"
                v.notes.append(f"{m.name}: time-stamped {stamp.gen_time.isoformat()} ({how})")
            except (tsa.TSAError, OSError, SealError) as exc:
                v.problems.append(f"time-stamp {tsr_name}: {_why(exc, tsr_name)}")
    elif tsr_name in entries:
        v.problems.append(f"added: {tsr_name} ({m.name} asked for no time-stamp)")


def _check_signature(run_dir: Path, name: str, loaded: Sequence[Manifest], run_id: str,
                     pubkeys: Sequence[Ed25519PublicKey], v: Verification) -> None:
    try:
        sig = _signature_file(run_dir, name)
    except (SealError, OSError) as exc:
        v.problems.append(f"signature {name}: {_why(exc, name)}")
        return
    r = sig.record
    mine = {m.name: m for m in loaded}
    target = mine.get(sig.subject)
    if sig.run_id != run_id or target is None or target.sha256 != r.manifest_sha256:
        v.problems.append(f"signature {name}: covers a manifest of another record ({sig.subject}, "
                          f"sha256 {_short(r.manifest_sha256)}, run {sig.run_id[:80]!r}); a signature cannot be "
                          "moved to another record")
        return
    if fingerprint(sig.public_key) != r.key_id:
        v.problems.append(f"signature {name}: the key id does not match the key")
        return
    if pubkeys and not _pinned(r.key_id, pubkeys):
        v.problems.append(f"signature {name}: made with key {_short(r.key_id)}, which is none of the --pubkey keys")
        return
    later = "" if target is loaded[-1] else f"; the run was sealed again after it ({loaded[-1].name})"
    v.notes.append(f"signature {name}: {r.role} {r.name!r}, {r.signed_at.isoformat()}, meaning {r.meaning!r}, "
                   f"key {r.key_id}: verifies over {target.name}{later}")


def _raw_matches(raw: str, digest: str) -> bool:
    if sha256_hex(raw.encode("utf-8", "surrogateescape")) == digest:
        return True
    if "\\x" in raw:  # bytes that were not UTF-8 were kept as \\xNN escapes: undo them
        undone = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw.encode("utf-8"))
        return sha256_hex(undone) == digest
    return False


def _check_record(run_dir: Path, run_id: str | None, v: Verification) -> None:
    from scanner.store import RecordError, read_record

    path = run_dir / RECORD_NAME
    try:
        record = read_record(path)
    except RecordError as exc:
        v.problems.append(f"record: {exc}")
        return
    except OSError as exc:
        v.problems.append(f"record: cannot read {RECORD_NAME}: {exc.strerror or exc}")
        return
    run = record.run
    v.run_info = run.info
    v.record = record
    if run_id is not None and run.info.id != run_id:
        v.problems.append(f"record: run id {run.info.id!r} is not the sealed run id {run_id!r}")
    for r in run.results:
        missing = [e for e in r.evidence if e not in run.evidence]
        if missing:
            v.problems.append(f"record: finding {r.check} on {r.target} ({r.resource[:80]}) names evidence "
                              f"{missing[0]} that the record does not hold")
    for ref, ev in run.evidence.items():
        digest, raw = ev.get("sha256"), ev.get("raw")
        if isinstance(digest, str) and isinstance(raw, str) and not ev.get("truncated"):
            if not _raw_matches(raw, digest):
                v.problems.append(f"record: evidence {ref} ({str(ev.get('fact'))[:60]} on "
                                  f"{str(ev.get('target'))[:60]}): its raw text does not hash to its sha256")
    report = run_dir / "report.json"
    if report.is_file() and not report.is_symlink():
        limit = MAX_SEAL_FILE + REPORT_GROWTH * path.stat().st_size
        try:
            doc = json.loads(_read_small(report, limit, f" ({REPORT_GROWTH}x the record plus {MAX_SEAL_FILE}): "
                                                        "too large to be this record's JSON report; not read"))
            counts = doc["run"]["counts"]
            findings = len(doc["findings"])
        except SealError as exc:
            v.problems.append(str(exc))
            return
        except (ValueError, KeyError, TypeError, RecursionError):
            v.problems.append("report.json: not a gxpscan JSON report")
            return
        if counts != run.counts() or findings != len(run.results):
            v.problems.append(f"report.json: its counts {counts} do not match the record's {run.counts()}")


def verify_chain(results_dir: str | Path, *, pubkeys: Sequence[Ed25519PublicKey] = (),
                 tsa_certs: Sequence[bytes] = ()) -> Verification:
    """Verify every run in ``results_dir`` and the hash chain between them: each run names the first manifest of
    the run that started before it. A deleted, replaced, inserted or reordered run breaks the chain."""
    from scanner.store import RecordError, read_record

    results_dir = Path(results_dir)
    v = Verification(results_dir)
    runs: list[tuple[str, str, str, str]] = []  # (started, directory name, first manifest sha, previous)
    try:
        children = sorted(p for p in results_dir.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError as exc:
        v.problems.append(f"cannot read {results_dir}: {exc.strerror or exc}")
        return v
    for child in children:
        if not (child / RECORD_NAME).exists() and not manifests(child):
            continue
        one = verify_run(child, pubkeys=pubkeys, tsa_certs=tsa_certs)
        v.problems += [f"{child.name}: {p}" for p in one.problems]
        try:
            # verify_run read the record unless it stopped before (no manifest could be read)
            info = one.run_info or read_record(child / RECORD_NAME).run.info
            first = first_manifest_sha256(child)
        except (RecordError, SealError, OSError):
            continue  # reported above
        runs.append((info.started.isoformat(), child.name, first, info.previous_manifest_sha256))
    if not runs:
        v.problems.append(f"{results_dir}: no run directory found")
        return v
    runs.sort()
    by_hash = {r[2]: r for r in runs}
    for i, (_started, name, _first, prev) in enumerate(runs):
        before = runs[i - 1] if i else None
        if before is not None and prev == before[2]:
            continue
        if before is None and not prev:
            continue
        if not prev:
            v.problems.append(f"chain: {name} names no previous run, but {before[1] if before else '?'} started "
                              "before it: it was sealed elsewhere and moved here, or the chain was cut")
        elif prev in by_hash:
            v.problems.append(f"chain: {name} follows {by_hash[prev][1]}, but "
                              f"{before[1] if before else 'no run'} is the run that started just before it: "
                              "runs were reordered, inserted or their times changed")
        else:
            v.problems.append(f"chain: the run before {name} (manifest sha256 {_short(prev)}) is missing: "
                              f"deleted or replaced{f'; the run found before it is {before[1]}' if before else ''}")
    v.notes.append(f"chain: {len(runs)} run(s), from {runs[0][1]} to {runs[-1][1]}")
    return v

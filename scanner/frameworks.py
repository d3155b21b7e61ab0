"""Framework catalogs: which clauses of which regulation or standard each check gives evidence for, and how much.

The catalogs are data (``checks/frameworks/*.yaml``, format v2, one file per framework version), framework-first:
each clause lists its mappings (check ids, evidence strength ``direct``/``supporting``/``context``, a rationale,
an optional applicability condition), the procedural evidence a site must supply, its own applicability
condition and status; each catalog carries its provenance (edition, effective date, amendments, source) and
status. This module loads and validates them against ``scanner/schemas/catalog.schema.json`` into frozen typed
values, refuses a clause that could overclaim (``full`` without a ``direct`` mapping), inverts them into a
check -> clause map for the runner, records what a run used (:func:`run_use`), and renders them for the README
and the CLI. It imports only the stdlib, scanner.model, PyYAML and (lazily) jsonschema.

Validating every packaged catalog against the schema took a third of a second on every start. The packaged
catalogs' validated parse is therefore kept in a cache (``$XDG_CACHE_HOME/gxpscan``, else ``~/.cache/gxpscan``)
keyed by the SHA-256 of every catalog file, of the schema and of this module, and trusted only when the folder and
the file belong to the user running gxpscan and nobody else can write them (anything else: full validation).
Catalogs given by a user (``directory``) are always validated, and so are packaged ones whose bytes changed.
"""
from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scanner import packaged
from scanner.model import CatalogUse, ClauseUse, MappingUse
from scanner.privatecache import cache_dir, read_private_json, write_private
from scanner.value import frozen


class CatalogError(Exception):
    """A catalog file is unreadable or invalid. The message names the file and the path of the fault."""


class UnknownNameError(KeyError):
    """An unknown framework or clause name (a KeyError, so callers can treat it as a lookup miss)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _TextEnum(str, enum.Enum):
    """Prints and formats as its value (tables, f-strings)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class Automatable(_TextEnum):
    FULL = "full"
    PARTIAL = "partial"
    MANUAL = "manual"


class CatalogStatus(_TextEnum):
    """Whether a catalog (or one clause of it) is in force, a draft for consultation, or superseded."""

    IN_FORCE = "in_force"
    DRAFT = "draft"
    SUPERSEDED = "superseded"


#: The name the format agreement uses for it.
Status = CatalogStatus


class Strength(_TextEnum):
    """How much a check shows about a clause: ``direct`` shows its technical requirement is met on the system,
    ``supporting`` shows one of several technical parts, ``context`` is related but not evidence."""

    DIRECT = "direct"
    SUPPORTING = "supporting"
    CONTEXT = "context"


#: An applicability condition: every key must hold for the target (see scanner.coverage.applicability).
Condition = Mapping[str, Any]


@frozen
class ClauseMapping:
    """Checks that give evidence for a clause, how strong that evidence is, and why."""

    checks: tuple[str, ...]
    strength: Strength
    rationale: str
    applies_when: Condition = field(default_factory=lambda: MappingProxyType({}))


@frozen
class Clause:
    id: str
    title: str
    summary: str
    automatable: Automatable
    mappings: tuple[ClauseMapping, ...] = ()
    related: tuple[str, ...] = ()
    status: CatalogStatus = CatalogStatus.IN_FORCE
    procedural_evidence: str = ""
    applies_when: Condition = field(default_factory=lambda: MappingProxyType({}))

    @property
    def checks(self) -> tuple[str, ...]:
        """Every check id of every mapping, in catalog order, once."""
        return tuple(dict.fromkeys(cid for m in self.mappings for cid in m.checks))

    def strength_of(self, check_id: str) -> Strength | None:
        """The strongest strength any mapping gives ``check_id`` (None when it is not mapped)."""
        found = [m.strength for m in self.mappings if check_id in m.checks]
        return min(found, key=list(Strength).index) if found else None

    @property
    def is_direct(self) -> bool:
        """Whether a scan alone can show the clause met: rated full, with a direct mapping, no procedural part."""
        return (self.automatable is Automatable.FULL and not self.procedural_evidence
                and any(m.strength is Strength.DIRECT for m in self.mappings))

    @property
    def needs_manual_evidence(self) -> bool:
        return not self.is_direct


@frozen
class Provenance:
    """Which text the summaries follow: its edition or revision, when it took effect, what changed since."""

    edition: str
    effective: str
    source: str
    amendments: tuple[str, ...] = ()
    notes: str = ""


@frozen
class Catalog:
    id: str
    title: str
    version: str  # a short label of the edition for listings; the exact revision is provenance.edition
    status: CatalogStatus
    provenance: Provenance
    clauses: tuple[Clause, ...]
    aliases: tuple[str, ...] = ()  # other names accepted for --framework
    order: int | None = None  # place in reports and clause refs; None sorts last
    sha256: str = ""  # of the catalog file's bytes, as read

    @property
    def source(self) -> str:
        return self.provenance.source

    @property
    def names(self) -> tuple[str, ...]:
        """Every name that resolves to this catalog: its id and its aliases."""
        return (self.id, *self.aliases)

    def clause(self, clause_id: str) -> Clause:
        for c in self.clauses:
            if c.id == clause_id:
                return c
        raise UnknownNameError(f"{self.id} has no clause {clause_id!r}")

    def ref(self, clause: Clause) -> str:
        return f"{self.id}:{clause.id}"

    @property
    def check_ids(self) -> frozenset[str]:
        return frozenset(cid for c in self.clauses for cid in c.checks)


# --- loading ----------------------------------------------------------------------------------------------

def _catalog_dir() -> Any:
    """The packaged ``checks/frameworks`` folder, or the repository's when the package is not importable."""
    try:
        return packaged.files("checks.frameworks")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "checks" / "frameworks"


@functools.cache
def catalog_schema() -> dict[str, Any]:
    text = packaged.files("scanner").joinpath("schemas/catalog.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(catalog_schema())


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _schema_problems(data: Any) -> list[str]:
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return [f"{_path(e.absolute_path)}: {e.message}" for e in errors]


def _condition(raw: Mapping[str, Any] | None) -> Condition:
    return MappingProxyType({k: tuple(v) if isinstance(v, list) else v for k, v in (raw or {}).items()})


def _clause(raw: Mapping[str, Any], default_status: CatalogStatus) -> Clause:
    return Clause(
        id=raw["id"], title=raw["title"], summary=raw.get("summary", ""),
        automatable=Automatable(raw["automatable"]),
        mappings=tuple(ClauseMapping(checks=tuple(m["checks"]), strength=Strength(m["strength"]),
                                     rationale=m["rationale"], applies_when=_condition(m.get("applies_when")))
                       for m in raw["mappings"]),
        related=tuple(raw.get("related", ())), status=CatalogStatus(raw.get("status", default_status)),
        procedural_evidence=raw.get("procedural_evidence", ""), applies_when=_condition(raw.get("applies_when")),
    )


def _model_problems(data: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say: unique clause ids, and no clause that could overclaim (a ``full`` rating
    without a direct mapping, a clause needing procedural records that does not name them)."""
    problems = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(data["clauses"]):
        cid = raw["id"]
        if cid in seen:
            problems.append(f"clauses[{i}].id: duplicate clause id {cid!r} (first at clauses[{seen[cid]}])")
        seen.setdefault(cid, i)
        strengths = {m["strength"] for m in raw["mappings"]}
        if raw["automatable"] == "full" and Strength.DIRECT.value not in strengths:
            problems.append(f"clauses[{i}].mappings: automatable 'full' needs at least one 'direct' mapping")
        if raw["automatable"] != "full" and not raw.get("procedural_evidence"):
            problems.append(f"clauses[{i}].procedural_evidence: required for automatable "
                            f"{raw['automatable']!r} (name the SOP or record a site must supply)")
    return problems


def parse_catalog(data: Any, origin: str, sha256: str = "", *, schema: bool = True) -> Catalog:
    """Validate one catalog's data and build it; ``origin`` (the file name) starts every error message.
    ``sha256`` is the digest of the file's bytes, kept as the catalog's provenance in every run that uses it.
    ``schema=False`` skips only the schema (for data this module validated before, from the cache)."""
    problems = _schema_problems(data) if schema else []
    if not problems:
        problems = _model_problems(data)
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise CatalogError(f"{origin}: invalid catalog:\n" + "\n".join(f"  {origin}: {p}" for p in shown))
    status = CatalogStatus(data["status"])
    prov = data["provenance"]
    return Catalog(
        id=data["framework"], title=data["title"], version=data["version"], status=status,
        provenance=Provenance(edition=prov["edition"], effective=str(prov["effective"]), source=prov["source"],
                              amendments=tuple(prov.get("amendments") or ()), notes=prov.get("notes", "")),
        clauses=tuple(_clause(raw, status) for raw in data["clauses"]),
        aliases=tuple(data.get("aliases", ())), order=data.get("order"), sha256=sha256,
    )


def _read_yaml(text: str, origin: str) -> Any:
    from scanner.yamlload import YamlError, load_yaml

    try:
        return load_yaml(text)
    except YamlError as exc:
        raise CatalogError(f"{origin}: not valid YAML: {exc}") from None


def _check_related(catalogs: Mapping[str, Catalog], origins: Mapping[str, str]) -> None:
    known = {cat.ref(c) for cat in catalogs.values() for c in cat.clauses}
    problems = []
    for cat in catalogs.values():
        for i, clause in enumerate(cat.clauses):
            for j, ref in enumerate(clause.related):
                if ref not in known:
                    problems.append(f"{origins[cat.id]}: clauses[{i}].related[{j}]: {ref!r} names no loaded clause")
    if problems:
        raise CatalogError("unresolved crosswalk refs:\n" + "\n".join(f"  {p}" for p in problems))


def _load_dir(directory: Any, cache: Path | None = None) -> dict[str, Catalog]:
    """Every catalog of ``directory``, validated; with ``cache`` (a folder), the validated parse of these exact
    bytes is taken from there when it is trustworthy, and written there after a full validation."""
    files = sorted((f for f in directory.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name)
    if not files:
        raise CatalogError(f"{directory}: no framework catalog (*.yaml) found")
    raws = [(f.name, f.read_bytes()) for f in files]
    digests = {name: hashlib.sha256(raw).hexdigest() for name, raw in raws}
    key = _cache_key(digests) if cache is not None else ""
    cached = _cache_read(cache, key, set(digests)) if cache is not None else None
    catalogs: dict[str, Catalog] = {}
    origins: dict[str, str] = {}
    parsed: dict[str, Any] = {}
    for name, raw in raws:
        data = cached[name] if cached is not None else _read_yaml(raw.decode("utf-8", "replace"), name)
        cat = parse_catalog(data, name, digests[name], schema=cached is None)
        if cat.id in catalogs:
            raise CatalogError(f"{name}: framework: {cat.id!r} is also defined in {origins[cat.id]}")
        catalogs[cat.id] = cat
        origins[cat.id] = name
        parsed[name] = data
    _check_related(catalogs, origins)
    _check_names(catalogs, origins)
    if cache is not None and cached is None:
        _cache_write(cache, key, parsed)
    return {cat.id: cat for cat in _ordered(catalogs)}


# --- the cache of the packaged catalogs' validated parse --------------------------------------------------------

_CACHE_FORMAT = "gxpscan-catalog-cache/1"
_CACHE_FILE = "catalogs.json"
#: A cache file larger than this is not read (the packaged catalogs' parse is some 200 KB).
_CACHE_MAX_BYTES = 16 * 1024 * 1024


def _cache_key(digests: Mapping[str, str]) -> str:
    """SHA-256 over what the cached parse depends on: every catalog file, the schema, and this module's code."""
    digest = hashlib.sha256(_CACHE_FORMAT.encode() + b"\0")
    schema = packaged.files("scanner").joinpath("schemas/catalog.schema.json").read_bytes()
    for part in (schema, Path(__file__).read_bytes()):
        digest.update(hashlib.sha256(part).digest())
    for name in sorted(digests):
        digest.update(f"{name}\0{digests[name]}\0".encode())
    return digest.hexdigest()


def _cache_read(cache: Path, key: str, names: set[str]) -> dict[str, Any] | None:
    """The cached parse of exactly these files, or None (absent, another key, not ours, writable by another
    user, a symbolic link, too large, not the expected form): the caller then validates in full."""
    doc = read_private_json(cache, _CACHE_FILE, _CACHE_MAX_BYTES)
    if not isinstance(doc, dict) or doc.get("format") != _CACHE_FORMAT or doc.get("key") != key:
        return None
    catalogs = doc.get("catalogs")
    if not isinstance(catalogs, dict) or set(catalogs) != names:
        return None
    return catalogs


def _cache_write(cache: Path, key: str, parsed: Mapping[str, Any]) -> None:
    """Keep the validated parse for the next start; silently nothing when it cannot be kept exactly (data JSON
    cannot hold, a folder that is not private to us, any I/O fault): the cache only saves time."""
    text = json.dumps({"format": _CACHE_FORMAT, "key": key, "catalogs": parsed}, sort_keys=True)
    if json.loads(text)["catalogs"] != parsed:
        return
    write_private(cache, _CACHE_FILE, text)


def _check_names(catalogs: Mapping[str, Catalog], origins: Mapping[str, str]) -> None:
    """Every framework name and alias means one catalog."""
    owner: dict[str, str] = {}
    for cat in catalogs.values():
        for name in cat.names:
            if owner.setdefault(name, cat.id) != cat.id:
                raise CatalogError(f"{origins[cat.id]}: name {name!r} also names {owner[name]!r} "
                                   f"({origins[owner[name]]})")


@functools.cache
def _packaged(use_cache: bool) -> tuple[tuple[str, Catalog], ...]:
    return tuple(_load_dir(_catalog_dir(), cache_dir() if use_cache else None).items())


def load_catalogs(directory: str | Path | None = None, *, use_cache: bool = True) -> dict[str, Catalog]:
    """All catalogs, validated, by framework id in canonical order.

    ``directory`` replaces the packaged catalogs (tests, a user's own catalogs) and is always validated in full.
    The packaged catalogs come from the cache of their validated parse when their bytes are those validated
    before (``use_cache=False``: validate them in full, as ``selftest`` does). A fault raises CatalogError naming
    the file and the path inside it (``part11.yaml: clauses[3].automatable: ...``).
    """
    if directory is None:
        return dict(_packaged(use_cache))
    return _load_dir(Path(directory))


# --- queries ----------------------------------------------------------------------------------------------

def resolve(name: str, catalogs: Mapping[str, Catalog] | None = None) -> str:
    """Framework id for a name or one of its aliases (e.g. ``iso27001`` -> ``iso27001-2022``).

    The names are data: each catalog's id and its ``aliases`` (the packaged catalogs unless others are given).
    """
    catalogs = load_catalogs() if catalogs is None else catalogs
    names = {n: cat.id for cat in catalogs.values() for n in cat.names}
    key = name.strip().lower().replace("_", "-").replace(" ", "")
    if key in names:
        return names[key]
    raise UnknownNameError(f"unknown framework {name!r}; known: {', '.join(sorted(names))}")


def _covers(parent: str, child: str) -> bool:
    """Whether clause ``child`` is ``parent`` or one of its sub-clauses (12 -> 12.1; 11.10 -> 11.10(d))."""
    return child == parent or child.startswith((parent + ".", parent + "("))


def checks_for(catalogs: Mapping[str, Catalog], framework: str, clause: str | None = None) -> set[str]:
    """Check ids giving evidence for a framework, or for one clause of it (including its sub-clauses)."""
    fid = resolve(framework, catalogs)
    if fid not in catalogs:
        raise UnknownNameError(f"framework {fid!r} is not loaded")
    cat = catalogs[fid]
    if clause is None:
        return set(cat.check_ids)
    wanted = clause.split(":", 1)[1] if clause.startswith(fid + ":") else clause
    matched = [c for c in cat.clauses if _covers(wanted, c.id)]
    if not matched:
        raise UnknownNameError(f"{fid} has no clause {clause!r}; clauses: {', '.join(c.id for c in cat.clauses)}")
    return {cid for c in matched for cid in c.checks}


def clause_map(catalogs: Mapping[str, Catalog]) -> dict[str, tuple[str, ...]]:
    """Check id -> its clause refs across all frameworks, sorted by framework order then document order."""
    out: dict[str, list[str]] = {}
    for cat in catalogs.values():
        for clause in cat.clauses:
            for cid in clause.checks:
                out.setdefault(cid, []).append(cat.ref(clause))
    rank = {cat.id: i for i, cat in enumerate(_ordered(catalogs))}
    pos = {cat.ref(c): (rank[cat.id], j) for cat in catalogs.values() for j, c in enumerate(cat.clauses)}
    return {cid: tuple(sorted(refs, key=pos.__getitem__)) for cid, refs in sorted(out.items())}


def run_use(catalogs: Mapping[str, Catalog], selected: Iterable[str]) -> tuple[tuple[CatalogUse, ...],
                                                                             tuple[ClauseUse, ...]]:
    """What a run records of the catalogs: each catalog's provenance (edition, status, file SHA-256), and each
    clause the ``selected`` checks map to, with those checks' strengths and conditions (see scanner.coverage)."""
    wanted = set(selected)
    uses = tuple(CatalogUse(cat.id, cat.title, cat.provenance.edition, cat.provenance.effective, cat.status.value,
                            cat.sha256) for cat in _ordered(catalogs))
    clauses = []
    for cat in _ordered(catalogs):
        for c in cat.clauses:
            maps = tuple(MappingUse(checks, m.strength.value, m.applies_when) for m in c.mappings
                         if (checks := tuple(cid for cid in m.checks if cid in wanted)))
            if maps:
                clauses.append(ClauseUse(cat.ref(c), c.title, c.automatable.value, c.status.value,
                                         c.procedural_evidence, maps, c.applies_when))
    return uses, tuple(clauses)


def _ordered(catalogs: Mapping[str, Catalog]) -> list[Catalog]:
    """Catalogs by their ``order`` (from the catalog file), then by id; catalogs without one come last."""
    return sorted(catalogs.values(), key=lambda c: (c.order is None, c.order or 0, c.id))


# --- rendering --------------------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md_cell(str(v)) for v in row) + " |" for row in rows]
    return lines


def _counts(cat: Catalog) -> dict[Automatable, int]:
    return {a: sum(1 for c in cat.clauses if c.automatable is a) for a in Automatable}


def _strength_counts(cat: Catalog) -> dict[Strength, int]:
    """Mappings per strength (one per check of a mapping)."""
    return {s: sum(len(m.checks) for c in cat.clauses for m in c.mappings if m.strength is s) for s in Strength}


def condition_text(cond: Condition) -> str:
    """``e_signatures: true, system_type: open or closed`` (empty when there is no condition)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return " or ".join(v) if isinstance(v, tuple) else str(v)

    return ", ".join(f"{k}: {value(v)}" for k, v in cond.items())


def mapping_text(m: ClauseMapping) -> str:
    """``check.a, check.b (direct; only when e_signatures: true)``."""
    cond = f"; only when {condition_text(m.applies_when)}" if m.applies_when else ""
    return f"{', '.join(m.checks)} ({m.strength}{cond})"


_LEGEND = ("Full: the requirement is technical and at least one check shows it directly; the scan still shows it "
           "only for the systems and settings scanned. Partial: the checks cover a technical part; the procedural "
           "records each clause names (approvals, reviews, restore tests, application settings) are needed too. "
           "Manual: procedural or application-only, no scan evidence. Evidence strength per check: direct (shows "
           "the clause's technical requirement is met on the system), supporting (one of several technical parts), "
           "context (related, not evidence). `draft` is not in force; `superseded` is kept for history and "
           "for organisations still working to that edition.")

#: Frameworks whose clauses the coverage section lists one by one.
DETAILED_FRAMEWORKS = ("part11", "annex11")


def coverage_markdown(catalogs: Mapping[str, Catalog]) -> str:
    """Markdown: a summary table per framework, then clause by clause for Part 11 and Annex 11."""
    rows = []
    for cat in _ordered(catalogs):
        n = _counts(cat)
        s = _strength_counts(cat)
        rows.append([f"{cat.title} (`{cat.id}`)", cat.version, cat.status, len(cat.clauses),
                     n[Automatable.FULL], n[Automatable.PARTIAL], n[Automatable.MANUAL],
                     sum(1 for c in cat.clauses if c.checks), len(cat.check_ids),
                     s[Strength.DIRECT], s[Strength.SUPPORTING], s[Strength.CONTEXT]])
    lines = _md_table(["Framework", "Version", "Status", "Clauses", "Full", "Partial", "Manual",
                       "Clauses with checks", "Distinct checks", "Direct", "Supporting", "Context"], rows)
    lines += ["", _LEGEND]
    for fid in DETAILED_FRAMEWORKS:
        if fid not in catalogs:
            continue
        cat = catalogs[fid]
        lines += ["", f"#### {cat.title} (`{cat.id}`)", ""]
        lines += _md_table(["Clause", "Topic", "Automatable", "Applies when", "Checks (strength)"],
                           ([c.id, c.title, c.automatable, condition_text(c.applies_when) or "-",
                             "; ".join(_md_mapping(m) for m in c.mappings) or "-"]
                            for c in cat.clauses))
    return "\n".join(lines) + "\n"


def _md_mapping(m: ClauseMapping) -> str:
    cond = f", when {condition_text(m.applies_when)}" if m.applies_when else ""
    return f"{', '.join(f'`{x}`' for x in m.checks)} ({m.strength}{cond})"


_STATUS_TEXT = {
    CatalogStatus.IN_FORCE: "in force",
    CatalogStatus.DRAFT: "DRAFT, not in force",
    CatalogStatus.SUPERSEDED: "SUPERSEDED by a newer edition",
}


def _needs(c: Clause) -> str:
    """What a clause needs besides the scan, in the words of its catalog."""
    if c.is_direct:
        return "scan results (a direct check; no procedural record named)"
    if c.automatable is Automatable.MANUAL:
        return f"procedural evidence only: {c.procedural_evidence}"
    if not any(m.strength is not Strength.CONTEXT for m in c.mappings):
        return f"procedural evidence (no check gives evidence yet): {c.procedural_evidence}"
    return f"scan results plus procedural evidence: {c.procedural_evidence}"


def render_framework_text(catalog: Catalog, width: int = 100) -> str:
    """Plain text for ``gxpscan frameworks F``: each clause, its checks with their strength and conditions, and
    the procedural evidence it needs."""
    import textwrap

    def para(text: str, first: str, rest: str) -> list[str]:
        return textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest)

    prov = catalog.provenance
    out = [f"{catalog.title} ({catalog.id}), version {catalog.version}, {_STATUS_TEXT[catalog.status]}",
           *para(f"Edition: {prov.edition}", "", "  "), f"Effective: {prov.effective}",
           *para(f"Source: {prov.source}", "", "  ")]
    out += [line for a in prov.amendments for line in para(a, "Amended: ", "  ")]
    out += para(prov.notes, "Note: ", "  ") if prov.notes else []
    out.append("")
    for c in catalog.clauses:
        marks = "" if c.status is catalog.status else f" ({_STATUS_TEXT[c.status]})"
        out.append(f"{c.id}  {c.title}  [{c.automatable}]{marks}")
        if c.summary:
            out += para(c.summary, "    ", "    ")
        if c.applies_when:
            out += para(condition_text(c.applies_when), "    applies only when: ", "        ")
        for m in c.mappings:
            out += para(mapping_text(m), "    checks: ", "        ")
            out += para(m.rationale, "        why: ", "             ")
        out += para(_needs(c), "    needs: ", "        ")
        if c.related:
            out += para(", ".join(c.related), "    related: ", "             ")
        out.append("")
    n = _counts(catalog)
    s = _strength_counts(catalog)
    out.append(f"{len(catalog.clauses)} clauses: {n[Automatable.FULL]} full, {n[Automatable.PARTIAL]} partial, "
               f"{n[Automatable.MANUAL]} manual; {len(catalog.check_ids)} distinct checks; mappings: "
               f"{s[Strength.DIRECT]} direct, {s[Strength.SUPPORTING]} supporting, {s[Strength.CONTEXT]} context")
    return "\n".join(out)

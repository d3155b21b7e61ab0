"""Framework catalogs: which clauses of which regulation or standard each check gives evidence for.

The catalogs are data (``checks/frameworks/*.yaml``, one file per framework version), framework-first:
each clause lists its check ids. This module loads and validates them against
``scanner/schemas/catalog.schema.json``, inverts them into a check -> clause map for the runner, and
renders them for the README and the CLI. It imports only the stdlib, PyYAML and (lazily) jsonschema.
"""
from __future__ import annotations

import enum
import functools
import importlib.resources
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    IN_FORCE = "in_force"
    DRAFT = "draft"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    summary: str
    automatable: Automatable
    checks: tuple[str, ...]
    related: tuple[str, ...] = ()

    @property
    def needs_manual_evidence(self) -> bool:
        return self.automatable is not Automatable.FULL or not self.checks


@dataclass(frozen=True)
class Catalog:
    id: str
    title: str
    version: str
    status: CatalogStatus
    source: str
    clauses: tuple[Clause, ...]
    aliases: tuple[str, ...] = ()  # other names accepted for --framework
    order: int | None = None  # place in reports and clause refs; None sorts last

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
        return importlib.resources.files("checks.frameworks")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "checks" / "frameworks"


@functools.cache
def catalog_schema() -> dict[str, Any]:
    text = importlib.resources.files("scanner").joinpath("schemas/catalog.schema.json").read_text("utf-8")
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


def _clause(raw: Mapping[str, Any]) -> Clause:
    return Clause(
        id=raw["id"], title=raw["title"], summary=raw.get("summary", ""),
        automatable=Automatable(raw["automatable"]), checks=tuple(raw["checks"]),
        related=tuple(raw.get("related", ())),
    )


def parse_catalog(data: Any, origin: str) -> Catalog:
    """Validate one catalog's data and build it; ``origin`` (the file name) starts every error message."""
    problems = _schema_problems(data)
    if not problems:
        seen: dict[str, int] = {}
        for i, raw in enumerate(data["clauses"]):
            cid = raw["id"]
            if cid in seen:
                problems.append(f"clauses[{i}].id: duplicate clause id {cid!r} (first at clauses[{seen[cid]}])")
            seen.setdefault(cid, i)
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise CatalogError(f"{origin}: invalid catalog:\n" + "\n".join(f"  {origin}: {p}" for p in shown))
    return Catalog(
        id=data["framework"], title=data["title"], version=data["version"],
        status=CatalogStatus(data["status"]), source=data["source"],
        clauses=tuple(_clause(raw) for raw in data["clauses"]),
        aliases=tuple(data.get("aliases", ())), order=data.get("order"),
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


def _load_dir(directory: Any) -> dict[str, Catalog]:
    files = sorted((f for f in directory.iterdir() if f.name.endswith((".yaml", ".yml"))), key=lambda f: f.name)
    if not files:
        raise CatalogError(f"{directory}: no framework catalog (*.yaml) found")
    catalogs: dict[str, Catalog] = {}
    origins: dict[str, str] = {}
    for f in files:
        cat = parse_catalog(_read_yaml(f.read_text("utf-8"), f.name), f.name)
        if cat.id in catalogs:
            raise CatalogError(f"{f.name}: framework: {cat.id!r} is also defined in {origins[cat.id]}")
        catalogs[cat.id] = cat
        origins[cat.id] = f.name
    _check_related(catalogs, origins)
    _check_names(catalogs, origins)
    return {cat.id: cat for cat in _ordered(catalogs)}


def _check_names(catalogs: Mapping[str, Catalog], origins: Mapping[str, str]) -> None:
    """Every framework name and alias means one catalog."""
    owner: dict[str, str] = {}
    for cat in catalogs.values():
        for name in cat.names:
            if owner.setdefault(name, cat.id) != cat.id:
                raise CatalogError(f"{origins[cat.id]}: name {name!r} also names {owner[name]!r} "
                                   f"({origins[owner[name]]})")


@functools.cache
def _packaged() -> tuple[tuple[str, Catalog], ...]:
    return tuple(_load_dir(_catalog_dir()).items())


def load_catalogs(directory: str | Path | None = None) -> dict[str, Catalog]:
    """All catalogs, validated, by framework id in canonical order.

    ``directory`` replaces the packaged catalogs (tests, a user's own catalogs). A fault raises
    CatalogError naming the file and the path inside it (``part11.yaml: clauses[3].automatable: ...``).
    """
    if directory is None:
        return dict(_packaged())
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


_LEGEND = ("Full: the requirement is technical and the checks cover it, the scan result is the evidence. "
           "Partial: the checks cover the technical part; procedural records (approvals, reviews, restore tests, "
           "application settings) are needed too. Manual: procedural or application-only, no scan evidence. "
           "`draft` is not in force; `superseded` is kept for organisations still certified on that edition.")

#: Frameworks whose clauses the coverage section lists one by one.
DETAILED_FRAMEWORKS = ("part11", "annex11")


def coverage_markdown(catalogs: Mapping[str, Catalog]) -> str:
    """Markdown: a summary table per framework, then clause by clause for Part 11 and Annex 11."""
    rows = []
    for cat in _ordered(catalogs):
        n = _counts(cat)
        rows.append([f"{cat.title} (`{cat.id}`)", cat.version, cat.status, len(cat.clauses),
                     n[Automatable.FULL], n[Automatable.PARTIAL], n[Automatable.MANUAL],
                     sum(1 for c in cat.clauses if c.checks), len(cat.check_ids)])
    lines = _md_table(["Framework", "Version", "Status", "Clauses", "Full", "Partial", "Manual",
                       "Clauses with checks", "Distinct checks"], rows)
    lines += ["", _LEGEND]
    for fid in DETAILED_FRAMEWORKS:
        if fid not in catalogs:
            continue
        cat = catalogs[fid]
        lines += ["", f"#### {cat.title} (`{cat.id}`)", ""]
        lines += _md_table(["Clause", "Topic", "Automatable", "Checks"],
                           ([c.id, c.title, c.automatable, ", ".join(f"`{x}`" for x in c.checks) or "-"]
                            for c in cat.clauses))
    return "\n".join(lines) + "\n"


_STATUS_TEXT = {
    CatalogStatus.IN_FORCE: "in force",
    CatalogStatus.DRAFT: "DRAFT, not in force",
    CatalogStatus.SUPERSEDED: "superseded by a newer edition",
}

_EVIDENCE = {
    Automatable.FULL: "scan results (no manual evidence)",
    Automatable.PARTIAL: "scan results plus manual evidence",
    Automatable.MANUAL: "manual evidence only",
}


def render_framework_text(catalog: Catalog, width: int = 100) -> str:
    """Plain text for ``gxpscan frameworks F``: each clause, its checks, and whether it needs manual evidence."""
    import textwrap

    status = _STATUS_TEXT[catalog.status]
    out = [f"{catalog.title} ({catalog.id}), version {catalog.version}, {status}", f"Source: {catalog.source}", ""]
    for c in catalog.clauses:
        evidence = _EVIDENCE[c.automatable]
        if c.automatable is not Automatable.MANUAL and not c.checks:
            evidence = "manual evidence (no automated check yet)"
        out.append(f"{c.id}  {c.title}  [{c.automatable}]")
        if c.summary:
            out += textwrap.wrap(c.summary, width, initial_indent="    ", subsequent_indent="    ")
        if c.checks:
            out += textwrap.wrap(", ".join(c.checks), width, initial_indent="    checks: ",
                                 subsequent_indent="            ")
        out.append(f"    needs: {evidence}")
        if c.related:
            out += textwrap.wrap(", ".join(c.related), width, initial_indent="    related: ",
                                 subsequent_indent="             ")
        out.append("")
    n = _counts(catalog)
    out.append(f"{len(catalog.clauses)} clauses: {n[Automatable.FULL]} full, {n[Automatable.PARTIAL]} partial, "
               f"{n[Automatable.MANUAL]} manual; {len(catalog.check_ids)} distinct checks")
    return "\n".join(out)

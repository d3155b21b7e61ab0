"""Risk-based reporting: each failing, erroring or waived finding rated from its check's severity and the GxP impact
its system declares (inventory ``gxp_context.gxp_impact``), on a risk matrix.

The default matrix, with its rationale, is ``scanner/risk_matrix.json``; a site replaces it with a file of the same
shape (``--risk-matrix FILE``), validated by ``scanner/schemas/risk_matrix.schema.json`` (every severity x impact
cell, levels from :class:`RiskLevel`). A target that declares no impact is rated as high impact and the rating says
so (``Risk.declared`` False). A pass, not-applicable or manual result carries no risk. An error is rated like a
failure: a control that could not be shown to work is treated as broken (fail closed).
"""
from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from scanner import packaged
from scanner.model import Result, Risk, RiskLevel, Run, Severity, Status
from scanner.value import evolve, frozen

#: Statuses that carry a risk rating.
RATED = frozenset({Status.FAIL, Status.ERROR, Status.WAIVED})
#: Longest matrix file read.
MAX_MATRIX_BYTES = 64 * 1024
DEFAULT_SOURCE = "default"


class Impact(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    def __str__(self) -> str:
        return self.value


class RiskMatrixError(ValueError):
    """A risk matrix file that cannot be used; the message names the file and the cell at fault."""


@frozen
class RiskMatrix:
    cells: Mapping[tuple[Severity, Impact], RiskLevel]
    source: str  # "default", or the file with its SHA-256

    def level(self, severity: Severity, impact: Impact) -> RiskLevel:
        return self.cells[(severity, impact)]


def _schema() -> dict[str, Any]:
    import json

    text = packaged.files("scanner").joinpath("schemas").joinpath("risk_matrix.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _problem(err: Any) -> str:
    path = ".".join(str(p) for p in err.absolute_path)
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        cells = ", ".join(f"{path}.{k}" if path else k for k in missing)
        what = {"matrix": "severity row"}.get(path, "cell" if path.startswith("matrix.") else "entry")
        return f"{cells}: missing {what} (every severity x impact cell must be given)"
    return f"{path or '(top level)'}: {err.message[:300]}"


def _schema_problems(data: Any) -> list[str]:
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(_schema()).iter_errors(data),
                    key=lambda e: [str(p) for p in e.absolute_path])
    return [_problem(e) for e in errors]


def parse_matrix(data: Any, source: str, name: str = "") -> RiskMatrix:
    """A matrix from parsed YAML/JSON; RiskMatrixError naming the file (``name``, else ``source``) and every faulty
    cell."""
    from scanner import schemacache

    problems = schemacache.problems(data, _schema(), _schema_problems, __file__)  # validated once (the default)
    if problems:
        raise RiskMatrixError(f"risk matrix {name or source}: " + "; ".join(problems))
    cells = {(Severity(sev), Impact(imp)): RiskLevel(level)
             for sev, row in data["matrix"].items() for imp, level in row.items()}
    return RiskMatrix(MappingProxyType(cells), source)


def _load_text(text: str, source: str, name: str = "") -> RiskMatrix:
    from scanner.yamlload import YamlError, load_yaml

    try:
        data = load_yaml(text)
    except YamlError as exc:
        raise RiskMatrixError(f"risk matrix {name or source}: not valid YAML/JSON: {exc}") from None
    return parse_matrix(data, source, name)


def default_matrix() -> RiskMatrix:
    # JSON, read with the standard library: every scan rates its findings, and a scan of code imports no YAML parser
    text = packaged.files("scanner").joinpath("risk_matrix.json").read_text(encoding="utf-8")
    return parse_matrix(json.loads(text), DEFAULT_SOURCE)


def load_matrix(path: str | Path | None) -> RiskMatrix:
    """The site's matrix file, or the default when ``path`` is None."""
    if path is None:
        return default_matrix()
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_MATRIX_BYTES + 1)
    except OSError as exc:
        raise RiskMatrixError(f"risk matrix {path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_MATRIX_BYTES:
        raise RiskMatrixError(f"risk matrix {path}: larger than {MAX_MATRIX_BYTES // 1024} KiB; not read")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RiskMatrixError(f"risk matrix {path}: not UTF-8 text") from None
    return _load_text(text, f"{path} (sha256 {hashlib.sha256(raw).hexdigest()})", str(path))


def impact_of(context: Mapping[str, Any]) -> tuple[Impact, bool]:
    """The declared impact, or high and not declared."""
    try:
        return Impact(context.get("gxp_impact")), True
    except ValueError:
        return Impact.HIGH, False


class _Rater:
    """Rates results of one system: its impact read once, one Risk value per severity."""

    def __init__(self, context: Mapping[str, Any], matrix: RiskMatrix) -> None:
        self.impact, self.declared = impact_of(context)
        self.matrix = matrix
        self.risks: dict[Severity, Risk] = {}

    def __call__(self, result: Result) -> Result:
        if result.status not in RATED:
            return result if result.risk is None else evolve(result, risk=None)
        risk = self.risks.get(result.severity)
        if risk is None:
            risk = self.risks.setdefault(result.severity, Risk(self.matrix.level(result.severity, self.impact),
                                                               self.impact.value, self.declared))
        return evolve(result, risk=risk)


def rate(result: Result, context: Mapping[str, Any], matrix: RiskMatrix) -> Result:
    """The result with its risk (a result that carries none keeps none)."""
    return _Rater(context, matrix)(result)


def rate_all(results: Iterable[Result], context: Mapping[str, Any], matrix: RiskMatrix) -> tuple[Result, ...]:
    rater = _Rater(context, matrix)
    return tuple(rater(r) for r in results)


def rated(run: Run, matrix: RiskMatrix) -> Run:
    """The run with every result that should carry a risk and does not (a record older than the rating) rated
    from the run's recorded GxP context; ratings stored in the record are kept as they are."""
    if not any(r.status in RATED and r.risk is None for r in run.results):
        return run
    raters: dict[str, _Rater] = {}

    def rater(target: str) -> _Rater:
        found = raters.get(target)
        return found if found is not None else raters.setdefault(
            target, _Rater(run.info.gxp_context.get(target, {}), matrix))

    results = tuple(rater(r.target)(r) if r.status in RATED and r.risk is None else r for r in run.results)
    info = run.info if run.info.risk_matrix else replace(run.info, risk_matrix=matrix.source)
    return replace(run, info=info, results=results)


def risk_rank(r: Result) -> int:
    """Higher is riskier; -1 for a result without a risk."""
    return r.risk.level.rank if r.risk is not None else -1


def describe(risk: Risk | None) -> str:
    """The rating in words, for every report: ``high`` or ``high (impact not declared: rated as high)``."""
    if risk is None:
        return ""
    return risk.level.value if risk.declared else f"{risk.level.value} (impact not declared: rated as high)"


def select(run: Run, *, min_risk: RiskLevel | None = None, by_risk: bool = False) -> Run:
    """What reports show: only results rated at or above ``min_risk`` (a result without a risk is left out), and
    with ``by_risk`` the riskiest first (stable: the record's order within a level)."""
    results = list(run.results)
    if min_risk is not None:
        results = [r for r in results if risk_rank(r) >= min_risk.rank]
    if by_risk:
        results.sort(key=lambda r: -risk_rank(r))
    same = len(results) == len(run.results) and all(a is b for a, b in zip(results, run.results, strict=True))
    return run if same else replace(run, results=tuple(results))

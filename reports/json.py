"""JSON report: ``{"run": {...}, "findings": [...], "evidence": {...}, "coverage": [...]}``, valid against
result.schema.json. ``coverage`` is the clause coverage per clause and target (see scanner.coverage): the strength
and result of each check, and the procedural evidence still needed.

Values are kept exactly (the run's warnings included, in ``run.warnings``), except a finding's ``location``, which
is shown as every report shows it (``reports.location``): a finding on code carries its repository-relative path and
line range, the same as in SARIF and JUnit, and a code path that would leave the repository is left out
(``location`` null). The text is written with ``reports.text.write_json`` (``json_text``), so controls, bidi
overrides and lone surrogates from a target are ``\\uXXXX`` escapes: the file is valid UTF-8, parses back to the
same values, and shows nothing raw when printed to a terminal.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from reports.jsonenc import plain
from reports.location import place
from reports.text import write_json
from scanner.coverage import coverage_forms
from scanner.model import Location, Run, run_to_dict, thaw


def render(run: Run, out: TextIO, *, findings: Sequence[Mapping[str, Any]] | None = None, **_: Any) -> None:
    """``findings``: the results' dicts as the run record wrote them (``RecordWriter.result_dicts``), not built
    again; when the record proved them JSON-native (``ResultDicts.json_native``), each finding (its record dict,
    or a copy of it with the location as reports show it) is not walked again before orjson writes it. Nor is
    a coverage item whose form (``scanner.coverage.coverage_forms``, shared by like targets) was found plain
    JSON once."""
    from scanner.store import ResultDicts

    doc = run_to_dict(run, findings)
    proven = isinstance(findings, ResultDicts) and findings.json_native
    native: set[int] = set()
    shown: dict[tuple[int, str], Location | None] = {}  # (id of a Location alive in the run, target type) -> shown
    dicts = doc["findings"]  # the record's own dicts (shared): a finding whose location reports show otherwise is
    for i, r in enumerate(run.results):  # copied with that location; the others are written as the record has them
        if r.location is None:  # (a code finding's may come from its resource)
            where = place(r).location
        else:  # placed once for the findings of a resource (the runner gives them its one Location)
            key = (id(r.location), r.target_type)
            where = shown[key] if key in shown else shown.setdefault(key, place(r).location)
        if where is not r.location:
            location = thaw(where) if where is not None else None
            dicts[i] = finding = {**dicts[i], "location": location}
            if proven and (location is None or plain(location)):
                native.add(id(finding))
        elif proven:
            native.add(id(dicts[i]))
    coverage = []
    forms = coverage_forms(run)
    plain_forms: dict[int, bool] = {}  # id of a form (alive in ``forms``) -> whether it is plain JSON
    for form, target in forms:  # a form is checked once for the like targets that share it
        coverage.append(item := {**form, "target": target})
        found = plain_forms.get(id(form))
        if found is None:
            found = plain_forms[id(form)] = plain(form)
        if found and type(target) is str:
            native.add(id(item))
    write_json(out, {**doc, "coverage": coverage}, indent=2, sort_keys=True, native=native)

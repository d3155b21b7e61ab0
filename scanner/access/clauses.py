"""The clauses an access review is evidence for: ``review-clauses.yaml`` (own words, data) with each clause's
title from the framework catalogs (a clause the catalogs do not have is an error, never a silent gap)."""
from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from scanner.access.review import ReviewClause

DATA = "review-clauses.yaml"
EVIDENCE = ("partial", "procedural")


def review_clauses(catalogs: Mapping[str, Any], text: str | None = None) -> tuple[ReviewClause, ...]:
    """``catalogs``: ``scanner.frameworks.load_catalogs()``; ``text``: the data file's text (default: packaged)."""
    from scanner.yamlload import load_yaml

    if text is None:
        text = resources.files("scanner.access").joinpath(DATA).read_text(encoding="utf-8")
    entries = load_yaml(text)
    if not isinstance(entries, list):
        raise ValueError(f"{DATA}: not a list")
    out = []
    for i, e in enumerate(entries):
        where = f"{DATA}[{i}]"
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) for k in
                                              ("framework", "clause", "evidence", "shows", "procedural")):
            raise ValueError(f"{where}: needs framework, clause, evidence, shows and procedural (text)")
        if e["evidence"] not in EVIDENCE:
            raise ValueError(f"{where}.evidence: not one of {', '.join(EVIDENCE)}")
        catalog = catalogs.get(e["framework"])
        clause = next((c for c in catalog.clauses if c.id == e["clause"]), None) if catalog else None
        if clause is None:
            raise ValueError(f"{where}: clause {e['clause']} is not in framework catalog {e['framework']}")
        out.append(ReviewClause(e["framework"], e["clause"], clause.title, e["evidence"], " ".join(e["shows"].split()),
                                " ".join(e["procedural"].split())))
    return tuple(out)

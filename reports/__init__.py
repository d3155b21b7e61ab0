"""Output formats. One module per format, each with ``render(run, out, **options)``; imported lazily from this table.

Options a format does not know are ignored. The console takes ``colour``, ``verbose``, ``quiet``, ``width`` and
``frameworks`` (see ``reports.console.render``); oq and pdf take ``protocol``, ``protocol_problem``,
``template_dir`` and ``paper`` (see ``reports.oq``). Text from targets is made safe by ``reports.text``
(``for_terminal`` for the console and log lines, ``for_document`` for XML, HTML and SARIF, ``json_text``).
"""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, TextIO

#: format -> (module, file name written in the output directory)
FORMATS = {
    "console": ("reports.console", "report.txt"),
    "json": ("reports.json", "report.json"),
    "junit": ("reports.junit", "report.junit.xml"),
    "sarif": ("reports.sarif", "report.sarif"),
    "gitlab-sast": ("reports.gitlab_sast", "gl-sast-report.json"),
    "oq": ("reports.oq", "oq-evidence.html"),
    "pdf": ("reports.pdf", "oq-evidence.pdf"),
    "csv": ("reports.csv", "findings.csv"),  # issue 13
    "compliance-csv": ("reports.csv:render_compliance", "compliance.csv"),  # issue 13: MODULE:FUNCTION
    "dashboard": ("reports.dashboard", "dashboard.html"),
}


def _renderer(fmt: str) -> tuple[str, str]:
    """The module and the function that render ``fmt`` (``MODULE`` or ``MODULE:FUNCTION`` in ``FORMATS``)."""
    module, _, function = FORMATS[fmt][0].partition(":")
    return module, function or "render"


def render(fmt: str, run: Any, out: TextIO, **options: Any) -> None:
    module, function = _renderer(fmt)
    getattr(importlib.import_module(module), function)(run, out, **options)


def load(formats: Iterable[str]) -> None:
    """Import the modules of ``formats`` (known ones) now rather than when first rendered."""
    for fmt in formats:
        if fmt in FORMATS:
            importlib.import_module(_renderer(fmt)[0])

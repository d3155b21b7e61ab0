"""OQ evidence record: a self-contained, printable HTML document a validation team can hand an inspector.

Per executed test (check x target x resource): test id, the clauses it traces to, the acceptance criterion
fixed before execution, the observed values, the outcome, the objective evidence (source, UTC time, SHA-256),
who executed it and when, with which tool version and check-code fingerprint, where the finding is (file and
lines) and how to remedy a failure. Run warnings (plaintext transports, expired waivers) are listed at the top.
Failures and errors are listed as deviations with an empty disposition; reviewer and approval fields are left
for wet or e-signature.

The page is also well-formed XML (void elements closed, numeric character references only), so any XML parser
can check it. Every value goes through ``reports.text.for_document`` before HTML escaping: controls, bidi
overrides and undecodable bytes from a target appear as visible escapes (``\x1b``, ``\u202e``, ``\xff``).
"""
from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any, TextIO

from reports.text import for_document
from scanner.model import Location, Result, Run, Status, thaw

_CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #999;padding:4px 6px;
vertical-align:top;text-align:left}th{background:#eee}code,pre{font:12px ui-monospace,monospace;white-space:pre-wrap;
word-break:break-all}.pass{color:#060}.fail{color:#a00;font-weight:bold}.error{color:#80a;font-weight:bold}
.sign td{height:2.5em}@media print{a{color:inherit}}
"""


_DASH = "&#8212;"


def _e(value: Any) -> str:
    return html.escape(for_document(value), quote=True)


def _where(loc: Location | None) -> str:
    if loc is None:
        return ""
    if loc.start_line is None:
        return f"<br/><small>location: <code>{_e(loc.path)}</code></small>"
    lines = f"line {loc.start_line}" if loc.end_line in (None, loc.start_line) else \
        f"lines {loc.start_line}-{loc.end_line}"
    return f"<br/><small>location: <code>{_e(loc.path)}</code>, {lines}</small>"


def _observed(r: Result) -> str:
    return _e(json.dumps(thaw(r.observed), sort_keys=True, default=str, ensure_ascii=False)) if r.observed else _DASH


def _label(ref: str, ev: Mapping[str, Any]) -> str:
    """A reader's name for an evidence item: target, fact and index (the id is opaque)."""
    if ev.get("target") is None or ev.get("fact") is None:
        return ref
    return f"{ev['target']} / {ev['fact']} #{ev.get('index', 0)} ({ref})"


def _evidence(refs: tuple[str, ...], evidence: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for ref in refs:
        ev = evidence.get(ref, {})
        rows.append(f"<a href='#ev-{_e(ref)}'>{_e(_label(ref, ev))}</a><br/>"
                    f"<small>sha256 {_e((ev.get('sha256') or '')[:16])}&#8230; "
                    f"at {_e(ev.get('collected_at', ''))}</small>")
    return "<br/>".join(rows) or _DASH


def render(run: Run, out: TextIO, **_: Any) -> None:
    info = run.info
    counts = run.counts()
    w = out.write
    w(f"<!DOCTYPE html><html><head><meta charset='utf-8'/><title>OQ evidence {_e(info.id)}</title>"
      f"<style>{_CSS}</style></head><body>")
    w(f"<h1>Operational qualification: execution record</h1>"
      f"<table><tr><th>Run id</th><td>{_e(info.id)}</td><th>Executed by</th><td>{_e(info.operator)}</td></tr>"
      f"<tr><th>Started (UTC)</th><td>{_e(info.started.isoformat())}</td><th>Ended (UTC)</th>"
      f"<td>{_e(info.ended.isoformat() if info.ended else 'not ended')}{' (INTERRUPTED)' if info.interrupted else ''}"
      f"</td></tr><tr><th>Test tool</th><td>gxpscan {_e(info.tool_version)} (Python {_e(info.python)})</td>"
      f"<th>Check code fingerprint</th><td><code>{_e(info.checks_fingerprint)}</code></td></tr>"
      f"<tr><th>Inventory</th><td>{_e(info.inventory)}</td><th>Inventory SHA-256</th>"
      f"<td><code>{_e(info.inventory_sha256)}</code></td></tr>"
      + (f"<tr><th>Profile</th><td>{_e(info.profile)}</td><th>Profile SHA-256</th>"
         f"<td><code>{_e(info.profile_sha256)}</code></td></tr>" if info.profile else "")
      + f"<tr><th>Outcome</th><td colspan='3'>{', '.join(f'{k}: {v}' for k, v in counts.items())}</td></tr></table>")
    if info.warnings:
        w(f"<h2>Warnings ({len(info.warnings)})</h2><ul class='warnings'>"
          + "".join(f"<li>{_e(warning)}</li>" for warning in info.warnings) + "</ul>")

    w("<h2>Executed tests</h2><table><tr><th>#</th><th>Test id / target / resource</th><th>Traces to</th>"
      "<th>Acceptance criterion</th><th>Observed</th><th>Result</th><th>Objective evidence</th>"
      "<th>Executed (UTC)</th></tr>")
    for i, r in enumerate(run.results, 1):
        waiver = (f"<br/><small>waiver: {_e(r.waiver.reason)}, approved by {_e(r.waiver.approved_by)} until "
                  f"{_e(r.waiver.expires)}</small>") if r.waiver else ""
        w(f"<tr><td>{i}</td><td><b>{_e(r.check)}</b><br/>{_e(r.target)}<br/><small>{_e(r.resource)}</small>"
          f"{_where(r.location)}</td>"
          f"<td>{'<br/>'.join(_e(c) for c in r.clauses) or _DASH}</td><td>{_e(r.criterion)}</td>"
          f"<td><code>{_observed(r)}</code><br/>{_e(r.message)}</td>"
          f"<td class='{_e(r.status.value)}'>{_e(r.status.value.upper())}{waiver}</td>"
          f"<td>{_evidence(r.evidence, run.evidence)}</td><td>{_e(r.at.isoformat())}</td></tr>")
    w("</table>")

    deviations = [r for r in run.results if r.status in (Status.FAIL, Status.ERROR)]
    w(f"<h2>Deviations ({len(deviations)})</h2><table><tr><th>Test id / target / resource</th><th>Result</th>"
      "<th>Description</th><th>Remediation</th><th>Disposition</th></tr>")
    for r in deviations:
        w(f"<tr><td>{_e(r.check)} / {_e(r.target)} / {_e(r.resource)}{_where(r.location)}</td>"
          f"<td class='{r.status.value}'>{r.status.value.upper()}</td><td>{_e(r.message)}</td>"
          f"<td>{_e(r.remediation) or _DASH}</td><td></td></tr>")
    w("</table>")

    w("<h2>Objective evidence</h2>")
    for ref, ev in sorted(run.evidence.items()):
        w(f"<h3 id='ev-{_e(ref)}'>{_e(_label(ref, ev))}</h3><p>source: <code>{_e(ev.get('source') or '')}</code><br/>"
          f"collected (UTC): {_e(ev.get('collected_at', ''))}; exit code: {_e(ev.get('exit_code'))}; "
          f"SHA-256 of the full output: <code>{_e(ev.get('sha256') or '')}</code>"
          f"{'; output truncated in this record' if ev.get('truncated') else ''}"
          f"{'; collection failed: ' + _e(ev.get('error')) if ev.get('error') else ''}</p>"
          f"<pre>{_e(ev.get('raw', ''))}</pre>")

    w("<h2>Review and approval</h2><table class='sign'><tr><th>Role</th><th>Name</th><th>Signature</th>"
      "<th>Date</th></tr><tr><td>Executed by</td><td>" + _e(info.operator) + "</td><td></td><td></td></tr>"
      "<tr><td>Reviewed by</td><td></td><td></td><td></td></tr>"
      "<tr><td>Approved by (QA)</td><td></td><td></td><td></td></tr></table></body></html>\n")

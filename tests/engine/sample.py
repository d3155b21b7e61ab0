"""Checks used by the engine tests: fake facts of a fake platform, resolved through a fake collector."""
from __future__ import annotations

from scanner import check, failed, passed
from scanner.collectors import FactSpec

FACTS = {
    "linux.widgets": FactSpec("linux.widgets", "test fact: a list of widget names"),
    "linux.limits": FactSpec("linux.limits", "test fact: a mapping of limits"),
    "linux.secret_fact": FactSpec("linux.secret_fact", "test fact needing root", needs_root=True),
}


@check(id="linux.test.widgets", title="Widgets are few", severity="high", area="access_control",
       criterion="At most max_widgets widgets exist.")
def widgets_few(widgets, max_widgets=2):
    if len(widgets) > max_widgets:
        return failed("widgets", f"{len(widgets)} widgets, more than {max_widgets}", count=len(widgets))
    return passed("widgets", f"{len(widgets)} widgets", count=len(widgets))


@check(id="linux.test.each", title="Every widget is blue", severity="low", area="encryption",
       criterion="Every widget name starts with 'blue'.")
def each_blue(widgets):
    return [(passed if w.startswith("blue") else failed)(w, f"widget {w}", name=w) for w in widgets]


@check(id="linux.test.raises", title="A broken check", severity="medium", area="backup",
       criterion="Never passes: it raises.")
def raises(limits):
    return passed("x", "unreachable") if limits["missing-key"] else passed("x", "no")


@check(id="linux.test.root", title="Needs root", severity="critical", area="audit_logging",
       criterion="The root-only fact is true.")
def needs_root(secret_fact, target):
    return passed(target.name, "root fact seen", value=secret_fact)

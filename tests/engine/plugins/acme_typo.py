"""A third-party plugin asking for a fact no collector provides: refused at load, whatever platforms are in use."""
from __future__ import annotations

from scanner import check, passed
from scanner.model import Finding


@check(id="linux.acme.typo", title="A typo", severity="low", area="access_control", criterion="Never loads.")
def typo(login_deffs: object) -> Finding:
    return passed("host", "unreachable")

"""A third-party plugin reusing a built-in AWS check id: refused at load when AWS checks are loaded."""
from __future__ import annotations

from scanner import check, passed
from scanner.model import Finding


@check(id="aws.s3.versioning", title="Again", severity="low", area="backup", criterion="A duplicate.")
def versioning_again(s3_buckets: object) -> Finding:
    return passed("account", "unreachable")
